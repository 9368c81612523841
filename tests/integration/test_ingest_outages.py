"""Crashes and outages on private servers: kill -9 influxd, kill -9 the ingester, restart mosquitto.
After each, every valid message published is in InfluxDB exactly once with its values."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from facility.services.influxd import InfluxServer
from facility.services.mosquitto import MosquittoServer
from facility.services.ports import free_port
from facility.settings import Settings
from ingest.influx import InfluxClient
from ingest.service import Ingester, dead_letter_store
from ingest.testkit import Outgoing, make_messages, publish, stored_points, wait_for_points

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[MosquittoServer]:
    server = MosquittoServer(tmp_path / "mosquitto", free_port(), persistence=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def influxd(tmp_path: Path) -> Iterator[InfluxServer]:
    server = InfluxServer(tmp_path / "influxd", free_port())
    server.start()
    yield server
    server.stop()


def settings_for(tmp: Path, broker: MosquittoServer, influx_url: str, client_id: str) -> Settings:
    return Settings(
        var_dir=tmp / "var",
        mqtt_host=broker.host,
        mqtt_port=broker.port,
        influx_url=influx_url,
        influx_db="facility",
        metrics_port=0,
        stats_interval_s=0.5,
        batch_size=200,
        batch_interval_s=0.1,
        ingest_client_id=client_id,
    )


def wait_until(cond, timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def count_points(client: InfluxClient) -> int:
    try:
        return len(stored_points(client))
    except Exception:
        return -1


def assert_exactly_once(client: InfluxClient, msgs: list[Outgoing]) -> None:
    valid = [m.key for m in msgs if m.key is not None]
    points = wait_for_points(client, len(valid), timeout_s=60)
    assert Counter(points) == Counter(valid)


def assert_dead_letters(settings: Settings, msgs: list[Outgoing]) -> None:
    store = dead_letter_store(settings)
    try:
        assert store.counts() == dict(Counter(m.reason for m in msgs if m.reason))
    finally:
        store.close()


def publisher(broker: MosquittoServer, msgs: list[Outgoing], name: str) -> threading.Thread:
    """Publish in the background, in small chunks so the stream is spread over time. A chunk that fails
    (the broker is restarting) is published again, as a device would: at least once."""

    def run() -> None:
        for i in range(0, len(msgs), 100):
            for _attempt in range(100):
                try:
                    publish(broker.host, broker.port, msgs[i : i + 100], client_id=f"{name}-{i}", timeout_s=5)
                    break
                except (OSError, TimeoutError, RuntimeError):
                    time.sleep(0.2)
            time.sleep(0.05)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_kill9_influxd_mid_stream_spools_and_replays(
    tmp_path: Path, broker: MosquittoServer, influxd: InfluxServer
) -> None:
    settings = settings_for(tmp_path, broker, influxd.url, "t-kill-influx")
    msgs = make_messages(1500, np.random.default_rng(3), malformed_every=20)
    client = InfluxClient(influxd.url, "facility")
    ing = Ingester(settings)
    ing.start()
    try:
        assert wait_until(lambda: ing.mqtt.connected)
        pub = publisher(broker, msgs, "p-influx")
        assert wait_until(lambda: ing.metrics.n_stored >= 300)
        influxd.kill9()
        assert wait_until(lambda: ing.spool.depth > 0), "nothing was spooled while InfluxDB was down"
        pub.join(60)
        assert wait_until(lambda: ing.metrics.n_acked >= len(msgs))  # spooled messages are acknowledged
        influxd.start()
        assert wait_until(lambda: ing.spool.depth == 0, 60), "the spool was not replayed"
        assert_exactly_once(client, msgs)
    finally:
        ing.stop()
        client.close()
    assert_dead_letters(settings, msgs)


def start_worker(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "FACILITY_VAR_DIR": str(settings.var_dir),
        "FACILITY_MQTT_HOST": settings.mqtt_host,
        "FACILITY_MQTT_PORT": str(settings.mqtt_port),
        "FACILITY_INFLUX_URL": settings.influx_url,
        "FACILITY_INFLUX_DB": settings.influx_db,
        "FACILITY_METRICS_PORT": "0",
        "FACILITY_BATCH_SIZE": "100",
        "FACILITY_BATCH_INTERVAL_S": "0.1",
        "FACILITY_INGEST_CLIENT_ID": settings.ingest_client_id,
    }
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "ingest"], cwd=REPO, env=env, stdout=out, stderr=out)
    assert wait_until(lambda: b"connected" in log.read_bytes(), 30), log.read_text()
    return proc


def test_kill9_ingester_and_restart_loses_nothing(
    tmp_path: Path, broker: MosquittoServer, influxd: InfluxServer
) -> None:
    settings = settings_for(tmp_path, broker, influxd.url, "t-kill-ingest")
    msgs = make_messages(1500, np.random.default_rng(4), malformed_every=20)
    client = InfluxClient(influxd.url, "facility")
    log = tmp_path / "worker.log"
    proc = start_worker(settings, log)
    try:
        pub = publisher(broker, msgs, "p-kill")
        assert wait_until(lambda: count_points(client) >= 300)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert count_points(client) < len([m for m in msgs if m.key]), "killed too late to test anything"
        pub.join(60)
        proc = start_worker(settings, log)
        assert_exactly_once(client, msgs)
        assert wait_until(lambda: _dead_total(settings) == 75)
    finally:
        proc.terminate()
        proc.wait(30)
        client.close()
    assert_dead_letters(settings, msgs)


def _dead_total(settings: Settings) -> int:
    store = dead_letter_store(settings)
    try:
        return sum(store.counts().values())
    finally:
        store.close()


def test_restart_mosquitto_keeps_the_backlog_of_the_persistent_session(
    tmp_path: Path, broker: MosquittoServer, influxd: InfluxServer
) -> None:
    settings = settings_for(tmp_path, broker, influxd.url, "t-restart-broker")
    t0 = int(time.time() * 1000) - 3_600_000
    first, second = (
        make_messages(600, np.random.default_rng(s), malformed_every=20, start_ms=t0 + s * 100_000)
        for s in (0, 1)
    )
    client = InfluxClient(influxd.url, "facility")
    ing = Ingester(settings)
    ing.start()
    assert wait_until(lambda: ing.mqtt.connected)
    ing.stop()  # the session (and its subscription) stays on the broker
    publish(broker.host, broker.port, first, client_id="p-before")  # queued for the offline session
    broker.restart()  # the backlog must survive in mosquitto's persistence file
    ing = Ingester(settings)
    ing.start()
    try:
        assert wait_until(lambda: ing.mqtt.connected)
        pub = publisher(broker, second, "p-after")
        assert wait_until(lambda: ing.metrics.n_acked >= 200)
        broker.restart()  # and again while messages flow: the ingester reconnects on its own
        pub.join(60)
        if pub.is_alive():
            pytest.fail("publisher did not finish")
        assert_exactly_once(client, first + second)
    finally:
        ing.stop()
        client.close()


def test_full_spool_stops_acknowledging_and_the_broker_keeps_the_rest(
    tmp_path: Path, broker: MosquittoServer, influxd: InfluxServer
) -> None:
    settings = settings_for(tmp_path, broker, influxd.url, "t-spool-full").model_copy(
        update={"spool_max_rows": 150, "batch_size": 50}
    )
    msgs = make_messages(600, np.random.default_rng(8))
    client = InfluxClient(influxd.url, "facility")
    ing = Ingester(settings)
    ing.start()
    try:
        assert wait_until(lambda: ing.mqtt.connected)
        influxd.kill9()
        publish(broker.host, broker.port, msgs, client_id="p-full")
        assert wait_until(lambda: ing.spool.depth >= 100)
        time.sleep(1.0)  # give it every chance to (wrongly) acknowledge more
        assert ing.spool.depth <= 150
        assert ing.metrics.n_acked <= 150 < len(msgs)  # the rest stays with the broker, unacknowledged
        influxd.start()
        assert_exactly_once(client, msgs)
        assert wait_until(lambda: ing.spool.depth == 0 and ing.metrics.n_acked >= len(msgs))
    finally:
        ing.stop()
        client.close()


def test_influxd_restarted_without_the_database_is_not_dead_lettering(
    tmp_path: Path, broker: MosquittoServer, influxd: InfluxServer
) -> None:
    settings = settings_for(tmp_path, broker, influxd.url, "t-nodb")
    msgs = make_messages(300, np.random.default_rng(9))
    client = InfluxClient(influxd.url, "facility")
    ing = Ingester(settings)
    ing.start()
    try:
        assert wait_until(lambda: ing.mqtt.connected)
        client._request("POST", "/query", data={"q": 'DROP DATABASE "facility"'})
        publish(broker.host, broker.port, msgs, client_id="p-nodb")
        assert_exactly_once(client, msgs)
        assert ing.metrics.n_dead == {}
    finally:
        ing.stop()
        client.close()
