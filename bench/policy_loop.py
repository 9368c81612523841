"""The closed loop of the policy benchmark: a simulated fleet, a maintenance policy, crews, costs.

Each simulated day (decisions at 00:00 UTC = 08:00 in Shanghai) the policy may send crews on preventive visits,
at most ``capacity`` a day, 2 hours apart from 08:00 local; the simulator carries them out
(``repair(preventive=True)`` restores health; a visit that finds the asset failed repairs it, which is a
corrective repair). A failed asset gets a corrective repair after an emergency call-out delay that the simulator
draws (lognormal, median ``corrective_delay_h``, sigma 0.5: the rule simulators.history uses for the training
history), not limited by the preventive capacity.

Cost model (docs/benchmarks.md): a preventive visit costs ``preventive_cost``; a corrective repair of asset a
costs ``corrective_cost × w(a)``, where ``w`` is ``failure_weight`` (criticality / 3 with ``--use-criticality``,
so a dead fire panel weighs 5/3 and a broken bin 2/3; otherwise 1 for every asset). Unplanned downtime =
failure → corrective repair (also reported weighted by ``w``); intactness = 1 − (unplanned downtime +
``job_hours`` per preventive visit) / asset-hours. Every figure is counted from the simulators' ground truth.

Speed without losing fidelity: the assets are independent simulators, so each is advanced only when something
needs it — its visit, a policy that looks at it — in one vectorised run over all the hours since. Reactive runs
each asset's year in one call; the fixed interval looks only at assets that are due; a policy that reads every
asset (predictive scoring) advances them all. Chunking changes which random numbers go where, not the process.
This is an adapter around simulators.FleetSimulator; the simulators themselves are not changed.
"""

from __future__ import annotations

import datetime as dt
import math
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from facility.fleet import Fleet
from simulators.asset import Batch
from simulators.fleetsim import FleetSimulator
from simulators.truth import TruthRecord

DAY_MS = 86_400_000
HOUR_MS = 3_600_000


@dataclass(frozen=True)
class LoopConfig:
    start_ms: int
    days: int = 365
    step_s: float = 3600.0
    capacity: int = 3  # preventive visits a day (all crews)
    corrective_delay_h: float = 24.0  # median call-out delay after a failure
    job_hours: float = 2.0
    preventive_cost: float = 1.0
    corrective_cost: float = 5.0
    #: consequence weight of a failure per asset id (absent = 1)
    failure_weight: Mapping[str, float] = field(default_factory=dict)
    #: days the fleet runs before ``start_ms`` with no policy deciding (failures repaired on call-out) and
    #: nothing counted: the state every policy starts the year from, and the telemetry a policy that reads it
    #: has at the year's first decision — a deployed product has the readings of the weeks before any given
    #: day, and without them the predictive policy was blind for its first feature window of every year
    #: while the calendar and the oracle acted from day 0. The run before ``start_ms`` is the same for every
    #: policy on a seed (nothing decides there), so they all start from the same fleet.
    warmup_days: int = 0

    def weight(self, asset: str) -> float:
        return float(self.failure_weight.get(asset, 1.0))


class LoopState:
    """The fleet and what the maintenance side knows about it (as of each asset's last advance)."""

    def __init__(self, fleet: Fleet, seed: int, cfg: LoopConfig, policy: Policy) -> None:
        self.cfg = cfg
        #: where the simulation starts: ``warmup_days`` before the counted period
        self.sim_start_ms = cfg.start_ms - cfg.warmup_days * DAY_MS
        self.sim = FleetSimulator(
            fleet,
            seed,
            self.sim_start_ms,
            auto_repair_after_s=cfg.corrective_delay_h * 3600.0,
            health_every_s=policy.health_every_s,
        )
        self.assets = self.sim.assets
        self.kind = {a: s.kind.value for a, s in self.assets.items()}
        self.start_ms = cfg.start_ms
        self.now_ms = cfg.start_ms
        self.last_service_ms: dict[str, int] = dict.fromkeys(self.assets, self.sim_start_ms)
        self.down: set[str] = set()  # failed, waiting for the corrective repair
        self.truth: list[TruthRecord] = []  # failures and repairs (each asset's in time order)
        self.health: dict[str, list[TruthRecord]] = {a: [] for a in self.assets}
        #: every asset's telemetry since the policy last took it (only for policies that read telemetry)
        self.batches: dict[str, list[Batch]] | None = (
            {a: [] for a in self.assets} if policy.telemetry else None
        )
        self._step_ms = round(cfg.step_s * 1000)

    def advance(self, asset: str, until_ms: int) -> None:
        """Advance one asset in whole steps up to ``until_ms`` (one vectorised run)."""
        sim = self.assets[asset]
        n = (int(until_ms) - sim.t_ms) // self._step_ms
        if n > 0:
            ends = sim.t_ms + self._step_ms * np.arange(1, n + 1, dtype=np.int64)
            batch = sim.run(ends, self.cfg.step_s)
            if self.batches is not None:
                self.batches[asset].append(batch)
        self._absorb(sim.drain_truth())

    def sync(self, assets: Iterable[str] | None = None) -> None:
        """Advance ``assets`` (default: all) to now."""
        for a in self.assets if assets is None else list(assets):
            self.advance(a, self.now_ms)

    def visit(self, asset: str, at_ms: int) -> None:
        self.advance(asset, at_ms)
        self.assets[asset].repair(at_ms, preventive=True)
        self._absorb(self.assets[asset].drain_truth())

    def _absorb(self, records: Iterable[TruthRecord]) -> None:
        for r in records:
            if r.type == "failure":
                self.down.add(r.asset)
                self.truth.append(r)
            elif r.type == "repair":
                self.down.discard(r.asset)
                self.last_service_ms[r.asset] = r.ts
                self.truth.append(r)
            elif r.type == "health":
                self.health[r.asset].append(r)


