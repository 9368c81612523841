"""The closed loop of the policy benchmark: a simulated fleet, a maintenance policy, crews, costs.

Each simulated day (decisions at 00:00 UTC = 08:00 in Shanghai) the policy may queue preventive visits
for that day, at most ``capacity`` a day; the simulator carries them out (``repair(preventive=True)``
restores health). A failed asset gets a corrective repair ``corrective_delay_h`` after it failed (emergency
call-out, not limited by the preventive capacity). Unplanned downtime = failure → corrective repair;
intactness = 1 − (unplanned downtime + ``job_hours`` per preventive visit) / asset-hours.
This is an adapter around simulators.FleetSimulator; the simulators themselves are not changed.
"""

from __future__ import annotations

import datetime as dt
import heapq
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from facility.fleet import Fleet
from simulators.fleetsim import FleetSimulator

DAY_MS = 86_400_000
HOUR_MS = 3_600_000


@dataclass(frozen=True)
class LoopConfig:
    start_ms: int
    days: int = 365
    step_s: float = 3600.0
    capacity: int = 3  # preventive visits a day (all crews)
    corrective_delay_h: float = 24.0
    job_hours: float = 2.0
    preventive_cost: float = 1.0
    corrective_cost: float = 5.0


@dataclass
class LoopState:
    """What a policy may look at when it decides (the oracle alone reads ``sim`` hidden state)."""

    sim: FleetSimulator
    now_ms: int
    last_service_ms: dict[str, int]  # last repair of any kind
    pending: set[str]  # assets with a visit queued or a corrective repair due
    down: set[str]
    sim_start_ms: int = 0
    messages: list = field(default_factory=list)  # messages since the previous decision


Policy = Callable[[LoopState, int], Sequence[str]]  # returns assets to visit today (≤ capacity)


def run_loop(fleet: Fleet, seed: int, cfg: LoopConfig, policy: Policy) -> dict[str, float]:
    sim = FleetSimulator(fleet, seed, cfg.start_ms, health_every_s=0)
    queue: list[tuple[int, int, str, bool]] = []  # (time, order, asset, preventive)
    counter = 0
    state = LoopState(sim, cfg.start_ms, dict.fromkeys(sim.assets, cfg.start_ms), set(), set(), cfg.start_ms)
    failures = preventive = corrective = 0
    downtime_ms = 0
    fail_at: dict[str, int] = {}
    end_ms = cfg.start_ms + cfg.days * DAY_MS

    def absorb(msgs: list) -> None:
        nonlocal failures, counter
        state.messages.extend(msgs)
        for rec in sim.drain_truth():
            if rec.type == "failure":
                failures += 1
                fail_at[rec.asset] = rec.ts
                state.down.add(rec.asset)
                state.pending.add(rec.asset)
                due = rec.ts + int(cfg.corrective_delay_h * HOUR_MS)
                heapq.heappush(queue, (due, counter, rec.asset, False))
                counter += 1

    for day in range(cfg.days):
        now = cfg.start_ms + day * DAY_MS
        state.now_ms = now
        chosen = [a for a in policy(state, cfg.capacity) if a not in state.pending][: cfg.capacity]
        state.messages = []
        for k, asset in enumerate(chosen):
            at = now + int((k % 4) * cfg.job_hours * HOUR_MS)  # visits in working hours from 08:00 local
            heapq.heappush(queue, (at, counter, asset, True))
            counter += 1
            state.pending.add(asset)
        horizon = min(now + DAY_MS, end_ms)
        while queue and queue[0][0] <= horizon:
            at, _, asset, planned = heapq.heappop(queue)
            absorb(sim.advance(at, cfg.step_s))
            was_down = sim.assets[asset].down
            sim.repair(asset, at, preventive=planned and not was_down)
            if was_down:
                corrective += 1
                downtime_ms += at - fail_at.pop(asset)
                state.down.discard(asset)
            elif planned:
                preventive += 1
            state.last_service_ms[asset] = at
            # a visit planned for an asset that failed meanwhile is absorbed by the corrective repair
            if not any(q[2] == asset for q in queue):
                state.pending.discard(asset)
        absorb(sim.advance(horizon, cfg.step_s))
    for t in fail_at.values():  # still down at the end
        downtime_ms += end_ms - t
    n = len(sim.assets)
    years = cfg.days / 365.0
    asset_hours = n * cfg.days * 24.0
    down_h = downtime_ms / HOUR_MS
    return {
        "failures": failures,
        "failures_per_100_assets_year": round(100.0 * failures / n / years, 2),
        "unplanned_downtime_hours": round(down_h, 1),
        "intactness": round(1.0 - (down_h + preventive * cfg.job_hours) / asset_hours, 5),
        "preventive_visits": preventive,
        "corrective_repairs": corrective,
        "maintenance_cost": preventive * cfg.preventive_cost + corrective * cfg.corrective_cost,
    }


# ------------------------------------------------------------------ the three simple policies


def reactive() -> Policy:
    def decide(state: LoopState, capacity: int) -> list[str]:
        return []

    return decide


def fixed_interval(interval_days: float) -> Policy:
    """Visit each asset ``interval_days`` after its last service; first visits phase-spread over the interval."""
    period = int(interval_days * DAY_MS)

    def decide(state: LoopState, capacity: int) -> list[str]:
        due = []
        for asset, last in state.last_service_ms.items():
            if asset in state.pending:
                continue
            first = last == state.sim_start_ms
            next_at = last + (zlib.crc32(asset.encode()) % period if first else period)
            if state.now_ms >= next_at:
                due.append((next_at, asset))
        return [a for _, a in sorted(due)[:capacity]]

    return decide


def oracle(hazard_threshold: float, horizon_days: float = 30.0) -> Policy:
    """Knows the true hazard: visits assets whose expected failures in the horizon pass the threshold."""

    def decide(state: LoopState, capacity: int) -> list[str]:
        scored = []
        for asset, sim in state.sim.assets.items():
            if asset in state.pending or sim.down:
                continue
            expected = sim.hazard * 24.0 * horizon_days
            if expected >= hazard_threshold:
                scored.append((-expected, asset))
        return [a for _, a in sorted(scored)[:capacity]]

    return decide


def utc_ms(year: int, month: int, day: int) -> int:
    return int(dt.datetime(year, month, day, tzinfo=dt.UTC).timestamp() * 1000)
