"""`facility dashboards publish` against a small local HTTP server that checks Grafana's documented API.

Grafana HTTP API (legacy /api routes, served by Grafana 8–12): POST /api/dashboards/db takes
{dashboard, folderUid | folderId, overwrite, message} and answers {id, uid, url, status, version, slug};
POST /api/datasources creates a data source, PUT /api/datasources/uid/:uid updates it;
GET /api/folders/:uid, POST /api/folders {uid, title}. Bearer tokens go in the Authorization header.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from dashboards.cli import register
from dashboards.generate import rendered
from dashboards.panels import DATASOURCE_UID
from facility.cli import UserError

TOKEN = "glsa_test_token"


def main(argv: list[str]) -> int:
    """`facility <argv>` with only the dashboards commands (as facility.cli.main runs them)."""
    parser = argparse.ArgumentParser(prog="facility")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"facility: {exc}", file=sys.stderr)
        return 2


class FakeGrafana:
    """Records requests; keeps data sources, folders and dashboards like Grafana does; refuses bad bodies."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, Any]] = []
        self.datasources: dict[str, dict[str, Any]] = {}
        self.folders: dict[str, dict[str, Any]] = {}
        self.dashboards: dict[str, dict[str, Any]] = {}
        self.problems: list[str] = []

    def handle(self, method: str, path: str, auth: str | None, body: Any) -> tuple[int, Any]:
        self.requests.append((method, path, body))
        if auth != f"Bearer {TOKEN}":
            return 401, {"message": "Unauthorized"}
        if (method, path) == ("GET", "/api/health"):
            return 200, {"database": "ok", "version": "11.2.0"}
        if method == "GET" and path.startswith("/api/datasources/uid/"):
            ds = self.datasources.get(path.rsplit("/", 1)[1])
            return (200, ds) if ds else (404, {"message": "Data source not found"})
        if (method, path) == ("POST", "/api/datasources"):
            return self._datasource(body, create=True)
        if method == "PUT" and path.startswith("/api/datasources/uid/"):
            return self._datasource(body, create=False)
        if method == "GET" and path.startswith("/api/folders/"):
            f = self.folders.get(path.rsplit("/", 1)[1])
            return (200, f) if f else (404, {"message": "folder not found"})
        if (method, path) == ("POST", "/api/folders"):
            if not isinstance(body.get("title"), str) or body.get("uid") in self.folders:
                return 409 if body.get("uid") in self.folders else 400, {"message": "bad folder"}
            self.folders[body["uid"]] = {"id": len(self.folders) + 1, **body}
            return 200, self.folders[body["uid"]]
        if (method, path) == ("POST", "/api/dashboards/db"):
            return self._dashboard(body)
        return 404, {"message": "Not found"}

    def _datasource(self, body: dict[str, Any], create: bool) -> tuple[int, Any]:
        missing = [k for k in ("name", "type", "access", "url") if not body.get(k)]
        if missing or body["type"] != "influxdb":
            self.problems.append(f"data source body lacks {missing} or has the wrong type")
            return 400, {"message": "bad data source"}
        if create and body["uid"] in self.datasources:
            return 409, {"message": "data source with the same uid already exists"}
        self.datasources[body["uid"]] = body
        return 200, {"id": 1, "message": "Datasource added" if create else "Datasource updated"}

    def _dashboard(self, body: dict[str, Any]) -> tuple[int, Any]:
        unknown = set(body) - {"dashboard", "folderUid", "folderId", "overwrite", "message"}
        d = body.get("dashboard")
        if (
            unknown
            or not isinstance(d, dict)
            or not d.get("title")
            or not isinstance(body.get("overwrite"), bool)
        ):
            self.problems.append(f"bad dashboard body: unknown keys {unknown}")
            return 400, {"message": "bad request"}
        if body.get("folderUid") not in self.folders:
            self.problems.append(f"dashboard saved to a missing folder {body.get('folderUid')!r}")
            return 400, {"message": "folder not found"}
        if d.get("id") is not None:
            self.problems.append("dashboard id must be null when saving by uid")
        if d["uid"] in self.dashboards and not body["overwrite"]:
            return 412, {"status": "name-exists", "message": "A dashboard with the same name already exists"}
        version = self.dashboards.get(d["uid"], {}).get("version", 0) + 1
        self.dashboards[d["uid"]] = {"model": d, "folderUid": body["folderUid"], "version": version}
        slug = d["title"].lower().replace(" ", "-")
        return 200, {
            "id": 1,
            "uid": d["uid"],
            "url": f"/d/{d['uid']}/{slug}",
            "status": "success",
            "version": version,
        }


