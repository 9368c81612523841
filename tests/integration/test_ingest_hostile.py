"""A hostile device against the real broker, ingester, InfluxDB and store: every QoS 1 message the broker
accepts is stored or dead-lettered — wrong-depth topics, sequence numbers out of the contract's range, huge
payloads, a flood of garbage (counted, not stored, beyond the per-device rate) — and strings round-trip
exactly. Also InfluxDB's refusals read in one request, against the real server."""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from facility.contract import MAX_SEQ, AssetKind, AssetRef, Channel, EventType, encode_event, encode_reading
from facility.mqtt import EdgeMessage
from facility.services.mosquitto import MosquittoServer
from facility.settings import Settings
from ingest.influx import InfluxClient
from ingest.pipeline import prepare
from ingest.refusals import Refusals, write_checked
from ingest.service import Ingester, dead_letter_store
from ingest.testkit import Outgoing, make_messages, publish, stored_points
from tests.ingest_support import ingest_settings, own_broker_fixture  # noqa: F401
from tests.support import wait_until

pytestmark = pytest.mark.integration
DEV = AssetRef("E9", "B1", AssetKind.ELEVATOR, "hostile-1")
FLOODER = AssetRef("E9", "B1", AssetKind.SMART_BIN, "flooder-1")
GOOD = {"motor_current_a": 12.5, "vibration_mm_s": 1.25}


def hostile(now: int) -> tuple[list[Outgoing], Counter[str], str]:
    """(messages, dead letters expected per reason, the event detail that must round-trip)."""
    prefix = DEV.topic(Channel.TELEMETRY).rsplit("/", 1)[0]
    reading = encode_reading(GOOD, now, 1)
    detail = 'line one\nline two \\n "quoted" \t tab, comma=equals'
    bad: list[tuple[str, bytes, str]] = [
        (f"{prefix}/telemetry/extra", reading, "bad_topic"),
        (f"{prefix}/telemetry/", reading, "bad_topic"),
        (prefix, reading, "bad_topic"),
        (f"{prefix}/event/a/b/c", reading, "bad_topic"),
        (f"{prefix}/telemetry", encode_reading(GOOD, now + 1, 2**63), "out_of_range"),
        (f"{prefix}/telemetry", encode_reading(GOOD, now + 2, MAX_SEQ + 1), "out_of_range"),
        (f"{prefix}/telemetry", b'{"ts": %d, "seq": 1%s, "values": {}}' % (now, b"0" * 30), "bad_field"),
        (f"{prefix}/event", encode_event(EventType.FAULT, "door_fault", now + 3, 2**40), "out_of_range"),
        (f"{prefix}/telemetry", b'{"pad": "%s"}' % (b"x" * 200_000), "too_large"),
    ]
    msgs = [Outgoing(t, p, None, r) for t, p, r in bad]
    msgs.append(
        Outgoing(DEV.topic(Channel.EVENT), encode_event(EventType.FAULT, "entrapment", now, 7, detail), ())
    )
    msgs.append(Outgoing(DEV.topic(Channel.TELEMETRY), encode_reading(GOOD, now, MAX_SEQ), ()))
    # the retain guard's deletes (zero-length): acknowledged, neither stored nor dead letters
    msgs += [Outgoing(DEV.topic(Channel.TELEMETRY), b"", None), Outgoing(DEV.topic(Channel.EVENT), b"", None)]
    flood = DEV.topic(Channel.TELEMETRY).replace(DEV.asset, FLOODER.asset).replace("elevator", "smart_bin")
    msgs += [Outgoing(flood, b"{garbage %d" % i, None, "bad_json") for i in range(120)]
    return msgs, Counter(m.reason for m in msgs if m.reason), detail


