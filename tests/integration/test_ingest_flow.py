"""The ingester in a thread against the real broker and InfluxDB: valid messages stored exactly once,
malformed ones kept as dead letters with the right reason, redelivered messages harmless."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from facility.services.influxd import InfluxServer
from facility.services.mosquitto import MosquittoServer
from facility.settings import Settings
from ingest.deadletters import DeadLetterStore
from ingest.influx import InfluxClient
from ingest.service import Ingester, dead_letter_path
from ingest.testkit import make_messages, publish, stored_points, wait_for_points

pytestmark = pytest.mark.integration


def settings_for(tmp: Path, broker: MosquittoServer, influx: InfluxClient, **kw: object) -> Settings:
    return Settings(
        var_dir=tmp,
        mqtt_host=broker.host,
        mqtt_port=broker.port,
        influx_url=influx.url,
        influx_db=influx.database,
        metrics_port=0,
        stats_interval_s=0.5,
        batch_interval_s=0.2,
        **kw,  # type: ignore[arg-type]
    )


def wait_until(cond, timeout_s: float = 30.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return False


def test_mix_with_5_percent_malformed(
    tmp_path: Path, mosquitto_server: MosquittoServer, influx_server: InfluxServer, influx: InfluxClient
) -> None:
    settings = settings_for(tmp_path, mosquitto_server, influx, ingest_client_id="t-mix")
    msgs = make_messages(2000, np.random.default_rng(1), malformed_every=20, events_every=50)
    ing = Ingester(settings)
    ing.start()
    try:
        assert wait_until(lambda: ing.mqtt.connected)
        publish(mosquitto_server.host, mosquitto_server.port, msgs)
        valid = [m.key for m in msgs if m.key is not None]
        points = wait_for_points(influx, len(valid))
        assert wait_until(lambda: ing.metrics.n_acked == len(msgs))
    finally:
        ing.stop()
    assert Counter(points) == Counter(valid)  # every valid message stored exactly once, values equal
    store = DeadLetterStore(dead_letter_path(settings))
    expected = Counter(m.reason for m in msgs if m.reason)
    assert sum(expected.values()) == 100
    assert store.counts() == dict(expected)
    letters = store.list(reason="bad_json", limit=1000)
    assert {(d.topic, d.payload) for d in letters} == {
        (m.topic, m.payload) for m in msgs if m.reason == "bad_json"
    }
    store.close()


def test_redelivery_overwrites_instead_of_adding(
    tmp_path: Path, mosquitto_server: MosquittoServer, influx: InfluxClient
) -> None:
    settings = settings_for(tmp_path, mosquitto_server, influx, ingest_client_id="t-dup")
    msgs = make_messages(200, np.random.default_rng(2))
    ing = Ingester(settings)
    ing.start()
    try:
        assert wait_until(lambda: ing.mqtt.connected)
        publish(mosquitto_server.host, mosquitto_server.port, msgs + msgs[:50], client_id="dup-pub")
        assert wait_until(lambda: ing.metrics.n_acked == 250)
        assert wait_until(lambda: ing.tracker.totals()["duplicates"] == 50)
    finally:
        ing.stop()
    assert Counter(stored_points(influx)) == Counter(m.key for m in msgs)