class Policy:
    """Returns the assets to visit today (≤ capacity). Override ``decide``; the base class is reactive."""

    #: keep every asset's telemetry in ``state.batches`` (the predictive policy reads it)
    telemetry: bool = False
    #: ground-truth health samples every so many seconds (0 = none)
    health_every_s: float = 0.0

    def decide(self, state: LoopState, capacity: int) -> Sequence[str]:
        return []


def simulate(fleet: Fleet, seed: int, cfg: LoopConfig, policy: Policy) -> LoopState:
    state = LoopState(fleet, seed, cfg, policy)
    if cfg.warmup_days:
        state.sync()  # the warm-up in one run per asset: the same random numbers, whatever policy follows
        for samples in state.health.values():
            samples.clear()  # ground truth from before anyone decides is nobody's late check
    for day in range(cfg.days):
        state.now_ms = cfg.start_ms + day * DAY_MS
        chosen: list[str] = []
        for a in policy.decide(state, cfg.capacity):
            if a not in chosen and len(chosen) < cfg.capacity:
                chosen.append(a)
        for k, asset in enumerate(chosen):  # visits in working hours from 08:00 local
            state.visit(asset, state.now_ms + int((k % 4) * cfg.job_hours * HOUR_MS))
    state.now_ms = cfg.start_ms + cfg.days * DAY_MS
    state.sync()
    return state


def figures(state: LoopState) -> dict:
    """The policy's figures over the loop, overall and per kind (see the module docstring)."""
    cfg = state.cfg
    end_ms = cfg.start_ms + cfg.days * DAY_MS
    kinds = sorted(set(state.kind.values()))
    per = {
        k: {
            "failures": 0,
            "preventive_visits": 0,
            "corrective_repairs": 0,
            "downtime_hours": 0.0,
            "cost": 0.0,
        }
        for k in kinds
    }
    weighted_down_h = 0.0
    failed_at: dict[str, int] = {}
    for r in state.truth:
        if r.ts < cfg.start_ms:
            continue  # the warm-up: the same for every policy, not counted
        row = per[r.kind]
        if r.type == "failure":
            row["failures"] += 1
            failed_at[r.asset] = r.ts
        elif r.was_down:
            if r.asset not in failed_at:
                continue  # the repair of a failure in the warm-up (the same for every policy)
            down_h = (r.ts - failed_at.pop(r.asset)) / HOUR_MS
            row["corrective_repairs"] += 1
            row["downtime_hours"] += down_h
            row["cost"] += cfg.corrective_cost * cfg.weight(r.asset)
            weighted_down_h += down_h * cfg.weight(r.asset)
        elif r.preventive:
            row["preventive_visits"] += 1
            row["cost"] += cfg.preventive_cost
    for asset, t in failed_at.items():  # still down at the end
        down_h = (end_ms - t) / HOUR_MS
        per[state.kind[asset]]["downtime_hours"] += down_h
        weighted_down_h += down_h * cfg.weight(asset)
    n = len(state.assets)
    years = cfg.days / 365.0
    total = {key: sum(row[key] for row in per.values()) for key in per[kinds[0]]}
    down_h = float(total["downtime_hours"])
    asset_hours = n * cfg.days * 24.0
    return {
        "failures": total["failures"],
        "failures_per_100_assets_year": round(100.0 * total["failures"] / n / years, 2),
        "unplanned_downtime_hours": round(down_h, 1),
        "weighted_downtime_hours": round(weighted_down_h, 1),
        "intactness": round(1.0 - (down_h + total["preventive_visits"] * cfg.job_hours) / asset_hours, 5),
        "preventive_visits": total["preventive_visits"],
        "corrective_repairs": total["corrective_repairs"],
        "maintenance_cost": round(float(total["cost"]), 4),
        "by_kind": {
            k: {**row, "downtime_hours": round(row["downtime_hours"], 1), "cost": round(row["cost"], 4)}
            for k, row in per.items()
        },
    }


