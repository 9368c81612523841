"""The wire contract: topics, payload shapes, every dead-letter reason, and docs/contract.md kept in sync.

Regenerate the field tables of docs/contract.md with ``.venv/bin/python tests/unit/test_contract.py``.
"""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest

from facility.contract import (
    MAX_AGE_MS,
    MAX_FUTURE_MS,
    MAX_PAYLOAD_BYTES,
    SCHEMAS,
    AssetKind,
    AssetRef,
    Channel,
    ContractError,
    Event,
    EventType,
    Reading,
    Status,
    decode,
    encode_event,
    encode_reading,
    encode_status,
    parse_topic,
    subscription,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "contract.md"
CONTRACT_SRC = Path(__file__).resolve().parents[2] / "facility" / "contract.py"
NOW = 1_790_000_000_000
EL = AssetRef("lvyuan", "b1", AssetKind.ELEVATOR, "lvyuan-b1-el1")
T_TEL = EL.topic(Channel.TELEMETRY)
T_EVT = EL.topic(Channel.EVENT)
T_STA = EL.topic(Channel.STATUS)
GOOD = {"motor_current_a": 21.5, "vibration_mm_s": 0.82, "trips": 14}


def j(obj) -> bytes:
    return orjson.dumps(obj)


def reason(topic: str, payload: bytes, now: int = NOW) -> str:
    with pytest.raises(ContractError) as info:
        decode(topic, payload, now)
    return info.value.reason


# ------------------------------------------------------------------ accepted shapes


def test_reading_round_trip_keeps_values_seq_and_device_time():
    [r] = decode(T_TEL, encode_reading(GOOD, NOW - 1000, 41), NOW)
    assert r == Reading(EL, NOW - 1000, {"motor_current_a": 21.5, "vibration_mm_s": 0.82, "trips": 14}, 41)
    assert isinstance(r.values["trips"], int) and isinstance(r.values["vibration_mm_s"], float)


def test_thingsboard_shape_without_seq_and_lists_of_readings():
    [r] = decode(T_TEL, j({"ts": NOW, "values": GOOD}), NOW)
    assert r.seq is None and r.ts_ms == NOW
    batch = [{"ts": NOW - 2000, "values": GOOD}, {"ts": NOW - 1000, "values": {**GOOD, "trips": 3}, "seq": 9}]
    out = decode(T_TEL, j(batch), NOW)
    assert [(m.ts_ms, m.values["trips"], m.seq) for m in out] == [(NOW - 2000, 14, None), (NOW - 1000, 3, 9)]


def test_events_and_status_round_trip():
    [e] = decode(T_EVT, encode_event(EventType.FAULT, "door_fault", NOW, 7, "door 3 stuck"), NOW)
    assert e == Event(EL, NOW, EventType.FAULT, "door_fault", 7, "door 3 stuck")
    [a] = decode(T_EVT, encode_event(EventType.ALARM, "overheat", NOW, None), NOW)
    assert (a.type, a.code, a.seq) == (EventType.ALARM, "overheat", None)
    [s] = decode(T_STA, encode_status(False, NOW), NOW)
    assert s == Status(EL, NOW, False)


def test_bools_count_as_integers_and_matching_identity_is_fine():
    [r] = decode(
        AssetRef("e", "b", AssetKind.WATER_PUMP, "p1").topic("telemetry"),
        j(
            {
                "ts": NOW,
                "values": {"outlet_pressure_mpa": 0.45, "running": True},
                "asset": "p1",
                "kind": "water_pump",
            }
        ),
        NOW,
    )
    assert r.values["running"] == 1


def test_topics_and_subscription():
    assert T_TEL == "facility/lvyuan/b1/elevator/lvyuan-b1-el1/telemetry"
    assert parse_topic(T_EVT) == (EL, Channel.EVENT)
    assert subscription() == "facility/+/+/+/+/+"
    assert subscription("status") == "facility/+/+/+/+/status"


def test_timestamp_window_edges_are_accepted():
    assert decode(T_TEL, encode_reading(GOOD, NOW + MAX_FUTURE_MS, 1), NOW)[0].ts_ms == NOW + MAX_FUTURE_MS
    assert decode(T_TEL, encode_reading(GOOD, NOW - MAX_AGE_MS, 1), NOW)[0].ts_ms == NOW - MAX_AGE_MS


def test_payload_of_exactly_the_limit_is_accepted():
    body = encode_reading(GOOD, NOW, 1)
    padded = body[:-1] + b" " * (MAX_PAYLOAD_BYTES - len(body)) + b"}"
    assert len(padded) == MAX_PAYLOAD_BYTES
    assert decode(T_TEL, padded, NOW)[0].values == GOOD


# ------------------------------------------------------------------ every dead-letter reason

BAD = [
    # (case, topic, payload, reason)
    ("topic with 5 levels", "facility/lvyuan/b1/elevator/telemetry", j({}), "bad_topic"),
    ("foreign root", "plant/lvyuan/b1/elevator/e1/telemetry", j({}), "bad_topic"),
    ("unknown channel", "facility/lvyuan/b1/elevator/e1/command", j({}), "bad_topic"),
    ("id with a space", "facility/lv yuan/b1/elevator/e1/telemetry", j({}), "bad_topic"),
    ("unknown kind", "facility/lvyuan/b1/escalator/e1/telemetry", j({}), "unknown_kind"),
    ("over 64 KiB", T_TEL, b" " * (MAX_PAYLOAD_BYTES + 1), "too_large"),
    ("not JSON", T_TEL, b"vibration=1.2", "bad_json"),
    ("NaN (not JSON)", T_TEL, b'{"ts": 1, "values": {"vibration_mm_s": NaN}}', "bad_json"),
    ("infinity (not JSON)", T_TEL, b'{"ts": 1, "values": {"vibration_mm_s": 1e999}}', "bad_json"),
    ("asset differs from topic", T_TEL, j({"ts": NOW, "values": GOOD, "asset": "other"}), "topic_mismatch"),
    (
        "kind differs from topic",
        T_EVT,
        j({"ts": NOW, "type": "fault", "code": "door_fault", "kind": "smart_bin"}),
        "topic_mismatch",
    ),
    ("ts far in the future", T_TEL, encode_reading(GOOD, NOW + MAX_FUTURE_MS + 1, 1), "bad_timestamp"),
    ("ts older than 400 days", T_TEL, encode_reading(GOOD, NOW - MAX_AGE_MS - 1, 1), "bad_timestamp"),
    ("ts as text", T_TEL, j({"ts": "2026-01-01T00:00:00Z", "values": GOOD}), "bad_field"),
    ("ts missing", T_TEL, j({"values": GOOD}), "bad_field"),
    ("negative seq", T_TEL, j({"ts": NOW, "values": GOOD, "seq": -1}), "bad_field"),
    ("seq as bool", T_TEL, j({"ts": NOW, "values": GOOD, "seq": True}), "bad_field"),
    ("values missing", T_TEL, j({"ts": NOW}), "bad_field"),
    ("value as text", T_TEL, j({"ts": NOW, "values": {**GOOD, "vibration_mm_s": "0.8"}}), "bad_field"),
    ("fractional count", T_TEL, j({"ts": NOW, "values": {**GOOD, "trips": 2.5}}), "bad_field"),
    ("empty list", T_TEL, j([]), "bad_field"),
    ("list of non-objects", T_TEL, j([1, 2]), "bad_field"),
    ("unknown field", T_TEL, j({"ts": NOW, "values": {**GOOD, "speed_m_s": 1.6}}), "unknown_field"),
    ("out of range", T_TEL, j({"ts": NOW, "values": {**GOOD, "vibration_mm_s": 250.0}}), "out_of_range"),
    ("negative count", T_TEL, j({"ts": NOW, "values": {**GOOD, "trips": -1}}), "out_of_range"),
    ("required field missing", T_TEL, j({"ts": NOW, "values": {"trips": 3}}), "missing_field"),
    ("event type unknown", T_EVT, j({"ts": NOW, "type": "warning", "code": "door_fault"}), "bad_field"),
    ("fault code of another kind", T_EVT, j({"ts": NOW, "type": "fault", "code": "dry_run"}), "bad_field"),
    ("alarm code used as fault", T_EVT, j({"ts": NOW, "type": "fault", "code": "overheat"}), "bad_field"),
    (
        "detail too long",
        T_EVT,
        j({"ts": NOW, "type": "fault", "code": "door_fault", "detail": "x" * 1025}),
        "bad_field",
    ),
    ("event as list", T_EVT, j([{"ts": NOW, "type": "fault", "code": "door_fault"}]), "bad_field"),
    ("status state unknown", T_STA, j({"ts": NOW, "state": "sleeping"}), "bad_field"),
]


@pytest.mark.parametrize(("topic", "payload", "expected"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_messages_are_refused_with_their_reason(topic, payload, expected):
    assert reason(topic, payload) == expected


def test_every_reason_in_the_contract_is_tested_and_documented():
    in_code = set(re.findall(r'ContractError\(\s*"([a-z_]+)"', CONTRACT_SRC.read_text()))
    tested = {c[3] for c in BAD}
    # orjson refuses NaN and infinity while parsing (bad_json), so not_finite is a second line of defence
    assert in_code - tested == {"not_finite"}
    doc = DOC.read_text()
    for r in in_code:
        assert f"`{r}`" in doc, f"docs/contract.md does not explain reason {r}"


def test_error_messages_say_what_is_wrong():
    with pytest.raises(
        ContractError, match=r"vibration_mm_s=250.0 mm/s is outside the plausible range \[0, 100\]"
    ):
        decode(T_TEL, j({"ts": NOW, "values": {**GOOD, "vibration_mm_s": 250.0}}), NOW)
    with pytest.raises(ContractError, match="is 301 s in the future"):
        decode(T_TEL, encode_reading(GOOD, NOW + 301_000, 1), NOW)


# ------------------------------------------------------------------ docs/contract.md


def docs_tables() -> str:
    """The per-kind field tables of docs/contract.md, generated from SCHEMAS."""
    out: list[str] = []
    for kind, schema in SCHEMAS.items():
        out.append(f"### `{kind.value}`\n")
        out.append("| field | unit | range | type | required | meaning |")
        out.append("|---|---|---|---|---|---|")
        for f in schema.fields:
            rng = f"{f.minimum:g} – {f.maximum:g}"
            typ = "integer" if f.integer else "number"
            req = "yes" if f.name in schema.required else ""
            out.append(f"| `{f.name}` | {f.unit} | {rng} | {typ} | {req} | {f.description} |")
        out.append("")
        faults = ", ".join(f"`{c}`" for c in schema.fault_codes)
        alarms = ", ".join(f"`{c}`" for c in schema.alarm_codes)
        out.append(f"Fault codes: {faults}; alarm codes: {alarms}.\n")
    return "\n".join(out).rstrip() + "\n"


def test_docs_field_tables_match_the_schemas():
    doc = DOC.read_text()
    m = re.search(r"<!-- fields:begin -->\n(.*?)<!-- fields:end -->", doc, re.S)
    assert m, "docs/contract.md lacks the <!-- fields:begin --> ... <!-- fields:end --> block"
    assert m.group(1) == docs_tables(), "regenerate with: .venv/bin/python tests/unit/test_contract.py"


def test_docs_examples_are_valid_messages():
    doc = DOC.read_text()
    examples = re.findall(r"^topic: (\S+)\n```json\n(.*?)\n```", doc, re.S | re.M)
    assert len(examples) >= 10
    for topic, body in examples:
        payload = body.encode()
        ts = orjson.loads(payload)[0]["ts"] if body.lstrip().startswith("[") else orjson.loads(payload)["ts"]
        assert decode(topic, payload, ts), topic


if __name__ == "__main__":
    print(docs_tables(), end="")
