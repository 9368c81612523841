"""The preventive-work planner: a pure function from forecasts to planned work orders (clock passed in).

Rules, in order:

1. An asset is a candidate when its ``risk`` (= P(failure within the risk horizon) × criticality) reaches
   ``settings.risk_threshold``. The threshold comes from backtests (:func:`threshold_from_backtest`), not a
   guess: flooding crews with false alarms is how such planners fail.
2. No duplicate: an asset with an open order (any type) gets none, and each asset at most one.
3. Candidates are served earliest deadline first (deadline = failure window start − ``lead_hours``; no
   window: the planning horizon), ties by higher risk, each in the earliest free slot of any crew. A slot is
   ``job_hours`` long inside working hours (local time ``tz``) on working days, starts no earlier than
   ``now``, and a crew has at most ``crews_capacity[crew]`` slots a day. Earliest-deadline-first on unit
   jobs meets every deadline that can be met.
4. An order whose earliest free slot ends after its deadline is still planned (``late=True``) with the
   reason saying so; a candidate with no free slot within ``horizon_days`` is not planned.
5. Every order carries its reasons and needs an engineer's approval unless ``auto_approve`` is set.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from predict.forecast import Forecast

#: criticality of a typical asset: the backtest threshold on probability applies to it as it is
REFERENCE_CRITICALITY = 3


class HasAssetId(Protocol):
    @property
    def asset_id(self) -> str: ...


@dataclass(frozen=True)
class PlannerSettings:
    risk_threshold: float = 0.9
    #: per-kind thresholds (e.g. each kind's backtest threshold); kinds not listed use ``risk_threshold``
    kind_thresholds: Mapping[str, float] = field(default_factory=dict)
    work_hours: tuple[int, int] = (8, 17)
    work_days: frozenset[int] = field(default_factory=lambda: frozenset({0, 1, 2, 3, 4}))  # Monday = 0
    job_hours: float = 2.0
    lead_hours: float = 0.0
    horizon_days: int = 30
    auto_approve: bool = False
    tz: str = "Asia/Shanghai"

    def threshold(self, kind: str) -> float:
        return float(self.kind_thresholds.get(kind, self.risk_threshold))

    def __post_init__(self) -> None:
        start, end = self.work_hours
        if not 0 <= start < end <= 24:
            raise ValueError(
                f"work_hours must be (start, end) with 0 <= start < end <= 24, but was {self.work_hours}"
            )
        if not 0 < self.job_hours <= end - start:
            raise ValueError(
                f"job_hours must fit in the working day ({end - start} h), but was {self.job_hours}"
            )
        if self.risk_threshold < 0:
            raise ValueError(f"risk_threshold must be non-negative, but was {self.risk_threshold!r}")
        if not self.work_days or not set(self.work_days) <= set(range(7)):
            raise ValueError(
                f"work_days must be weekday numbers 0 (Monday) .. 6, but was {sorted(self.work_days)}"
            )


@dataclass(frozen=True)
class PlannedOrder:
    asset: str
    kind: str
    crew: str
    start: dt.datetime
    end: dt.datetime
    risk: float
    probability: float
    window_start: dt.datetime | None
    window_end: dt.datetime | None
    model_version: str
    reasons: tuple[str, ...]
    requires_approval: bool
    late: bool = False
    order_type: str = "preventive"


def threshold_from_backtest(probability: float, reference_criticality: int = REFERENCE_CRITICALITY) -> float:
    """Risk threshold from the backtest's probability threshold (``ModelVersion.threshold['probability']``)."""
    if not 0 < probability <= 1:
        raise ValueError(f"probability threshold must be in (0, 1], but was {probability!r}")
    return probability * reference_criticality


