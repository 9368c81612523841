"""The malformed-message corpus of the probe (issue 15), generated from a table: at least 135 kinds of bad
MQTT message, each with the dead-letter reason the contract documents, plus tricky messages that must be
stored exactly. Every message goes through the ingester's own pipeline (ingest.pipeline.prepare) and the
lines it makes are written to the real InfluxDB: each message ends as points or as one dead letter, never
both, never neither, and nothing a device sends can add a measurement, a tag or a point of its own making.

(The same path with the broker and the ingester running is tests/integration/test_ingest_hostile.py.)
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

import orjson
import pytest

from facility.contract import MAX_PAYLOAD_BYTES, MAX_SEQ, SCHEMAS, TOPIC_ROOT, AssetKind, FieldSpec
from facility.mqtt import EdgeMessage
from ingest.influx import InfluxClient
from ingest.pipeline import prepare
from ingest.refusals import write_checked

pytestmark = pytest.mark.integration
NOW = int(time.time() * 1000)
STORED = "stored"
#: a zero-length message is how MQTT deletes a retained one: acknowledged and counted, nothing to store or keep
CLEARED = "cleared"
DETAIL = 'line one\nline two \\n "quoted" \t tab, comma=equals; 电梯困人 🚨'


@dataclass(frozen=True)
class Case:
    name: str
    topic: str
    payload: bytes
    expected: str  # a dead-letter reason, STORED or CLEARED


def topic(kind: AssetKind, channel: str = "telemetry", asset: str | None = None) -> str:
    return f"{TOPIC_ROOT}/est-1/b1/{kind.value}/{asset or kind.value + '-1'}/{channel}"


def mid(f: FieldSpec) -> float:
    value = (f.minimum + f.maximum) / 2
    return int(value) if f.integer else value


def valid_values(kind: AssetKind) -> dict[str, float]:
    return {f.name: mid(f) for f in SCHEMAS[kind].fields}


def reading(kind: AssetKind, /, **override: object) -> bytes:
    body: dict[str, object] = {"ts": NOW, "seq": 1, "values": valid_values(kind)}
    body.update(override)
    return orjson.dumps(body)


def values_cases() -> list[Case]:
    """Per kind and field: above its plausible range, below it, not a number, a fraction of a count."""
    out = []
    for kind, schema in SCHEMAS.items():
        t = topic(kind)
        for f in schema.fields:

            def with_value(v: object, f: FieldSpec = f, kind: AssetKind = kind) -> bytes:
                return reading(kind, values={**valid_values(kind), f.name: v})

            out.append(Case(f"{kind.value}.{f.name} above", t, with_value(f.maximum + 1), "out_of_range"))
            out.append(Case(f"{kind.value}.{f.name} below", t, with_value(f.minimum - 1), "out_of_range"))
            out.append(Case(f"{kind.value}.{f.name} text", t, with_value("12.5"), "bad_field"))
            if f.integer:
                out.append(
                    Case(f"{kind.value}.{f.name} fraction", t, with_value(f.minimum + 0.5), "bad_field")
                )
        missing = {k: v for k, v in valid_values(kind).items() if k not in schema.required}
        out.append(Case(f"{kind.value} required missing", t, reading(kind, values=missing), "missing_field"))
        extra = {**valid_values(kind), "not_a_field": 1}
        out.append(Case(f"{kind.value} unknown field", t, reading(kind, values=extra), "unknown_field"))
    return out


EL = AssetKind.ELEVATOR
T = topic(EL)
PREFIX = T.rsplit("/", 1)[0]
GOOD = reading(EL)
TABLE: list[tuple[str, str, bytes, str]] = [
    # topics: depth, root, kind, channel, ids (the ingester subscribes to each device's whole prefix)
    ("extra level", f"{T}/extra", GOOD, "bad_topic"),
    ("trailing slash", f"{T}/", GOOD, "bad_topic"),
    ("bare device prefix", PREFIX, GOOD, "bad_topic"),
    ("event sub-topic", f"{PREFIX}/event/a/b/c", GOOD, "bad_topic"),
    ("two levels short", f"{TOPIC_ROOT}/est-1/b1/elevator", GOOD, "bad_topic"),
    ("other root", T.replace(TOPIC_ROOT, "factory", 1), GOOD, "bad_topic"),
    ("upper-case root", T.replace(TOPIC_ROOT, "Facility", 1), GOOD, "bad_topic"),
    ("$SYS root", "$SYS/est-1/b1/elevator/elevator-1/telemetry", GOOD, "bad_topic"),
    ("unknown channel", f"{PREFIX}/metrics", GOOD, "bad_topic"),
    ("upper-case channel", f"{PREFIX}/TELEMETRY", GOOD, "bad_topic"),
    ("unknown kind", T.replace("/elevator/", "/escalator/", 1), GOOD, "unknown_kind"),
    ("upper-case kind", T.replace("/elevator/", "/Elevator/", 1), GOOD, "unknown_kind"),
    ("empty estate", T.replace("/est-1/", "//", 1), GOOD, "bad_topic"),
    ("empty asset", f"{TOPIC_ROOT}/est-1/b1/elevator//telemetry", GOOD, "bad_topic"),
    ("comma and equals in asset (line-protocol injection)", topic(EL, asset="a,b=c"), GOOD, "bad_topic"),
    ("space in asset", topic(EL, asset="a b"), GOOD, "bad_topic"),
    ("newline in asset", topic(EL, asset="a\nb"), GOOD, "bad_topic"),
    ("quote in building", T.replace("/b1/", '/b"1/', 1), GOOD, "bad_topic"),
    ("Chinese estate id", T.replace("/est-1/", "/绿苑/", 1), GOOD, "bad_topic"),
    ("65-character asset id", topic(EL, asset="a" * 65), GOOD, "bad_topic"),
    ("asset id starting with a dot", topic(EL, asset=".hidden"), GOOD, "bad_topic"),
    ("wildcard in asset", topic(EL, asset="+"), GOOD, "bad_topic"),
    # the payload as bytes
    ("empty payload (a retained message's delete)", T, b"", CLEARED),
    ("empty event payload", topic(EL, "event"), b"", CLEARED),
    ("a single space", T, b" ", "bad_json"),
    ("truncated JSON", T, GOOD[:-3], "bad_json"),
    ("trailing garbage", T, GOOD + b"}", "bad_json"),
    ("not UTF-8", T, b'{"ts": 1, "values": {"trips": "\xff\xfe"}}', "bad_json"),
    ("NaN literal", T, b'{"ts": %d, "values": {"vibration_mm_s": NaN}}' % NOW, "bad_json"),
    ("single quotes", T, b"{'ts': 1}", "bad_json"),
    ("a bare number", T, b"42", "bad_field"),
    ("null", T, b"null", "bad_field"),
    ("a string", T, b'"reading"', "bad_field"),
    ("empty list", T, b"[]", "bad_field"),
    ("list of numbers", T, b"[1, 2]", "bad_field"),
    ("over the size limit", T, b'{"pad": "%s"}' % (b"x" * MAX_PAYLOAD_BYTES), "too_large"),
    # ts
    ("ts missing", T, orjson.dumps({"seq": 1, "values": valid_values(EL)}), "bad_field"),
    ("ts as text", T, reading(EL, ts="2026-11-02T09:00:00Z"), "bad_field"),
    ("ts as boolean", T, reading(EL, ts=True), "bad_field"),
    ("ts an hour ahead", T, reading(EL, ts=NOW + 3_600_000), "bad_timestamp"),
    ("ts 401 days old", T, reading(EL, ts=NOW - 401 * 86_400_000), "bad_timestamp"),
    ("ts negative", T, reading(EL, ts=-1), "bad_timestamp"),
    ("ts in seconds", T, reading(EL, ts=NOW // 1000), "bad_timestamp"),
    ("ts 1e30", T, reading(EL, ts=1e30), "bad_timestamp"),
    # seq
    ("seq negative", T, reading(EL, seq=-1), "bad_field"),
    ("seq fraction", T, reading(EL, seq=1.5), "bad_field"),
    ("seq as text", T, reading(EL, seq="1"), "bad_field"),
    ("seq boolean", T, reading(EL, seq=True), "bad_field"),
    ("seq 2^32", T, reading(EL, seq=MAX_SEQ + 1), "out_of_range"),
    ("seq 2^63", T, reading(EL, seq=2**63), "out_of_range"),
    ("seq 2^64-1", T, reading(EL, seq=2**64 - 1), "out_of_range"),
    # values as a whole
    ("values missing", T, orjson.dumps({"ts": NOW, "seq": 1}), "bad_field"),
    ("values empty", T, reading(EL, values={}), "bad_field"),
    ("values a list", T, reading(EL, values=[1, 2]), "bad_field"),
    ("values null", T, reading(EL, values=None), "bad_field"),
    ("a value null", T, reading(EL, values={**valid_values(EL), "trips": None}), "bad_field"),
    ("a value an object", T, reading(EL, values={**valid_values(EL), "trips": {"n": 1}}), "bad_field"),
    ("batch with a non-object", T, b"[%s, 1]" % GOOD, "bad_field"),
    ("batch with one bad reading", T, b"[%s, %s]" % (GOOD, reading(EL, seq=-1)), "bad_field"),
    # identity
    ("payload names another asset", T, reading(EL, asset="elevator-2"), "topic_mismatch"),
    ("payload names another kind", T, reading(EL, kind="water_pump"), "topic_mismatch"),
    ("a batch item names another asset", T, b"[%s]" % reading(EL, asset="x"), "topic_mismatch"),
    # events
    *(
        (name, topic(EL, "event"), orjson.dumps({"ts": NOW, "seq": 5, **body}), reason)
        for name, body, reason in [
            ("event type unknown", {"type": "explosion", "code": "entrapment"}, "bad_field"),
            ("event type missing", {"code": "entrapment"}, "bad_field"),
            ("event code of another kind", {"type": "fault", "code": "dry_run"}, "bad_field"),
            ("event code missing", {"type": "fault"}, "bad_field"),
            ("alarm with a fault code", {"type": "alarm", "code": "entrapment"}, "bad_field"),
            ("detail not text", {"type": "fault", "code": "door_fault", "detail": ["x"]}, "bad_field"),
            ("detail too long", {"type": "fault", "code": "door_fault", "detail": "x" * 1025}, "bad_field"),
            ("outcome on a fault", {"type": "fault", "code": "door_fault", "outcome": "test"}, "bad_field"),
            ("outcome unknown", {"type": "alarm_clear", "code": "overheat", "outcome": "maybe"}, "bad_field"),
            ("event seq 2^63", {"type": "fault", "code": "door_fault", "seq": 2**63}, "out_of_range"),
        ]
    ),
    ("event not an object", topic(EL, "event"), b"[1]", "bad_field"),
    # status
    ("status state unknown", topic(EL, "status"), orjson.dumps({"ts": NOW, "state": "sleepy"}), "bad_field"),
    ("status state missing", topic(EL, "status"), orjson.dumps({"ts": NOW}), "bad_field"),
    ("status as a boolean", topic(EL, "status"), b"true", "bad_field"),
    # tricky but valid: stored exactly, nothing injected
    ("detail with newlines, quotes, commas", topic(EL, "event"), b"", STORED),
    ("boolean for a 0/1 field", topic(AssetKind.WATER_PUMP), b"", STORED),
    ("seq at the contract's maximum", T, reading(EL, seq=MAX_SEQ), STORED),
    ("seq zero", T, reading(EL, seq=0, ts=NOW - 4000), STORED),
    ("values at their limits", T, b"", STORED),
    (
        "a batch of two readings",
        T,
        b"[%s, %s]" % (reading(EL, ts=NOW - 1000), reading(EL, ts=NOW - 2000)),
        STORED,
    ),
    ("status offline", topic(EL, "status"), orjson.dumps({"ts": NOW, "state": "offline"}), STORED),
]


def tricky(name: str, payload: bytes) -> bytes:
    if name.startswith("detail with"):
        return orjson.dumps({"ts": NOW, "seq": 9, "type": "fault", "code": "entrapment", "detail": DETAIL})
    if name.startswith("boolean for"):
        return reading(AssetKind.WATER_PUMP, values={**valid_values(AssetKind.WATER_PUMP), "running": True})
    if name.startswith("values at their limits"):
        return reading(EL, ts=NOW - 3000, values={f.name: f.maximum for f in SCHEMAS[EL].fields})
    return payload


CASES = [Case(n, t, tricky(n, p), e) for n, t, p, e in TABLE] + values_cases()


def test_the_corpus_is_the_probes_size_and_names_every_reason() -> None:
    bad = [c for c in CASES if c.expected not in (STORED, CLEARED)]
    assert len(bad) >= 135
    assert len({c.name for c in CASES}) == len(CASES)
    assert {c.expected for c in bad} == {
        "bad_topic",
        "unknown_kind",
        "bad_json",
        "bad_field",
        "bad_timestamp",
        "out_of_range",
        "unknown_field",
        "missing_field",
        "too_large",
        "topic_mismatch",
    }


def test_each_message_is_stored_or_dead_lettered_with_its_documented_reason(influx: InfluxClient) -> None:
    batch = [EdgeMessage(i + 1, c.topic, c.payload, NOW) for i, c in enumerate(CASES)]
    prepared = prepare(batch)
    dead = {d.topic + "\x00" + d.payload.hex(): d.reason for d in prepared.dead}
    owners = Counter(prepared.owners)
    wrong = []
    for i, c in enumerate(CASES):
        got = dead.get(c.topic + "\x00" + c.payload.hex(), STORED if owners[i] else CLEARED)
        if got != c.expected or (owners[i] and got != STORED):
            wrong.append(f"{c.name}: {got}, expected {c.expected}")
    assert wrong == []
    assert len(prepared.dead) == sum(c.expected not in (STORED, CLEARED) for c in CASES)
    assert prepared.cleared == sum(c.expected == CLEARED for c in CASES)  # counted, not silently lost

    # what is stored is accepted by the real InfluxDB, exactly as sent, and adds nothing of its own making
    assert write_checked(influx, prepared.lines) == []
    measurements = {r["name"] for r in influx.records("SHOW MEASUREMENTS")}
    assert measurements == {"elevator", "water_pump", "events", "status"}
    assert [e["detail"] for e in influx.records('SELECT "detail" FROM "events"')] == [DETAIL]
    points = influx.records('SELECT * FROM "elevator"')
    assert len(points) == 5  # seq MAX_SEQ, seq 0, the values at their limits, the batch of two
    assert sorted(p["seq"] for p in points) == [0, 1, 1, 1, MAX_SEQ]
    assert {p["asset"] for p in points} == {"elevator-1"} and {p["estate"] for p in points} == {"est-1"}
    pump = influx.records('SELECT "running" FROM "water_pump"')
    assert [p["running"] for p in pump] == [1]
