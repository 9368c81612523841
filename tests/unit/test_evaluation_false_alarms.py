"""A false fire alarm is an explicit, confirmed outcome on the wire (``outcome`` on alarm events), with the old
``detail`` convention still read; tests are left out of the rate."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest

from evaluation.inputs import AssetInfo, Dataset, EventRecord
from evaluation.metric_types import MetricSettings
from evaluation.metrics import compute_all
from evaluation.periods import parse_period
from facility.contract import (
    AlarmOutcome,
    AssetKind,
    AssetRef,
    Channel,
    ContractError,
    Event,
    EventType,
    decode,
    encode_event,
)
from ingest.lineprotocol import event_line

UTC = dt.UTC
FA = AssetRef("west", "w1", AssetKind.FIRE_ALARM, "west-w1-fa1")
TS = 1_790_000_000_000


def test_outcome_travels_through_the_contract_and_into_line_protocol():
    payload = encode_event(EventType.ALARM_CLEAR, "fire_alarm", TS, 7, "", AlarmOutcome.FALSE_ALARM)
    assert orjson.loads(payload)["outcome"] == "false_alarm"
    (ev,) = decode(FA.topic(Channel.EVENT), payload, TS)
    assert ev == Event(FA, TS, EventType.ALARM_CLEAR, "fire_alarm", 7, "", AlarmOutcome.FALSE_ALARM)
    assert event_line(ev).endswith(f' seq=7i,detail="",outcome="false_alarm" {TS}')
    # an event without an outcome is written exactly as before
    plain = Event(FA, TS, EventType.ALARM, "fire_alarm", 6)
    assert event_line(plain).endswith(f' seq=6i,detail="" {TS}') and plain.outcome is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"type": "alarm_clear", "code": "fire_alarm", "outcome": "maybe"},
            "event 'outcome' must be one of ['false_alarm', 'fire', 'test'], got 'maybe'",
        ),
        (
            {"type": "fault", "code": "loop_fault", "outcome": "false_alarm"},
            "'outcome' belongs on alarm or alarm_clear events, not fault",
        ),
    ],
)
def test_a_bad_outcome_is_refused_with_the_reason(body, message):
    with pytest.raises(ContractError) as err:
        decode(FA.topic(Channel.EVENT), orjson.dumps({"ts": TS, **body}), TS)
    assert err.value.reason == "bad_field" and str(err.value) == message


def t(day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 10, day, hour, minute, tzinfo=UTC)


def alarm(day: int, clear_detail: str = "", clear_outcome: str = "", onset_outcome: str = ""):
    on = EventRecord(FA.asset, "fire_alarm", "alarm", "fire_alarm", t(day, 10), "", onset_outcome)
    off = EventRecord(
        FA.asset, "fire_alarm", "alarm_clear", "fire_alarm", t(day, 10, 5), clear_detail, clear_outcome
    )
    return on, off


def test_false_alarm_rate_from_outcomes_and_the_legacy_detail():
    events = (
        *alarm(3, clear_outcome="false_alarm"),  # false
        *alarm(4, clear_detail="false_alarm"),  # false by the old convention
        *alarm(5, clear_outcome="fire"),  # a real fire
        *alarm(6, clear_outcome="test"),  # a test: not an alarm
        *alarm(7),  # nobody confirmed it
        *alarm(8, onset_outcome="false_alarm"),  # confirmed on the alarm itself
        *alarm(9, clear_detail="false", clear_outcome="fire"),  # the explicit outcome wins over the detail
    )
    asset = AssetInfo(FA.asset, "fire_alarm", "west", "w1", "pc-b", "luxury", t(1))
    m = compute_all(Dataset((asset,), events=events), parse_period("2026-10"), MetricSettings(t(31)))
    rate, unconfirmed = m["fire_alarm_false_alarm_rate"], m["fire_alarm_unconfirmed_rate"]
    # counted: days 3, 4, 5, 7, 8, 9 (6); false: 3, 4, 8; unconfirmed: 7
    assert (rate.numerator, rate.denominator, rate.value) == (3, 6, 0.5)
    assert rate.evidence == tuple(f"{FA.asset}:fire_alarm@{t(d, 10).isoformat()}" for d in (3, 4, 8))
    assert rate.note == "1 of 6 alarms not confirmed; 1 test alarm left out"
    assert (unconfirmed.numerator, unconfirmed.denominator) == (1, 6)
    assert unconfirmed.evidence == (f"{FA.asset}:fire_alarm@{t(7, 10).isoformat()}",)


def test_only_test_alarms_is_no_data():
    asset = AssetInfo(FA.asset, "fire_alarm", "west", "w1", "pc-b", "luxury", t(1))
    ds = Dataset((asset,), events=alarm(3, clear_outcome="test"))
    m = compute_all(ds, parse_period("2026-10"), MetricSettings(t(31)))
    assert m["fire_alarm_false_alarm_rate"].value is None
    assert m["fire_alarm_false_alarm_rate"].note == "1 test alarm left out"
