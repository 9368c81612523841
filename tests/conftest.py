"""Shared fixtures: real mosquitto and influxd started on free ports, data in temp dirs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

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


@pytest.fixture
def influx(influx_server: InfluxServer, request: pytest.FixtureRequest) -> Iterator[InfluxClient]:
    """A client on a fresh database named after the test."""
    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name)[:60]
    client = InfluxClient(influx_server.url, name)
    client.create_database()
    yield client
    client._request("POST", "/query", data={"q": f'DROP DATABASE "{name}"'})
    client.close()
