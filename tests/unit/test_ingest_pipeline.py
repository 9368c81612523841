"""ingest.pipeline.prepare: what becomes a line, what a dead letter, what neither."""

from __future__ import annotations

from facility.contract import AssetKind, AssetRef, Channel, EventType, encode_event, encode_reading
from facility.mqtt import EdgeMessage
from ingest.pipeline import is_retained_delete, prepare

DEV = AssetRef("E1", "B1", AssetKind.WATER_PUMP, "wp-1")
NOW = 1_760_000_000_000


def msg(mid: int, channel: Channel, payload: bytes) -> EdgeMessage:
    return EdgeMessage(mid, DEV.topic(channel), payload, NOW)


def test_a_zero_length_message_is_a_retained_delete_not_a_dead_letter() -> None:
    batch = [
        msg(1, Channel.TELEMETRY, b""),
        msg(2, Channel.TELEMETRY, encode_reading({"outlet_pressure_mpa": 0.4}, NOW, 5)),
        msg(3, Channel.EVENT, b""),
        msg(4, Channel.EVENT, encode_event(EventType.FAULT, "dry_run", NOW, 6)),
        msg(5, Channel.TELEMETRY, b"{"),
    ]
    prep = prepare(batch)
    assert [is_retained_delete(m) for m in batch] == [True, False, True, False, False]
    assert prep.cleared == 2
    assert prep.owners == [1, 3]  # the reading and the event, nothing from the deletes
    assert [(d.payload, d.reason) for d in prep.dead] == [(b"{", "bad_json")]
    assert [s[1] for s in prep.seqs] == [5, 6]