def _slots(
    now: dt.datetime, crews: Mapping[str, int], cfg: PlannerSettings
) -> Iterator[tuple[str, dt.datetime, dt.datetime]]:
    """Every (crew, start, end) slot from ``now`` to the horizon, in time order (crews by name on ties)."""
    tz = ZoneInfo(cfg.tz)
    local_now = now.astimezone(tz)
    per_day = int((cfg.work_hours[1] - cfg.work_hours[0]) // cfg.job_hours)
    step = dt.timedelta(hours=cfg.job_hours)
    for d in range(cfg.horizon_days + 1):
        day = local_now.date() + dt.timedelta(days=d)
        if day.weekday() not in cfg.work_days:
            continue
        first = dt.datetime.combine(day, dt.time(cfg.work_hours[0]), tzinfo=tz)
        used: dict[str, int] = dict.fromkeys(crews, 0)
        for k in range(per_day):
            start = first + k * step
            for crew in sorted(crews):
                if used[crew] >= min(crews[crew], per_day):
                    continue
                used[crew] += 1  # a slot of the day counts whether taken now or skipped as past
                if start >= local_now:
                    yield crew, start.astimezone(dt.UTC), (start + step).astimezone(dt.UTC)


def _open_assets(open_orders: Iterable[str | HasAssetId | Any]) -> set[str]:
    out = set()
    for order in open_orders:
        out.add(order if isinstance(order, str) else str(order.asset_id))
    return out


def _reasons(f: Forecast, cfg: PlannerSettings) -> list[str]:
    p = f.probability(f.risk_horizon_days)
    out = [
        f"P(failure within {f.risk_horizon_days} d) = {p:.2f} (model {f.model_version})",
        f"risk {f.risk:.2f} = {p:.2f} × criticality {f.criticality} ≥ threshold {cfg.threshold(f.kind):.2f}",
    ]
    if f.window_start is not None:
        end = f"{f.window_end:%Y-%m-%d}" if f.window_end else "beyond the forecast horizon"
        out.append(f"predicted failure window {f.window_start:%Y-%m-%d} – {end} (20%–80% of failures)")
    if f.drivers:
        listed = ", ".join(f"{d.name} ({d.contribution:+.2f})" for d in f.drivers)
        out.append(f"drivers: {listed}")
    return out


def plan_work_orders(
    forecasts: Sequence[Forecast],
    open_orders: Iterable[str | HasAssetId | Any],
    crews_capacity: Mapping[str, int],
    now: dt.datetime,
    settings: PlannerSettings | None = None,
) -> list[PlannedOrder]:
    """Preventive orders for at-risk assets (see the module docstring), in schedule order."""
    cfg = settings or PlannerSettings()
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC): pass dt.datetime.now(dt.UTC)")
    bad = {c: n for c, n in crews_capacity.items() if n < 0}
    if bad:
        raise ValueError(f"crew capacities must be >= 0 orders a day, got {bad}")
    blocked = _open_assets(open_orders)
    best: dict[str, Forecast] = {}
    for f in forecasts:
        eligible = f.risk >= cfg.threshold(f.kind) and f.asset not in blocked
        if eligible and (f.asset not in best or f.risk > best[f.asset].risk):
            best[f.asset] = f
    horizon_end = now + dt.timedelta(days=cfg.horizon_days)
    lead = dt.timedelta(hours=cfg.lead_hours)

    def deadline(f: Forecast) -> dt.datetime:
        return (f.window_start - lead) if f.window_start is not None else horizon_end

    queue = sorted(best.values(), key=lambda f: (deadline(f), -f.risk, f.asset))
    slots = _slots(now, crews_capacity, cfg)
    planned = []
    for f in queue:
        slot = next(slots, None)
        if slot is None:
            break
        crew, start, end = slot
        late = end > deadline(f)
        reasons = _reasons(f, cfg)
        if late:
            reasons.append("late: the earliest free slot ends after the predicted window opens")
        planned.append(
            PlannedOrder(
                asset=f.asset,
                kind=f.kind,
                crew=crew,
                start=start,
                end=end,
                risk=f.risk,
                probability=f.probability(f.risk_horizon_days),
                window_start=f.window_start,
                window_end=f.window_end,
                model_version=f.model_version,
                reasons=tuple(reasons),
                requires_approval=not cfg.auto_approve,
                late=late,
            )
        )
    return planned
