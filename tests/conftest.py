"""Shared fixtures: real mosquitto and influxd started on free ports, data in temp dirs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from facility.services.dynsec import DynsecBroker
from facility.services.influxd import InfluxServer
from facility.services.mosquitto import MosquittoServer
from facility.services.ports import free_port
from ingest.influx import InfluxClient

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def influx_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxServer]:
    server = InfluxServer(tmp_path_factory.mktemp("influxd"), free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mosquitto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoServer]:
    """An anonymous-access broker for plain integration tests (the auth tests start their own)."""
    server = MosquittoServer(tmp_path_factory.mktemp("mosquitto"), free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def dynsec_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DynsecBroker]:
    """(B) mosquitto with the dynamic-security plugin, as the stack runs it: anonymous off, the service
    accounts provisioned (``.login("ingest")``, ``.login("app")``, ``.admin``), the retain guard on. The broker is
    shared by the session: add devices (and services of your own) with ``DynsecAccounts.for_broker(...)`` under
    unique names, and give back any shared service password you rotate (``.credentials`` has the originals)."""
    from facility.services.broker import SecureBroker

    broker = SecureBroker(tmp_path_factory.mktemp("dynsec"), free_port())
    broker.start()
    yield broker.info
    broker.stop()


@pytest.fixture
def influx(influx_server: InfluxServer, request: pytest.FixtureRequest) -> Iterator[InfluxClient]:
    """A client on a fresh database named after the test."""
    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name)[:60]
    client = InfluxClient(influx_server.url, name)
    client.create_database()
    yield client
    client._request("POST", "/query", data={"q": f'DROP DATABASE "{name}"'})
    client.close()


# --------------------------------------------------------------- PostgreSQL (maintenance store tests)


def _pg_admin_url() -> str | None:
    """A server on 127.0.0.1:5432 that lets us in (trust auth, user postgres or root), else None."""
    import psycopg

    for user in ("postgres", "root"):
        try:
            with psycopg.connect(f"host=127.0.0.1 port=5432 user={user} dbname=postgres", connect_timeout=2):
                return f"postgresql+psycopg://{user}@127.0.0.1:5432"
        except psycopg.Error:
            continue
    return None


def _pg_cluster(workdir: Path) -> tuple[str, Callable[[], None]]:
    """A throwaway cluster made with initdb/pg_ctl (run as user postgres when we are root)."""
    import glob
    import os
    import shutil
    import subprocess

    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    initdb = shutil.which("initdb") or (f"{bins[-1]}/initdb" if bins else None)
    if initdb is None:
        pytest.fail(
            "PostgreSQL is not reachable on 127.0.0.1:5432 and initdb is missing: apt-get install postgresql"
        )
    pg_ctl = str(Path(initdb).with_name("pg_ctl"))
    data, port = workdir / "pgdata", free_port()
    prefix: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [*prefix, initdb, "-D", str(data), "-A", "trust", "-U", "postgres"], check=True, capture_output=True
    )
    opts = f"-p {port} -k {workdir} -h 127.0.0.1 -F"
    subprocess.run(
        [*prefix, pg_ctl, "-D", str(data), "-o", opts, "-l", str(workdir / "log"), "-w", "start"], check=True
    )

    def stop() -> None:
        subprocess.run(
            [*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], check=False, capture_output=True
        )

    return f"postgresql+psycopg://postgres@127.0.0.1:{port}", stop


def _pg_execute(server_url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(
        server_url.replace("postgresql+psycopg", "postgresql") + "/postgres", autocommit=True
    ) as c:
        c.execute(sql)


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL (without database) of a PostgreSQL server: the local one on 5432, else a throwaway cluster."""
    url = _pg_admin_url()
    if url is not None:
        yield url
        return
    url, stop = _pg_cluster(tmp_path_factory.mktemp("pg"))
    yield url
    stop()


@pytest.fixture(scope="session")
def pg_url(pg_server: str) -> Iterator[str]:
    """A uniquely named throwaway database for this test session, dropped afterwards."""
    import os
    import secrets

    name = f"t_facility_{os.getpid()}_{secrets.token_hex(3)}"
    _pg_execute(pg_server, f'CREATE DATABASE "{name}"')
    yield f"{pg_server}/{name}"
    _pg_execute(pg_server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database per test, on SQLite and on PostgreSQL (a fresh database on ``pg_server``)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    import secrets

    server: str = request.getfixturevalue("pg_server")
    name = f"t_store_{secrets.token_hex(5)}"
    _pg_execute(server, f'CREATE DATABASE "{name}"')
    yield f"{server}/{name}"
    _pg_execute(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """One headless Chromium for the whole session: Playwright's sync API allows one running instance per thread,
    so every test that needs a browser (pages, printed reports) shares this one."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `facility setup --browser` (installs Debian's chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()