def test_every_message_a_hostile_device_gets_accepted_is_stored_or_dead_lettered(
    tmp_path: Path, own_broker: MosquittoServer, influx: InfluxClient
) -> None:
    settings = ingest_settings(
        tmp_path,
        own_broker,
        influx,
        stats_interval_s=0.2,
        ingest_client_id="t-hostile",
        dead_letter_device_burst=20,
        dead_letter_device_rate_per_min=1,
    )
    now = int(time.time() * 1000)
    valid = make_messages(40, np.random.default_rng(3), devices=[DEV, FLOODER])
    msgs, expected, detail = hostile(now)
    msgs = valid + msgs
    ing = Ingester(settings)
    ing.start()
    try:
        assert wait_until(lambda: ing.mqtt.connected)
        publish(own_broker.host, own_broker.port, msgs, client_id="hostile-pub")
        assert wait_until(lambda: ing.metrics.n_acked == len(msgs))
        assert wait_until(lambda: ing.metrics.flooding._value.get() == 1)
        gaps = ing.metrics.gaps._value.get()
        assert (ing.metrics.n_cleared, ing.snapshot()["retained_deletes"]) == (2, 2)
    finally:
        ing.stop()
    assert len(stored_points(influx)) == 40 + 2  # the valid readings, the event and the reading at MAX_SEQ
    events = influx.records('SELECT "detail" FROM "events"')
    assert [e["detail"] for e in events] == [detail]
    assert gaps < MAX_SEQ  # no poisoned counter
    store = dead_letter_store(settings)
    try:
        assert store.counts() == dict(expected)
        assert store.suppressed_counts() == {"bad_json": 100}
        assert [(f["device"], f["suppressed"]) for f in store.floods()] == [
            (FLOODER.topic(Channel.TELEMETRY).rsplit("/", 1)[0], 100)
        ]
        kept = store.list(limit=1000)
        assert len(kept) == sum(expected.values()) - 100
        big = next(d for d in kept if d.reason == "too_large")
        payload = next(m.payload for m in msgs if m.reason == "too_large")
        assert (len(big.payload), big.size, big.sha256) == (
            4096,
            len(payload),
            hashlib.sha256(payload).digest(),
        )
        assert sorted(d.topic for d in kept if d.reason == "bad_topic") == sorted(
            m.topic for m in msgs if m.reason == "bad_topic"
        )
    finally:
        store.close()


class Counting:
    def __init__(self, client: InfluxClient) -> None:
        self.client, self.requests = client, 0

    def write(self, lines: list[str], precision: str = "ms") -> None:
        self.requests += 1
        self.client.write(lines, precision)


def test_refused_lines_are_found_from_the_real_servers_answer(influx: InfluxClient) -> None:
    influx.write(["m,a=1 x=1.5 1000"])  # x is a float from now on
    lines = [f"m,a=1 x={i}i {2000 + i}" if i % 3 == 0 else f"m,a=1 x={i}.5 {2000 + i}" for i in range(300)]
    lines += [f"m,a=2 x=1.5,seq=99999999999999999999i {i}" for i in range(3)]
    counting = Counting(influx)
    rejected = write_checked(counting, lines, Refusals())
    assert [i for i, _ in rejected] == [i for i in range(300) if i % 3 == 0] + [300, 301, 302]
    assert counting.requests == 2  # the conflict, then the rest (the parse errors named at once)
    stored = {r["time"]: r["x"] for r in influx.records('SELECT "x" FROM "m" WHERE "a" = \'1\'')}
    assert stored == {1000: 1.5} | {2000 + i: i + 0.5 for i in range(300) if i % 3}


def test_lines_refused_on_spool_replay_keep_their_original_topic_and_payload(
    tmp_path: Path, influx: InfluxClient
) -> None:
    settings = Settings(
        var_dir=tmp_path,
        influx_url=influx.url,
        influx_db=influx.database,
        metrics_port=0,
        ingest_client_id="t-rp",
    )
    now = int(time.time() * 1000)
    influx.write([f'elevator,estate=x,building=x,asset=x trips="text" {now - 60_000}'])
    ok = EdgeMessage(1, DEV.topic(Channel.TELEMETRY), encode_reading(GOOD, now, 1), now)
    bad = EdgeMessage(2, DEV.topic(Channel.TELEMETRY), encode_reading({**GOOD, "trips": 3}, now + 1, 2), now)
    prep = prepare([ok, bad])
    ing = Ingester(settings)  # its spool and writer only: InfluxDB was down when these were spooled
    try:
        ing.spool.append(prep.lines, [((ok, bad)[o].topic, (ok, bad)[o].payload) for o in prep.owners])
        ing._drain_spool(budget_s=10)
        assert ing.spool.depth == 0
        letters = ing.dead_letters.list()
    finally:
        ing.stop()
    assert [(d.topic, d.payload, d.reason) for d in letters] == [
        (bad.topic, bad.payload, "rejected_by_store")
    ]
    assert "trips" in letters[0].message
    assert [
        r["motor_current_a"] for r in influx.records('SELECT * FROM "elevator" WHERE "asset" = \'hostile-1\'')
    ] == [12.5]
