"""The fast path must agree with the contract + to_line on every payload: same line, or it defers."""

from __future__ import annotations

import numpy as np
import orjson

from facility.contract import ContractError, decode
from ingest.fastpath import telemetry_line, topic_info
from ingest.lineprotocol import to_lines
from ingest.testkit import MALFORMED, fleet, make_messages, malformed

NOW = 1_790_000_000_000


def reference(topic: str, payload: bytes) -> list[str] | str:
    try:
        return to_lines(decode(topic, payload, NOW))
    except ContractError as exc:
        return exc.reason


def test_fast_path_agrees_with_contract_on_valid_and_malformed_payloads() -> None:
    rng = np.random.default_rng(11)
    devices = fleet(12)
    cases = [(m.topic, m.payload) for m in make_messages(600, rng, devices=devices, start_ms=NOW - 3_600_000)]
    for i, reason in enumerate(MALFORMED * 5):
        cases.append(malformed(devices[i % len(devices)], reason, NOW - 1000, rng))
    odd = [
        b'{"ts": 1789999999000.0, "values": {"motor_current_a": 3, "vibration_mm_s": 1}}',
        b'{"ts": 1789999999000, "values": {"motor_current_a": 3, "vibration_mm_s": 1, "trips": 2.0}}',
        b'{"ts": 1789999999000, "values": {"motor_current_a": 3, "vibration_mm_s": 1, "trips": 2.5}}',
        b'{"ts": 1789999999000, "values": {"motor_current_a": true, "vibration_mm_s": 1}}',
        b'{"ts": 1789999999000, "seq": -1, "values": {"motor_current_a": 3, "vibration_mm_s": 1}}',
        b'{"ts": 1789999999000, "seq": true, "values": {"motor_current_a": 3, "vibration_mm_s": 1}}',
        b'{"ts": true, "values": {"motor_current_a": 3, "vibration_mm_s": 1}}',
        b'{"ts": 1789999999000, "values": {"motor_current_a": "3", "vibration_mm_s": 1}}',
        b'{"ts": 1789999999000, "values": {}}',
        b'{"ts": 1789999999000, "values": {"motor_current_a": 500.0, "vibration_mm_s": 0}}',
        b'{"ts": 1789999999000, "values": {"motor_current_a": 500.01, "vibration_mm_s": 0}}',
        b'{"ts": 1789999999000, "asset": "lift-x", "values": {"motor_current_a": 1, "vibration_mm_s": 0}}',
        b'[{"ts": 1789999999000, "values": {"motor_current_a": 1, "vibration_mm_s": 0}}]',
        b'"just a string"',
    ]
    cases += [("facility/E1/B1/elevator/lift-x/telemetry", p) for p in odd]
    fast_count = 0
    for topic, payload in cases:
        expected = reference(topic, payload)
        info = topic_info(topic)
        fast = telemetry_line(info, payload, NOW) if info is not None and info.telemetry else None
        if fast is not None:
            fast_count += 1
            assert [fast[0]] == expected, (topic, payload)
            body = orjson.loads(payload)
            assert (fast[1], fast[2]) == (body.get("seq"), body["ts"])
    assert fast_count >= 600  # the fast path did take every plain valid reading
