"""The InfluxDB adapter: line protocol over ``/write``, InfluxQL over ``/query`` (the v1 HTTP API).

InfluxDB 1.x serves this API natively; 2.x and 3.x serve it through their v1-compatibility endpoints, where
``token`` is sent as ``Authorization: Token <token>``. Errors come in two kinds, as the store must treat
them differently: :class:`InfluxUnavailable` (retry later: connection refused, timeout, 5xx) and
:class:`InfluxRejected` (bad data: 4xx, e.g. a partial write naming the bad lines).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from facility.settings import Settings


class InfluxError(RuntimeError):
    pass


class InfluxUnavailable(InfluxError):
    """The server cannot take the request now; the same request may succeed later."""


class InfluxRejected(InfluxError):
    """The server refused the data or the query; retrying the same request will not help."""

    def __init__(self, message: str, status: int, body: str) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


@dataclass(frozen=True)
class Series:
    name: str
    tags: Mapping[str, str]
    columns: list[str]
    values: list[list[Any]]

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) | dict(self.tags) for row in self.values]


class InfluxClient:
    def __init__(
        self,
        url: str,
        database: str,
        *,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.database = database
        headers = {"Authorization": f"Token {token}"} if token else {}
        auth = (username, password or "") if username else None
        self._http = httpx.Client(base_url=self.url, headers=headers, auth=auth, timeout=timeout_s)

    @classmethod
    def from_settings(cls, settings: Settings) -> InfluxClient:
        """The client for ``FACILITY_INFLUX_*``: URL, database, and user/password or token."""
        return cls(
            settings.influx_url,
            settings.influx_db,
            username=settings.influx_username,
            password=settings.influx_password,
            token=settings.influx_token,
            timeout_s=settings.influx_timeout_s,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> InfluxClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise InfluxUnavailable(f"InfluxDB at {self.url} is unreachable: {exc}") from exc
        if response.status_code >= 500:
            raise InfluxUnavailable(f"InfluxDB answered {response.status_code}: {response.text[:300]}")
        if response.status_code >= 400:
            raise InfluxRejected(
                f"InfluxDB refused the request ({response.status_code}): {response.text[:500]}",
                response.status_code,
                response.text,
            )
        return response

    def ping(self) -> bool:
        try:
            return self._http.get("/ping").status_code == 204
        except httpx.TransportError:
            return False

    def create_database(self) -> None:
        self._request("POST", "/query", data={"q": f'CREATE DATABASE "{self.database}"'})

    def write(
        self, lines: bytes | str | Iterable[str], precision: str = "ms", retention_policy: str | None = None
    ) -> None:
        """Write line protocol (into ``retention_policy``, else the database's default); a ``204`` means
        InfluxDB has it durably (in its WAL)."""
        if not isinstance(lines, bytes | str):
            lines = "\n".join(lines)
        body = lines.encode() if isinstance(lines, str) else lines
        if not body:
            return
        params = {"db": self.database, "precision": precision}
        if retention_policy is not None:
            params["rp"] = retention_policy
        self._request("POST", "/write", params=params, content=body)

    def query(self, q: str, epoch: str = "ms", params: Mapping[str, Any] | None = None) -> list[Series]:
        """Run InfluxQL; ``params`` are bound server-side (``$name`` in the query), never pasted in."""
        data: dict[str, str] = {"db": self.database, "q": q, "epoch": epoch}
        if params:
            data["params"] = orjson.dumps(dict(params)).decode()
        body = self._request("POST", "/query", data=data).json()
        out: list[Series] = []
        for result in body.get("results", []):
            if "error" in result:
                raise InfluxRejected(f"InfluxQL error: {result['error']} in {q!r}", 400, result["error"])
            for s in result.get("series", []):
                out.append(Series(s.get("name", ""), s.get("tags", {}), s["columns"], s.get("values", [])))
        return out

    def records(self, q: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        return [r for s in self.query(q, params=params) for r in s.records()]
