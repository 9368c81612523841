"""Publish the generated dashboards to a running Grafana through its HTTP API (with ``grafana-client``).

The calls follow Grafana's documented HTTP API: ``GET /api/health``; the data source by uid
(``GET /api/datasources/uid/:uid``, then ``PUT`` it or ``POST /api/datasources``); the folder
(``GET /api/folders/:uid``, else ``POST /api/folders`` with ``{uid, title}``); and each dashboard with
``POST /api/dashboards/db`` and ``{dashboard, folderUid, overwrite: true, message}``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import niquests
from grafana_client import GrafanaApi
from grafana_client.client import GrafanaClientError, GrafanaException

from dashboards.panels import DATASOURCE_UID

DATASOURCE_NAME = "Facility InfluxDB"


class PublishError(RuntimeError):
    """Grafana could not be reached or refused a request; the message says what to change."""


@dataclass(frozen=True)
class InfluxSource:
    """The InfluxDB data source as Grafana must reach it (``url`` from Grafana's side, not ours)."""

    url: str
    database: str
    user: str | None = None
    password: str | None = None

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": DATASOURCE_NAME,
            "uid": DATASOURCE_UID,
            "type": "influxdb",
            "access": "proxy",
            "url": self.url,
            "jsonData": {"dbName": self.database, "httpMode": "POST", "timeInterval": "10s"},
        }
        if self.user:
            out["user"] = self.user
            out["secureJsonData"] = {"password": self.password or ""}
        return out


@dataclass(frozen=True)
class PublishResult:
    datasource: str  # "created", "updated" or "skipped"
    folder: str  # "created" or "exists"
    dashboards: tuple[str, ...]  # urls Grafana returned


def connect(url: str, token: str | None, timeout_s: float = 10.0) -> GrafanaApi:
    """A client for ``url`` (user:password may be in the URL; a token wins if given)."""
    return GrafanaApi.from_url(url, credential=token or None, timeout=timeout_s)


def _explain(exc: GrafanaException, what: str, url: str) -> PublishError:
    if exc.status_code == 0:
        return PublishError(f"cannot reach Grafana at {url} ({exc.message}): start it or pass --url")
    if exc.status_code in (401, 403):
        return PublishError(
            f"Grafana refused {what} ({exc.status_code}): pass an Editor/Admin service-account token with "
            "--token (or GRAFANA_TOKEN), or user:password in the URL"
        )
    return PublishError(f"Grafana refused {what} ({exc.status_code}): {exc.response or exc.message}")


def _exists(call: Any, *args: Any) -> bool:
    try:
        call(*args)
    except GrafanaClientError as exc:
        if exc.status_code == 404:
            return False
        raise
    return True


def publish(
    api: GrafanaApi,
    dashboards: Iterable[Mapping[str, Any]],
    *,
    folder_uid: str = "facility",
    folder_title: str = "Facility",
    source: InfluxSource | None = None,
    url: str = "Grafana",
) -> PublishResult:
    """Create or update the data source (unless ``source`` is None), the folder, then every dashboard."""
    step = "the health check"
    try:
        api.client.GET("/health")  # GET /api/health: documented, needs no permission beyond the token
        ds_state = "skipped"
        if source is not None:
            step = "the data source"
            if _exists(api.datasource.get_datasource_by_uid, DATASOURCE_UID):
                api.datasource.update_datasource_by_uid(DATASOURCE_UID, source.body())
                ds_state = "updated"
            else:
                api.datasource.create_datasource(source.body())
                ds_state = "created"
        step = f"the folder {folder_uid!r}"
        folder_state = "exists"
        if not _exists(api.folder.get_folder, folder_uid):
            api.folder.create_folder(folder_title, uid=folder_uid)
            folder_state = "created"
        urls = []
        for model in dashboards:
            step = f"the dashboard {model.get('uid')!r}"
            answer = api.dashboard.update_dashboard(
                {
                    "dashboard": {**model, "id": None},
                    "folderUid": folder_uid,
                    "overwrite": True,
                    "message": "published by `facility dashboards publish`",
                }
            )
            urls.append(str(answer.get("url", model.get("uid"))))
    except GrafanaException as exc:
        raise _explain(exc, step, url) from None
    except niquests.exceptions.RequestException as exc:
        raise PublishError(f"cannot reach Grafana at {url} ({exc}): start it or pass --url") from None
    return PublishResult(ds_state, folder_state, tuple(urls))
