"""False fire alarms end to end: simulated panels clear their (all false) alarms with ``outcome``, the
messages cross the MQTT payload encoding and line protocol into a real InfluxDB, and the false-alarm rate
read back matches the simulators' ground truth; a legacy ``detail`` marking still counts."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from evaluation.events_source import load_events
from evaluation.inputs import AssetInfo, Dataset
from evaluation.metric_types import MetricSettings
from evaluation.metrics import compute_all
from evaluation.periods import parse_period
from facility.contract import (
    AlarmOutcome,
    AssetKind,
    AssetRef,
    Event,
    EventType,
    decode,
)
from facility.fleet import AssetSpec
from ingest.influx import InfluxClient
from ingest.lineprotocol import event_line, to_line
from simulators.asset import DAY_MS, AssetSimulator
from simulators.publisher import topic_and_payload

pytestmark = pytest.mark.integration
UTC = dt.UTC
OCT_1 = dt.datetime(2026, 10, 1, tzinfo=UTC)
START = int(OCT_1.timestamp() * 1000)


def panel(i: int) -> AssetRef:
    return AssetRef("west", "w1", AssetKind.FIRE_ALARM, f"west-w1-fa{i}")


def test_simulated_false_alarms_reach_the_rate(influx: InfluxClient) -> None:
    sent, truth = [], 0
    for i in range(6):
        spec = AssetSpec(panel(i), "m", dt.date(2010, 1, 1), 3)
        sim = AssetSimulator(spec, np.random.default_rng(40 + i), START, initial_health=0.05)
        for msg in sim.advance(START + 31 * DAY_MS, 3600):
            if isinstance(msg, Event):  # as the publisher sends it and ingest decodes it
                topic, body, _ = topic_and_payload(msg)
                (msg,) = decode(topic, body, msg.ts_ms)
                sent.append(msg)
        truth += sum(1 for r in sim.drain_truth() if r.type == "false_alarm")
    clears = [e for e in sent if e.type is EventType.ALARM_CLEAR and e.code == "fire_alarm"]
    assert truth >= 2 and len(clears) == truth
    assert all(e.outcome is AlarmOutcome.FALSE_ALARM for e in clears)
    # one more panel with older data: a false alarm marked only in ``detail``, and a confirmed real fire
    old = panel(9)
    sent += [
        Event(old, START + 3_600_000, EventType.ALARM, "fire_alarm", 1),
        Event(old, START + 3_900_000, EventType.ALARM_CLEAR, "fire_alarm", 2, "false_alarm"),
        Event(old, START + 7_200_000, EventType.ALARM, "fire_alarm", 3),
        Event(old, START + 7_500_000, EventType.ALARM_CLEAR, "fire_alarm", 4, "", AlarmOutcome.FIRE),
    ]
    influx.write([to_line(e) for e in sent])
    assert event_line(sent[-1]).split(" ")[1].endswith('outcome="fire"')

    as_of = OCT_1 + dt.timedelta(days=32)
    events = load_events(influx, OCT_1, as_of)
    assert sum(1 for e in events if e.outcome == "false_alarm") == truth
    assets = tuple(
        AssetInfo(p.asset, "fire_alarm", "west", "w1", "pc-b", "luxury", OCT_1)
        for p in (*(panel(i) for i in range(6)), old)
    )
    m = compute_all(Dataset(assets, events=tuple(events)), parse_period("2026-10"), MetricSettings(as_of))
    rate = m["fire_alarm_false_alarm_rate"]
    assert (rate.numerator, rate.denominator) == (truth + 1, truth + 2)
    assert m["fire_alarm_unconfirmed_rate"].value == 0.0
