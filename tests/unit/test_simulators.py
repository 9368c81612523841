"""Simulators: determinism, contract-valid telemetry, degradation, hazard, repairs, usage, ground truth."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from facility.contract import (
    AssetKind,
    AssetRef,
    Channel,
    Event,
    EventType,
    Reading,
    decode,
    encode_event,
    encode_reading,
)
from facility.fleet import AssetSpec, Fleet, load_fleet
from simulators.asset import DAY_MS, AssetSimulator
from simulators.fleetsim import FleetSimulator
from simulators.models import MODELS
from simulators.truth import TruthWriter, read_truth
from simulators.usage import local_hour

REPO = Path(__file__).resolve().parents[2]
START = int(dt.datetime(2026, 3, 2, tzinfo=dt.UTC).timestamp() * 1000)  # a Monday
HOUR_MS = 3_600_000


@pytest.fixture(scope="module")
def fleet():
    return load_fleet(REPO / "simulators" / "fleets" / "demo.yaml")


def spec(kind: AssetKind, asset: str = "x1", installed: dt.date = dt.date(2015, 1, 1)) -> AssetSpec:
    return AssetSpec(AssetRef("est", "b1", kind, asset), "m", installed, 3)


def sim(kind: AssetKind, seed: int = 0, **kw) -> AssetSimulator:
    return AssetSimulator(spec(kind), np.random.default_rng(seed), START, **kw)


def roundtrip(msg):
    if isinstance(msg, Reading):
        payload = encode_reading(msg.values, msg.ts_ms, msg.seq)
        return decode(msg.ref.topic(Channel.TELEMETRY), payload, msg.ts_ms)[0]
    payload = encode_event(msg.type, msg.code, msg.ts_ms, msg.seq, msg.detail, msg.outcome)
    return decode(msg.ref.topic(Channel.EVENT), payload, msg.ts_ms)[0]


def test_same_seed_same_messages_and_other_seed_differs(fleet):
    a = FleetSimulator(fleet, 7, START, auto_repair_after_s=6 * 3600).advance(START + 20 * DAY_MS, 3600)
    b = FleetSimulator(fleet, 7, START, auto_repair_after_s=6 * 3600).advance(START + 20 * DAY_MS, 3600)
    c = FleetSimulator(fleet, 8, START, auto_repair_after_s=6 * 3600).advance(START + 20 * DAY_MS, 3600)
    assert len(a) >= len(fleet.assets) * 20 * 24
    assert a == b
    assert a != c


def test_every_message_passes_the_contract_and_seq_counts_per_device(fleet):
    msgs = FleetSimulator(fleet, 3, START, auto_repair_after_s=4 * 3600).advance(START + 30 * DAY_MS, 1800)
    kinds_seen = set()
    seqs = defaultdict(list)
    last_ts = 0
    for msg in msgs:
        assert roundtrip(msg) == msg  # decode validates units, ranges, codes; the values survive unchanged
        kinds_seen.add(msg.ref.kind)
        seqs[msg.ref.asset].append(msg.seq)
        assert msg.ts_ms >= last_ts
        last_ts = msg.ts_ms
    assert kinds_seen == set(AssetKind)
    for asset, s in seqs.items():
        assert s == list(range(len(s))), asset
    types = {m.type for m in msgs if isinstance(m, Event)}
    assert all(m.detail for m in msgs if isinstance(m, Event) and m.type is EventType.FAULT)
    assert {EventType.FAULT, EventType.RECOVERY, EventType.ALARM, EventType.ALARM_CLEAR} <= types


def _first_failure(s: AssetSimulator, step_s: float, days: int):
    msgs = s.advance(START + days * DAY_MS, step_s)
    fault = next(m for m in msgs if isinstance(m, Event) and m.type is EventType.FAULT)
    recovery = next(m for m in msgs if isinstance(m, Event) and m.type is EventType.RECOVERY)
    return msgs, fault, recovery


@pytest.mark.parametrize(
    ("kind", "field", "sign"),
    [
        (AssetKind.ELEVATOR, "vibration_mm_s", 1),
        (AssetKind.ELEVATOR, "leveling_error_mm", 1),
        (AssetKind.WATER_PUMP, "outlet_pressure_mpa", -1),
        (AssetKind.WATER_PUMP, "bearing_temp_c", 1),
        (AssetKind.FIRE_ALARM, "loop_resistance_ohm", 1),
        (AssetKind.FIRE_ALARM, "battery_v", -1),
    ],
)
def test_degradation_shows_before_failure_and_not_after_repair(kind, field, sign):
    s = sim(kind, seed=11, initial_health=0.45, auto_repair_after_s=12 * 3600)
    msgs, fault, recovery = _first_failure(s, 3600, 200)
    readings = [m for m in msgs if isinstance(m, Reading)]
    before = [m.values[field] for m in readings if fault.ts_ms - 3 * DAY_MS <= m.ts_ms < fault.ts_ms]
    after = [m.values[field] for m in readings if recovery.ts_ms < m.ts_ms <= recovery.ts_ms + 3 * DAY_MS]
    assert len(before) >= 24 and len(after) >= 24
    gap = sign * (np.mean(before) - np.mean(after))
    assert gap > 2 * np.std(after) / np.sqrt(len(after)), (np.mean(before), np.mean(after))


def test_hazard_rises_as_health_falls():
    for model in MODELS.values():
        h = np.linspace(1.0, 0.0, 21)
        hz = model.hazard(h)
        assert np.all(np.isfinite(hz)) and np.all(np.diff(hz) > 0)
    healthy = sim(AssetKind.WATER_PUMP, initial_health=0.9)
    worn = sim(AssetKind.WATER_PUMP, initial_health=0.3)
    assert worn.hazard > 10 * healthy.hazard
    before = healthy.hazard
    healthy.advance(START + 30 * DAY_MS, 3600)
    if not healthy.down:
        assert healthy.health < 0.9 and healthy.hazard > before


def test_preventive_repair_restores_most_of_the_health():
    s = sim(AssetKind.ELEVATOR, initial_health=0.5)
    assert s.repair(START, preventive=True) is False  # it was up: nothing to recover
    assert s.health == pytest.approx(0.5 + 0.9 * (s.h_max - 0.5))
    step = s.step(START + 60_000, 60)
    assert [type(m) for m in step] == [Reading]  # no recovery event: it had not failed
    truth = s.drain_truth()
    assert [(r.type, r.preventive, r.was_down) for r in truth if r.type == "repair"] == [
        ("repair", True, False)
    ]


def test_failed_asset_stays_down_until_repaired_then_recovers():
    s = sim(AssetKind.ELEVATOR, seed=5, initial_health=0.2)
    msgs = s.advance(START + 60 * DAY_MS, 3600)
    fault = next(m for m in msgs if isinstance(m, Event) and m.type is EventType.FAULT)
    after = [m for m in msgs if m.ts_ms > fault.ts_ms]
    assert s.down and s.fault_code == fault.code and s.hazard == 0.0
    assert not any(isinstance(m, Event) and m.type is EventType.RECOVERY for m in after)
    assert all(m.values["trips"] == 0 for m in after if isinstance(m, Reading))
    repair_at = s.t_ms + 600_000
    assert s.repair(repair_at, preventive=False) is True
    assert not s.down and s.health == s.h_max
    nxt = s.step(repair_at + 3_000_000, 3600)
    assert isinstance(nxt[0], Event) and nxt[0].type is EventType.RECOVERY
    assert (nxt[0].ts_ms, nxt[0].code) == (repair_at, fault.code)
    assert nxt[0].seq == msgs[-1].seq + 1


def test_elevator_trips_follow_the_day():
    s = sim(AssetKind.ELEVATOR, initial_health=1.0)
    readings = [m for m in s.advance(START + 14 * DAY_MS, 900) if isinstance(m, Reading)]
    hours = local_hour(np.array([m.ts_ms - 450_000 for m in readings]))
    trips = np.array([m.values["trips"] for m in readings])
    day = trips[((hours >= 7) & (hours < 9)) | ((hours >= 17) & (hours < 20))].mean()
    night = trips[(hours >= 0) & (hours < 5)].mean()
    assert day > 5 * night
    assert night >= 0 and day > 5


def test_bins_fill_and_overflow_alarms_come_with_full_readings(fleet):
    bins = Fleet(fleet.estates, tuple(a for a in fleet.assets if a.kind is AssetKind.SMART_BIN))
    s = FleetSimulator(bins, 2, START, auto_repair_after_s=3600)
    msgs = s.advance(START + 60 * DAY_MS, 900)
    fill = {
        (m.ref.asset, m.ts_ms): m.values["fill_pct"]
        for m in msgs
        if isinstance(m, Reading) and m.ref.kind is AssetKind.SMART_BIN
    }
    alarms = [m for m in msgs if isinstance(m, Event) and m.code == "overflow"]
    assert alarms
    for a in alarms:
        level = fill[(a.ref.asset, a.ts_ms)]
        assert level >= 95 if a.type is EventType.ALARM else level < 80
    assert min(fill.values()) < 10  # emptied every day


def test_ground_truth_file_matches_failure_events(fleet, tmp_path):
    s = FleetSimulator(fleet, 9, START, auto_repair_after_s=8 * 3600)
    path = tmp_path / "truth.jsonl"
    faults = []
    with TruthWriter(path) as writer:
        for day in range(1, 61, 20):
            msgs = s.advance(START + day * DAY_MS, 3600)
            faults += [
                (m.ref.asset, m.ts_ms, m.code)
                for m in msgs
                if isinstance(m, Event) and m.type is EventType.FAULT
            ]
            writer.write(s.drain_truth())
        msgs = s.advance(START + 61 * DAY_MS, 3600)
        faults += [
            (m.ref.asset, m.ts_ms, m.code) for m in msgs if isinstance(m, Event) and m.type is EventType.FAULT
        ]
        writer.write(s.drain_truth())
    truth = list(read_truth(path))
    failures = [(r.asset, r.ts, r.code) for r in truth if r.type == "failure"]
    assert len(faults) >= 10
    assert sorted(failures) == sorted(faults)
    repairs = [r for r in truth if r.type == "repair"]
    assert all(r.was_down and not r.preventive for r in repairs)
    assert any(r.type == "health" for r in truth)


def test_failure_probability_matches_simulated_failures():
    """The oracle's closed form agrees with the simulator's own failures (200 copies of one unit)."""
    horizon_h = 30 * 24
    predicted, failed = [], 0
    for seed in range(200):
        s = sim(AssetKind.WATER_PUMP, seed=seed, initial_health=0.5)
        predicted.append(s.failure_probability(horizon_h))
        s.advance(START + horizon_h * HOUR_MS, 3600)
        failed += s.down
    expected = sum(predicted)
    assert 0 < min(predicted) <= max(predicted) < 1
    assert abs(failed - expected) < 4 * np.sqrt(expected), (failed, expected)
    worn, fresh = sim(AssetKind.WATER_PUMP, initial_health=0.3), sim(AssetKind.WATER_PUMP, initial_health=0.5)
    assert (
        worn.failure_probability(horizon_h)
        > fresh.failure_probability(horizon_h)
        > fresh.failure_probability(24)
    )


def test_handing_repairs_to_the_crew_cancels_a_pending_self_repair():
    s = sim(AssetKind.SMART_BIN, seed=2, initial_health=0.15, auto_repair_after_s=6 * 3600)
    while not s.down:
        s.advance(s.t_ms + DAY_MS, 3600)
    s.set_auto_repair(None)
    msgs = s.advance(s.t_ms + 10 * DAY_MS, 3600)
    assert s.down and not any(isinstance(m, Event) and m.type is EventType.RECOVERY for m in msgs)
    s.set_auto_repair(3600)
    msgs = s.advance(s.t_ms + 3 * DAY_MS, 3600)
    assert not s.down
    changes = [
        m.type for m in msgs if isinstance(m, Event) and m.type in (EventType.FAULT, EventType.RECOVERY)
    ]
    assert changes[0] is EventType.RECOVERY
