"""The InfluxDB events adapter against a real server: window bounds, tags and detail, time order."""

from __future__ import annotations

import datetime as dt

import pytest

from evaluation.events_source import load_events
from evaluation.inputs import AssetInfo, Dataset
from evaluation.kinds import kind_metrics
from facility.contract import AssetKind, AssetRef, Event, EventType
from ingest.influx import InfluxClient
from ingest.lineprotocol import event_line

pytestmark = pytest.mark.integration
UTC = dt.UTC
FA = AssetRef("west", "w1", AssetKind.FIRE_ALARM, "west-w1-fa1")
BIN = AssetRef("west", "w1", AssetKind.SMART_BIN, "west-w1-sb1")


def ms(d: int, h: int = 0, m: int = 0) -> int:
    return int(dt.datetime(2026, 10, d, h, m, tzinfo=UTC).timestamp() * 1000)


def test_events_in_window_with_detail(influx: InfluxClient) -> None:
    events = [
        Event(BIN, ms(3, 16), EventType.ALARM_CLEAR, "overflow", 2),
        Event(BIN, ms(3, 10), EventType.ALARM, "overflow", 1),
        Event(FA, ms(7, 10), EventType.ALARM, "fire_alarm", 5),
        Event(FA, ms(7, 10, 5), EventType.ALARM_CLEAR, "fire_alarm", 6, "false_alarm"),
        Event(FA, ms(31, 23, 59), EventType.FAULT, "loop_fault", 7),
        Event(FA, ms(1) - 1, EventType.FAULT, "power_fault", 4),  # just before the window
    ]
    influx.write([event_line(e) for e in events])
    start, end = dt.datetime(2026, 10, 1, tzinfo=UTC), dt.datetime(2026, 11, 1, tzinfo=UTC)
    got = load_events(influx, start, end)
    assert [(e.asset_id, e.type, e.code) for e in got] == [
        ("west-w1-sb1", "alarm", "overflow"),
        ("west-w1-sb1", "alarm_clear", "overflow"),
        ("west-w1-fa1", "alarm", "fire_alarm"),
        ("west-w1-fa1", "alarm_clear", "fire_alarm"),
        ("west-w1-fa1", "fault", "loop_fault"),
    ]
    assert got[0].ts == dt.datetime(2026, 10, 3, 10, tzinfo=UTC) and got[0].kind == "smart_bin"
    assert got[3].detail == "false_alarm" and got[0].detail == ""
    assert load_events(influx, end, end + dt.timedelta(days=1)) == []
    # and they feed the kind metrics unchanged
    from evaluation.availability import Timelines
    from evaluation.periods import parse_period
    from evaluation.timeline import episodes

    eps = episodes(got, end)
    fa = AssetInfo(FA.asset, "fire_alarm", "west", "w1", "pc-b", "luxury", start)
    m = kind_metrics(Dataset((fa,)), Timelines((), ()), parse_period("2026-10"), eps)
    assert m["fire_alarm_false_alarm_rate"].value == 1.0
