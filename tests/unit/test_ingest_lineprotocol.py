from __future__ import annotations

from facility.contract import AssetKind, AssetRef, Event, EventType, Reading, Status, decode
from ingest.lineprotocol import escape_string_field, escape_tag, to_line, to_lines

REF = AssetRef("E1", "B-2", AssetKind.ELEVATOR, "lift.1")
TS = 1_700_000_000_000


def test_reading_line_has_integer_suffix_floats_and_device_timestamp() -> None:
    line = to_line(Reading(REF, TS, {"trips": 3, "motor_current_a": 12.5, "vibration_mm_s": 1.0}, seq=42))
    assert line == (
        "elevator,estate=E1,building=B-2,asset=lift.1 "
        "trips=3i,motor_current_a=12.5,vibration_mm_s=1.0,seq=42i 1700000000000"
    )


def test_reading_without_seq_has_no_seq_field() -> None:
    pump = AssetRef("E1", "B1", AssetKind.WATER_PUMP, "p1")
    assert to_line(Reading(pump, TS, {"outlet_pressure_mpa": 0.35})) == (
        "water_pump,estate=E1,building=B1,asset=p1 outlet_pressure_mpa=0.35 1700000000000"
    )


def test_event_and_status_lines() -> None:
    ev = Event(REF, TS, EventType.FAULT, "door_fault", seq=7, detail='door "A" stuck\\')
    assert to_line(ev) == (
        "events,estate=E1,building=B-2,kind=elevator,asset=lift.1,type=fault,code=door_fault "
        'seq=7i,detail="door \\"A\\" stuck\\\\" 1700000000000'
    )
    assert to_line(Status(REF, TS, online=False)) == (
        'status,estate=E1,building=B-2,kind=elevator,asset=lift.1 online=0i,state="offline" 1700000000000'
    )


def test_escaping_rules() -> None:
    assert escape_tag("a b,c=d") == r"a\ b\,c\=d"
    assert escape_string_field('x"y') == '"x\\"y"'


def test_to_lines_from_decoded_thingsboard_batch_keeps_order() -> None:
    payload = (
        b'[{"ts": 1700000000000, "values": {"fill_pct": 10}},'
        b' {"ts": 1700000001000, "values": {"fill_pct": 11.5}}]'
    )
    msgs = decode("facility/E1/B1/smart_bin/bin-1/telemetry", payload, now_ms=TS)
    assert to_lines(msgs) == [
        "smart_bin,estate=E1,building=B1,asset=bin-1 fill_pct=10.0 1700000000000",
        "smart_bin,estate=E1,building=B1,asset=bin-1 fill_pct=11.5 1700000001000",
    ]
