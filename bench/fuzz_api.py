"""Property-based fuzz of the API from its own OpenAPI schema (schemathesis + Hypothesis): no 5xx, ever.

Every operation of /openapi.json gets requests generated from its parameter and body schemas (valid and
invalid: wrong types, out-of-range numbers and dates, odd strings), sent in-process to the real app with an
admin token, a real SQLite store and a real InfluxDB. A response of 500 or more is a failure, except
/api/v1/health's documented 503 (no broker in this set-up).

``make test`` runs a bounded pass (tests/security/test_api_fuzz.py); this script runs a longer one::

    .venv/bin/python bench/fuzz_api.py --seconds 300 --examples 200

and prints one JSON object: operations, requests, failures (method, path, status, a curl to reproduce).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if (
    __name__ == "__main__"
):  # run as a file: bench/ must not shadow the packages (bench/ingest.py), tests/ is used
    sys.path[:] = [str(REPO), *(p for p in sys.path if Path(p or ".").resolve() != REPO / "bench")]

#: operations whose documented answer may be 5xx (and why)
ALLOWED_5XX = {("GET", "/api/v1/health"): "503 when the broker or InfluxDB does not answer"}


@dataclass
class FuzzResult:
    operations: int = 0
    requests: int = 0
    #: generated requests an HTTP client cannot send (e.g. a header value with a line break)
    unsendable: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


def send(client: Any, kwargs: dict[str, Any]) -> int | None:
    """Send schemathesis' request (its ``requests`` keyword arguments) with the app's own test client."""
    body: dict[str, Any] = {}
    if "json" in kwargs:
        body["json"] = kwargs["json"]
    data = kwargs.get("data")
    if isinstance(data, str | bytes):
        body["content"] = data
    elif data is not None:
        body["data"] = data
    if kwargs.get("files"):
        body["files"] = kwargs["files"]
    try:
        r = client.request(
            kwargs["method"],
            kwargs["url"],
            headers=kwargs.get("headers"),
            params=kwargs.get("params"),
            **body,
        )
    except (ValueError, TypeError, UnicodeError) as exc:  # the client refuses to send it
        if "500" in str(exc):
            raise
        return None
    return int(r.status_code)


def _fuzz_operation(
    op: Any, client: Any, headers: dict[str, str], examples: int, result: FuzzResult, seed: int | None
) -> None:
    """``examples`` generated requests to one operation; 5xx answers are recorded in ``result``."""
    import hypothesis
    from hypothesis import HealthCheck, Phase, given
    from hypothesis import settings as hsettings

    key = (op.method.upper(), op.path)

    @hsettings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=seed is None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=op.as_strategy())
    def run(case: Any) -> None:
        status = send(client, case.as_transport_kwargs(headers=headers))
        if status is None:
            result.unsendable += 1
            return
        result.requests += 1
        if status >= 500 and key not in ALLOWED_5XX:
            curl = case.as_curl_command(headers=headers)[:600]
            result.failures.append({"method": key[0], "path": op.path, "status": status, "curl": curl})

    try:
        (run if seed is None else hypothesis.seed(seed)(run))()
    except Exception as exc:  # a generation problem of one operation is reported, not fatal
        result.errors.append(f"{key[0]} {op.path}: {type(exc).__name__}: {str(exc)[:200]}")


def fuzz(
    app: Any, headers: dict[str, str], seconds: float, examples: int, seed: int | None = None
) -> FuzzResult:
    """Fuzz every operation of ``app``'s schema, ``examples`` cases each, until ``seconds`` run out.

    Without ``seed`` the cases are derandomized (the same code gets the same requests: make test); with one,
    each seed explores other cases (the longer runs)."""
    import schemathesis
    from fastapi.testclient import TestClient
    from schemathesis.core.result import Ok

    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    client = TestClient(app, raise_server_exceptions=False)
    result = FuzzResult()
    start = time.monotonic()
    for item in schema.get_all_operations():
        if time.monotonic() - start > seconds:
            break
        if not isinstance(item, Ok):
            result.errors.append(f"the schema has an operation schemathesis cannot read: {item.err()}")
            continue
        result.operations += 1
        _fuzz_operation(item.ok(), client, headers, examples, result, seed)
    result.seconds = round(time.monotonic() - start, 1)
    return result


@contextmanager
def fuzz_site(influx_url: str, database: str, workdir: Path) -> Iterator[tuple[Any, dict[str, str]]]:
    """The app over a fresh store (the small test fleet, crews, an admin token) and InfluxDB database."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.context import AppContext
    from facility.settings import Settings
    from ingest.influx import InfluxClient
    from maintenance.db import Database
    from maintenance.tokens import Role, create_token
    from tests.maint_helpers import seed

    influx = InfluxClient(influx_url, database)
    influx.create_database()
    url = f"sqlite:///{workdir / 'fuzz.db'}"
    settings = Settings(
        database_url=url,
        var_dir=workdir,
        manage_services=False,
        influx_url=influx_url,
        influx_db=database,
        mqtt_port=1,
    )
    ctx = AppContext.from_settings(settings)
    db = Database.open(url)
    ctx.extras["db"] = db
    now = dt.datetime.now(dt.UTC)
    with db.transaction() as s:
        seed(s)
        token = create_token(s, "fuzz-admin", Role.ADMIN, now)
    app = create_app(settings, ctx)
    with TestClient(app):  # runs the lifespan
        yield app, {"Authorization": f"Bearer {token}"}
    ctx.close()
    influx.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300.0, help="time budget (default 300)")
    parser.add_argument("--examples", type=int, default=200, help="cases per operation (default 200)")
    parser.add_argument("--seed", type=int, default=None, help="explore other cases (default: derandomized)")
    parser.add_argument("--json", action="store_true", help="(the output is always one JSON object)")
    args = parser.parse_args(argv)

    from facility.services.influxd import InfluxServer
    from facility.services.ports import free_port

    with tempfile.TemporaryDirectory(prefix="fuzz-api-") as tmp:
        server = InfluxServer(Path(tmp) / "influxd", free_port())
        server.start()
        try:
            with fuzz_site(server.url, "fuzz", Path(tmp)) as (app, headers):
                result = fuzz(app, headers, args.seconds, args.examples, args.seed)
        finally:
            server.stop()
    print(json.dumps(result.__dict__, ensure_ascii=False, indent=1))
    return 1 if result.failures else 0


if __name__ == "__main__":
    sys.exit(main())