def run_loop(fleet: Fleet, seed: int, cfg: LoopConfig, policy: Policy) -> dict:
    return figures(simulate(fleet, seed, cfg, policy))


# ------------------------------------------------------------------ the three simple policies


def per_kind(value: float | Mapping[str, float], kind: str) -> float:
    return float(value[kind]) if isinstance(value, Mapping) else float(value)


class FixedInterval(Policy):
    """Visit each asset ``interval_days`` (per kind, or one for all) after its last service; first visits
    phase-spread over the interval; when more are due than capacity allows, the longest overdue go first."""

    def __init__(self, interval_days: float | Mapping[str, float]) -> None:
        self.interval_days = interval_days

    def _next(self, state: LoopState, asset: str) -> int:
        period = int(per_kind(self.interval_days, state.kind[asset]) * DAY_MS)
        last = state.last_service_ms[asset]
        if last == state.sim_start_ms:  # never serviced: first visits phase-spread over the counted period
            return state.start_ms + zlib.crc32(asset.encode()) % period
        return last + period

    def decide(self, state: LoopState, capacity: int) -> list[str]:
        # what is known may be stale: a repair since the last look only moves the due date later, so only
        # assets due on what is known (and those known down, which may have been repaired since) are looked at
        look = [a for a in state.assets if a in state.down or state.now_ms >= self._next(state, a)]
        state.sync(look)
        due = sorted(
            (self._next(state, a), a)
            for a in look
            if a not in state.down and state.now_ms >= self._next(state, a)
        )
        return [a for _, a in due[:capacity]]


class Oracle(Policy):
    """Knows the true hazard: visits assets whose expected failures in ``horizon_days`` reach the kind's
    threshold, the largest expected × failure weight first.

    An asset is looked at only when it could have reached its threshold: health falls at most ``safety`` ×
    its mean wear rate per day (a bound, checked: the daily ground-truth health samples count any day an
    asset was over its threshold unseen, ``late_checks``, which should be 0).
    """

    health_every_s = 86_400.0

    def __init__(
        self,
        thresholds: float | Mapping[str, float],
        weights: Mapping[str, float] | None = None,
        horizon_days: float = 30.0,
        safety: float = 2.0,
    ) -> None:
        self.thresholds = thresholds
        self.weights = weights or {}
        self.hours = 24.0 * horizon_days
        self.safety = safety
        self.next_look: dict[str, int] = {}
        self.late_checks = 0

    def _days_safe(self, state: LoopState, asset: str, threshold: float) -> int:
        sim = state.assets[asset]
        m = sim.model
        # health at which expected failures in the horizon reach the threshold
        h_star = 1.0 - math.log(threshold / (self.hours * m.hazard_base_per_h)) / m.hazard_k
        per_day = self.safety * 24.0 * sim.mean_wear_per_h
        return max(1, int((sim.health - h_star) / per_day))

    def decide(self, state: LoopState, capacity: int) -> list[str]:
        now = state.now_ms
        look = [a for a in state.assets if a in state.down or self.next_look.get(a, now) <= now]
        state.sync(look)
        hot = []
        for a in look:
            sim = state.assets[a]
            threshold = per_kind(self.thresholds, state.kind[a])
            seen = state.health[a]
            self.late_checks += sum(
                1 for r in seen if r.ts < now and r.hazard_per_h * self.hours >= threshold
            )
            seen.clear()
            if sim.down:
                self.next_look[a] = now + DAY_MS
                continue
            expected = sim.hazard * self.hours
            if expected >= threshold:
                hot.append((-expected * self.weights.get(a, 1.0), a))
                self.next_look[a] = now + DAY_MS
            else:
                self.next_look[a] = now + self._days_safe(state, a, threshold) * DAY_MS
        return [a for _, a in sorted(hot)[:capacity]]


def utc_ms(year: int, month: int, day: int) -> int:
    return int(dt.datetime(year, month, day, tzinfo=dt.UTC).timestamp() * 1000)


#: TSG T5002: a lift is maintained at least every 15 days (the regulated calendar)
REGULATED_LIFT_DAYS = 15.0


class OnTop(Policy):
    """A calendar (fixed intervals) with another policy on top: each day, the calendar's due visits first, then
    the other policy's choices, up to the capacity (``only_kinds``: the other policy's choices are taken for
    those kinds only, None = all)."""

    def __init__(self, calendar: FixedInterval, extra: Policy) -> None:
        self.calendar = calendar
        self.extra = extra
        self.telemetry = extra.telemetry
        self.health_every_s = extra.health_every_s

    def decide(self, state: LoopState, capacity: int) -> list[str]:
        due = list(self.calendar.decide(state, capacity))
        more = [a for a in self.extra.decide(state, capacity) if a not in due]
        return (due + more)[:capacity]