@pytest.fixture
def grafana() -> Iterator[tuple[FakeGrafana, str]]:
    fake = FakeGrafana()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            status, answer = fake.handle(self.command, self.path, self.headers.get("Authorization"), body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = _serve

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_publish_creates_then_updates(grafana, capsys, monkeypatch) -> None:
    fake, url = grafana
    monkeypatch.setenv("FACILITY_INFLUX_URL", "http://influx.internal:8086")
    monkeypatch.setenv("FACILITY_INFLUX_DB", "facility")
    args = ["dashboards", "publish", "--url", url, "--token", TOKEN]
    assert main(args) == 0
    assert fake.problems == []
    expected = {json.loads(t)["uid"] for t in rendered().values()}
    assert set(fake.dashboards) == expected
    assert all(d["folderUid"] == "facility" and d["version"] == 1 for d in fake.dashboards.values())
    ds = fake.datasources[DATASOURCE_UID]
    assert (ds["url"], ds["jsonData"]["dbName"], ds["type"]) == (
        "http://influx.internal:8086",
        "facility",
        "influxdb",
    )
    first = [(m, p) for m, p, _ in fake.requests]
    assert first[:5] == [
        ("GET", "/api/health"),
        ("GET", f"/api/datasources/uid/{DATASOURCE_UID}"),
        ("POST", "/api/datasources"),
        ("GET", "/api/folders/facility"),
        ("POST", "/api/folders"),
    ]
    assert first[5:] == [("POST", "/api/dashboards/db")] * len(expected)
    out = capsys.readouterr().out
    assert "data source created, folder created" in out and f"{url}/d/facility-overview/" in out

    fake.requests.clear()
    assert main(args) == 0
    again = [(m, p) for m, p, _ in fake.requests]
    assert ("PUT", f"/api/datasources/uid/{DATASOURCE_UID}") in again
    assert ("POST", "/api/folders") not in again and ("POST", "/api/datasources") not in again
    assert all(d["version"] == 2 for d in fake.dashboards.values())
    sent = next(b for m, p, b in fake.requests if p == "/api/dashboards/db")
    assert sent["overwrite"] is True and sent["dashboard"]["id"] is None


def test_no_datasource_leaves_data_sources_alone(grafana) -> None:
    fake, url = grafana
    assert main(["dashboards", "publish", "--url", url, "--token", TOKEN, "--no-datasource"]) == 0
    assert not [p for _, p, _ in fake.requests if "datasources" in p]
    assert len(fake.dashboards) == len(rendered())


def test_wrong_token_is_one_clear_sentence(grafana, capsys) -> None:
    _, url = grafana
    assert main(["dashboards", "publish", "--url", url, "--token", "wrong"]) == 2
    err = capsys.readouterr().err
    assert "Grafana refused the health check (401)" in err and "--token" in err


def test_unreachable_grafana(capsys) -> None:
    assert main(["dashboards", "publish", "--url", "http://127.0.0.1:9", "--token", TOKEN]) == 2
    assert "cannot reach Grafana at http://127.0.0.1:9" in capsys.readouterr().err


def test_generate_check(tmp_path, capsys) -> None:
    assert main(["dashboards", "generate", "--out", str(tmp_path)]) == 0
    assert main(["dashboards", "generate", "--out", str(tmp_path), "--check"]) == 0
    (tmp_path / "facility-risk.json").write_text("{}")
    assert main(["dashboards", "generate", "--out", str(tmp_path), "--check"]) == 2
    assert "facility-risk.json" in capsys.readouterr().err
