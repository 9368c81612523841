"""The ingester in a thread against the real broker and InfluxDB: valid messages stored exactly once,
malformed ones kept as dead letters with the right reason, redelivered messages harmless."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from hashlib import sha256
from pathlib import Path

import httpx
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from facility.services.influxd import InfluxServer
from facility.services.mosquitto import MosquittoServer
from facility.services.ports import free_port
from facility.settings import Settings
from ingest.influx import InfluxClient
from ingest.service import Ingester, dead_letter_store
from ingest.testkit import fleet, make_messages, publish, stored_points, wait_for_points
from maintenance.tokens import Role
from tests.support import make_token, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def mosquitto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoServer]:
    """A broker of this module's own: these tests count every message the ingester receives, so retained
    status messages left on the session's shared broker by other tests must not reach them."""
    server = MosquittoServer(tmp_path_factory.mktemp("mosquitto-flow"), free_port())
    server.start()
    yield server
    server.stop()


def settings_for(tmp: Path, broker: MosquittoServer, influx: InfluxClient, **kw: object) -> Settings:
    options: dict[str, object] = {"metrics_port": 0, "stats_interval_s": 0.5, "batch_interval_s": 0.2, **kw}
    return Settings(
        var_dir=tmp,
        mqtt_host=broker.host,
        mqtt_port=broker.port,
        influx_url=influx.url,
        influx_db=influx.database,
        **options,  # type: ignore[arg-type]
    )


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
    store = dead_letter_store(settings)
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


def test_loss_accounting_on_metrics_and_ingest_stats(
    tmp_path: Path, mosquitto_server: MosquittoServer, influx: InfluxClient
) -> None:
    port = free_port()
    settings = settings_for(
        tmp_path, mosquitto_server, influx, ingest_client_id="t-metrics", metrics_port=port
    )
    msgs = make_messages(400, np.random.default_rng(3), devices=fleet(8))
    lost = {17, 18, 100, 201, 333}  # indices never published: 5 sequence numbers missing
    sent = [m for i, m in enumerate(msgs) if i not in lost] + msgs[50:57]  # and 7 redeliveries
    ing = Ingester(settings)
    ing.start()
    try:
        assert wait_until(lambda: ing.mqtt.connected)
        publish(mosquitto_server.host, mosquitto_server.port, sent, client_id="metrics-pub")
        assert wait_until(lambda: ing.metrics.n_acked == len(sent))
        time.sleep(1.2)  # two stats intervals
        text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    finally:
        ing.stop()
    values = {
        s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples if not s.labels
    }
    assert values["ingest_messages_received_total"] == len(sent)
    assert values["ingest_seq_duplicates"] == 7
    assert values["ingest_seq_gaps"] + values["ingest_seq_pending"] == len(lost)
    assert values["ingest_spool_depth"] == 0
    rows = influx.records(
        "SELECT last(received) AS received, last(gaps) AS gaps, last(pending_gaps) AS pending,"
        " last(duplicates) AS dups FROM ingest_stats WHERE worker = 't-metrics' GROUP BY asset"
    )
    per_device = [r for r in rows if r.get("asset")]
    assert len(per_device) == 8
    assert sum(r["gaps"] + r["pending"] for r in per_device) == len(lost)
    assert sum(r["dups"] for r in per_device) == 7
    assert sum(r["received"] for r in per_device) == len(sent)


def test_api_lists_dead_letters_and_stats(
    tmp_path: Path, mosquitto_server: MosquittoServer, influx: InfluxClient
) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.context import AppContext

    settings = settings_for(tmp_path, mosquitto_server, influx, ingest_client_id="t-api")
    msgs = make_messages(160, np.random.default_rng(9), malformed_every=10)
    ing = Ingester(settings)
    ing.start()
    try:
        assert wait_until(lambda: ing.mqtt.connected)
        publish(mosquitto_server.host, mosquitto_server.port, msgs, client_id="api-pub")
        assert wait_until(lambda: ing.metrics.n_acked == len(msgs))
        time.sleep(0.8)  # one stats interval
    finally:
        ing.stop()
    stopped_ms = int(time.time() * 1000)
    ctx = AppContext(settings, InfluxClient(influx.url, influx.database))
    with TestClient(create_app(ctx=ctx)) as client:
        client.headers["Authorization"] = f"Bearer {make_token(settings, Role.ENGINEER)}"
        bad = client.get("/api/v1/dead-letters", params={"reason": "bad_json"}).json()
        assert sorted(d["payload"] for d in bad) == sorted(
            m.payload.decode() for m in msgs if m.reason == "bad_json"
        )
        assert all(d["topic"].startswith("facility/") for d in bad)
        assert len(client.get("/api/v1/dead-letters", params={"limit": 3}).json()) == 3
        assert client.get("/api/v1/dead-letters", params={"limit": 0}).status_code == 422
        stats = client.get("/api/v1/ingest/stats").json()
        assert stats["dead_letters_by_reason"] == dict(Counter(m.reason for m in msgs if m.reason))
        (worker,) = [w for w in stats["workers"] if w["worker"] == "t-api"]
        assert worker["received"] == len(msgs)
        # the time of the figure: when the worker wrote it (not the start of the query's hour)
        assert stopped_ms - 5_000 <= worker["time"] <= stopped_ms
        letter = bad[0]
        assert (letter["source"], letter["deliveries"], letter["payload_truncated"]) == ("ingest", 1, False)
        payload = letter["payload"].encode()
        assert (letter["payload_bytes"], letter["payload_sha256"]) == (
            len(payload),
            sha256(payload).hexdigest(),
        )
    ctx.close()


