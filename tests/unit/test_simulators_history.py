"""History generator: time order, counts, ground truth of failures and repairs, bulk writing."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest

from facility.contract import Event, EventType, Reading
from facility.fleet import load_fleet
from simulators.fleetsim import FleetSimulator
from simulators.history import generate_history, write_history

REPO = Path(__file__).resolve().parents[2]
END = int(dt.datetime(2026, 11, 23, 9, 7, tzinfo=dt.UTC).timestamp() * 1000)


@pytest.fixture(scope="module")
def history():
    fleet = load_fleet(REPO / "simulators" / "fleets" / "demo.yaml")
    return fleet, generate_history(fleet, seed=4, end_ms=END, days=30, step_s=900, preventive_every_days=14)


def test_history_is_in_time_order_with_one_reading_per_asset_and_step(history):
    fleet, h = history
    msgs = list(h.messages())
    assert [m.ts_ms for m in msgs] == sorted(m.ts_ms for m in msgs)
    readings = Counter(m.ref.asset for m in msgs if isinstance(m, Reading))
    steps = 30 * 96
    assert h.end_ms <= END < h.end_ms + 900_000 and h.end_ms - h.start_ms == steps * 900_000
    offline = {r.asset for r in h.failures() if r.code == "offline"}
    for spec in fleet.assets:  # an offline fire panel sends nothing while down
        assert readings[spec.id] == steps or spec.id in offline
    assert h.reading_count == sum(readings.values())
    assert msgs == list(h.messages())  # may be iterated again


def test_history_truth_lists_failures_and_repairs_as_the_events_say(history):
    _, h = history
    msgs = list(h.messages())
    faults = sorted(
        (m.ref.asset, m.ts_ms, m.code) for m in msgs if isinstance(m, Event) and m.type is EventType.FAULT
    )
    recov = sorted(
        (m.ref.asset, m.ts_ms) for m in msgs if isinstance(m, Event) and m.type is EventType.RECOVERY
    )
    assert faults and faults == sorted((r.asset, r.ts, r.code) for r in h.failures())
    corrective = sorted((r.asset, r.ts) for r in h.repairs() if r.was_down)
    assert recov == corrective
    preventive = [r for r in h.repairs() if r.preventive]
    assert len(preventive) >= len({r.asset for r in preventive}) >= 30  # about two visits per asset


def test_write_history_batches_every_message(history):
    _, h = history
    batches: list[list[str]] = []
    n = write_history(h.messages(), batches.append, lambda m: f"{m.ref.asset} {m.ts_ms}", batch_size=10_000)
    assert n == sum(len(b) for b in batches) == sum(1 for _ in h.messages())
    assert all(len(b) == 10_000 for b in batches[:-1]) and 0 < len(batches[-1]) <= 10_000


def test_live_fleet_carries_on_from_the_history_state():
    fleet = load_fleet(REPO / "simulators" / "fleets" / "demo.yaml")
    h = generate_history(fleet, seed=5, end_ms=END, days=20, step_s=3600)
    sims = h.simulators()
    health = {k: s.health for k, s in sims.items()}
    last_seq = {}
    for m in h.messages():
        last_seq[m.ref.asset] = m.seq
    live = FleetSimulator(fleet, 5, h.end_ms, auto_repair_after_s=None, simulators=sims)
    assert live.t_ms == h.end_ms
    assert {k: a.health for k, a in live.assets.items()} == health
    msgs = live.advance(h.end_ms + 600_000, 60)
    first = {}
    for m in msgs:
        first.setdefault(m.ref.asset, m.seq)
    assert first == {k: v + 1 for k, v in last_seq.items() if k in first}
    assert len(first) == len(fleet.assets) - sum(1 for a in live.assets.values() if a.fault_code == "offline")
    # with the crew in charge, an asset that was down at the end of the history stays down
    down = [a for a in live.assets.values() if a.down]
    live.advance(h.end_ms + 5 * 86_400_000, 3600)
    assert all(a.down for a in down)
