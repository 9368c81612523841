"""Shared set-up of the ingest integration tests: a module's own broker and an ingester's settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from facility.services.mosquitto import MosquittoServer
from facility.services.ports import free_port
from facility.settings import Settings
from ingest.influx import InfluxClient


@pytest.fixture(scope="module", name="own_broker")
def own_broker_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoServer]:
    """A broker of the module's own: retained messages other tests leave on the shared one stay out."""
    server = MosquittoServer(tmp_path_factory.mktemp("mosquitto-own"), free_port())
    server.start()
    yield server
    server.stop()


def ingest_settings(tmp_path: Path, broker: MosquittoServer, influx: InfluxClient, **kw: Any) -> Settings:
    """An ingester on ``broker`` and ``influx``'s database, state under ``tmp_path``, no /metrics port."""
    base: dict[str, Any] = {
        "var_dir": tmp_path,
        "mqtt_host": broker.host,
        "mqtt_port": broker.port,
        "influx_url": influx.url,
        "influx_db": influx.database,
        "metrics_port": 0,
        "batch_interval_s": 0.05,
    }
    return Settings(**(base | kw))