def test_two_workers_share_the_stream_without_loss_or_doubles(
    tmp_path: Path, mosquitto_server: MosquittoServer, influx: InfluxClient
) -> None:
    settings = settings_for(tmp_path, mosquitto_server, influx, ingest_share_group="t-share")
    msgs = make_messages(1200, np.random.default_rng(12), malformed_every=20)
    workers = [Ingester(settings, client_id=f"t-share-{i}") for i in range(2)]
    for w in workers:
        w.start()
    try:
        assert wait_until(lambda: all(w.mqtt.connected for w in workers))
        assert all(w.mqtt.filters == ("$share/t-share/facility/+/+/+/+/#",) for w in workers)
        publish(mosquitto_server.host, mosquitto_server.port, msgs, client_id="share-pub")
        assert wait_until(lambda: sum(w.metrics.n_acked for w in workers) >= len(msgs))
        time.sleep(0.3)
    finally:
        for w in workers:
            w.stop()
    received = [w.metrics.n_received for w in workers]
    assert sum(received) == len(msgs)  # each message went to exactly one worker
    assert min(received) > 0  # and both did work
    assert Counter(stored_points(influx)) == Counter(m.key for m in msgs if m.key is not None)
    store = dead_letter_store(settings)
    assert store.counts() == dict(Counter(m.reason for m in msgs if m.reason))
    store.close()


def test_lines_influx_refuses_are_split_out_as_dead_letters(
    tmp_path: Path, mosquitto_server: MosquittoServer, influx: InfluxClient
) -> None:
    settings = settings_for(tmp_path, mosquitto_server, influx, ingest_client_id="t-partial")
    devices = fleet(8)  # two of each kind
    msgs = make_messages(160, np.random.default_rng(10), devices=devices)
    # car_temp_c already exists as an integer in that shard: every elevator reading (a float there) is a
    # type conflict, which InfluxDB answers with 400 "partial write" for a batch that mixes kinds
    first_ts = min(m.key[2] for m in msgs if m.key)
    influx.write([f"elevator,estate=X,building=X,asset=x car_temp_c=1i {first_ts}"])
    ing = Ingester(settings)
    ing.start()
    try:
        assert wait_until(lambda: ing.mqtt.connected)
        publish(mosquitto_server.host, mosquitto_server.port, msgs, client_id="partial-pub")
        assert wait_until(lambda: ing.metrics.n_acked == len(msgs))
    finally:
        ing.stop()
    good = [m.key for m in msgs if m.key and m.key[0] != "elevator"]
    bad = [m for m in msgs if m.key and m.key[0] == "elevator"]
    assert len(bad) == 40
    stored = [p for p in stored_points(influx) if p[1] != "x"]
    assert Counter(stored) == Counter(good)
    store = dead_letter_store(settings)
    letters = store.list(reason="rejected_by_store", limit=1000)
    store.close()
    assert sorted((d.topic, d.payload) for d in letters) == sorted((m.topic, m.payload) for m in bad)
    assert all("field type conflict" in d.message for d in letters)


def test_a_batch_that_fails_is_retried_not_acknowledged_unstored(
    tmp_path: Path, mosquitto_server: MosquittoServer, influx: InfluxClient
) -> None:
    settings = settings_for(tmp_path, mosquitto_server, influx, ingest_client_id="t-retry")
    msgs = make_messages(300, np.random.default_rng(13), malformed_every=10)
    ing = Ingester(settings)
    real_add = ing.dead_letters.add_many
    failures: list[int] = []

    def flaky_add(letters):
        if len(failures) < 2:  # our own store failing twice (disk full, locked...)
            failures.append(1)
            raise OSError("simulated dead-letter store failure")
        return real_add(letters)

    ing.dead_letters.add_many = flaky_add  # type: ignore[method-assign]
    ing.start()
    try:
        assert wait_until(lambda: ing.mqtt.connected)
        publish(mosquitto_server.host, mosquitto_server.port, msgs, client_id="retry-pub")
        assert wait_until(lambda: ing.metrics.n_acked == len(msgs))
    finally:
        ing.stop()
    assert len(failures) == 2
    assert Counter(stored_points(influx)) == Counter(m.key for m in msgs if m.key)
    store = dead_letter_store(settings)
    assert store.counts() == dict(Counter(m.reason for m in msgs if m.reason))
    store.close()
