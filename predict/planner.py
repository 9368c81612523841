"""The preventive-work planner: a pure function from forecasts to planned work orders (clock passed in).

Rules, in order:

1. An asset is a candidate when its ``risk`` (= P(failure within the risk horizon) × criticality) reaches
   ``settings.risk_threshold`` — or, where ``max_interval_days`` gives its kind a calendar, when its last visit
   (``last_visits``) is that long ago: predictive maintenance on top of a calendar (a backstop for what the
   telemetry does not show, or a regulated interval such as TSG T5002's 15 days for lifts). The threshold comes from backtests (:func:`threshold_from_backtest`), not a
   guess: flooding crews with false alarms is how such planners fail. Whatever its criticality, an asset is no
   predictive candidate below its kind's ``min_probability`` (the kind's Kaplan–Meier rate: the typical asset).
2. No duplicate: an asset with an open order (any type) gets none, and each asset at most one. No proposal
   within the kind's cool-down after a visit (``last_visits``; ``cooldown_days``, default one feature window:
   the forecast of a freshly repaired asset is the renewal curve, not news) unless new evidence — an alarm or a
   fault (``evidence``) — arrived after the visit.
3. Candidates are served earliest deadline first (deadline = failure window start − ``lead_hours``; no
   window: the planning horizon), ties by higher risk, each in the earliest free slot of a crew that may
   take it: one with the kind's skill, covering the asset's estate (``estates``; a crew listing no estates
   covers all), inside that crew's working hours (its own time zone) on working days, at most its daily
   capacity. A slot is ``job_hours`` long and starts no earlier than ``now``. Earliest-deadline-first on unit
   jobs meets every deadline that can be met.
4. An order whose earliest free slot ends after its deadline is still planned (``late=True``) with the
   reason saying so; a candidate with no free slot within ``horizon_days`` is not planned.
5. Every order carries its reasons (catalogue keys with parameters, :mod:`predict.reasons`: they read in
   Chinese by default, in English on request), a scheduled window (``start`` → ``due``: done by the deadline, at most
   ``window_days`` after the slot) and needs an engineer's approval unless ``auto_approve`` is set.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from predict.forecast import Driver, Forecast
from predict.reasons import Localized, Reason, reason

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
    #: days after a visit in which an asset gets no new proposal without new evidence (per kind, else default)
    cooldown_days: Mapping[str, float] = field(default_factory=dict)
    default_cooldown_days: float = 14.0
    #: the scheduled window of a proposal is at most this long after its slot starts
    window_days: float = 7.0
    #: per kind: a visit is due this many days after the last one whatever the risk (a calendar under the
    #: predictions); kinds not listed have none
    max_interval_days: Mapping[str, float] = field(default_factory=dict)
    #: per kind: no predictive proposal below this P(failure within the risk horizon), whatever the criticality
    #: (the kind's Kaplan–Meier rate: a proposal singles the asset out; :func:`predict.jobs.planner_settings`)
    min_probability: Mapping[str, float] = field(default_factory=dict)

    def cooldown(self, kind: str) -> dt.timedelta:
        return dt.timedelta(days=float(self.cooldown_days.get(kind, self.default_cooldown_days)))

    def threshold(self, kind: str) -> float:
        return float(self.kind_thresholds.get(kind, self.risk_threshold))

    def floor(self, kind: str) -> float:
        return float(self.min_probability.get(kind, 0.0))

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
    #: why, as catalogue keys and parameters: ``Reason.text(lang)`` reads them in zh (default) or en
    reasons: tuple[Reason, ...]
    requires_approval: bool
    late: bool = False
    order_type: str = "preventive"
    #: the end of the scheduled window: the work is due by then (its SLA, maintenance/sla.py)
    due: dt.datetime | None = None


@dataclass(frozen=True)
class CrewSpec:
    """A crew as the planner sees it: skills (asset kinds; empty = any), estates (empty = all), working hours
    in its time zone (end < start: a night shift) and preventive jobs it can take a day."""

    id: str
    skills: frozenset[str] = frozenset()
    estates: frozenset[str] = frozenset()
    hours: tuple[int, int] | None = None
    tz: str | None = None
    capacity: int = 3

    def __post_init__(self) -> None:
        if self.capacity < 0:
            raise ValueError(f"crew {self.id}: capacity must be >= 0 orders a day, got {self.capacity}")

    def may_take(self, kind: str, estate: str | None) -> bool:
        skilled = not self.skills or kind in self.skills
        return skilled and (not self.estates or estate is None or estate in self.estates)


def threshold_from_backtest(probability: float, reference_criticality: int = REFERENCE_CRITICALITY) -> float:
    """Risk threshold from the backtest's probability threshold (``ModelVersion.threshold['probability']``)."""
    if not 0 < probability <= 1:
        raise ValueError(f"probability threshold must be in (0, 1], but was {probability!r}")
    return probability * reference_criticality


def _number(value: float) -> str:
    """A threshold for the reasons: ∞ when the kind has none (no predictive proposals)."""
    return f"{value:.2f}" if math.isfinite(value) else "∞"


def _ranges(hours: tuple[int, int]) -> list[tuple[int, int]]:
    start, end = hours
    return [(start, end)] if start < end else [(0, end), (start, 24)]


def _crew_slots(
    now: dt.datetime, crew: CrewSpec, cfg: PlannerSettings
) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """The crew's (start, end) slots from ``now`` to the horizon, in time order."""
    tz = ZoneInfo(crew.tz or cfg.tz)
    local_now = now.astimezone(tz)
    step = dt.timedelta(hours=cfg.job_hours)
    for d in range(cfg.horizon_days + 1):
        day = local_now.date() + dt.timedelta(days=d)
        if day.weekday() not in cfg.work_days:
            continue
        used = 0
        for lo, hi in _ranges(crew.hours or cfg.work_hours):
            first = dt.datetime.combine(day, dt.time(lo), tzinfo=tz)
            for k in range(int((hi - lo) // cfg.job_hours)):
                if used >= crew.capacity:
                    break
                used += 1  # a slot of the day counts whether taken now or skipped as past
                start = first + k * step
                if start >= local_now:
                    yield start.astimezone(dt.UTC), (start + step).astimezone(dt.UTC)


class _Crews:
    """Each crew's next free slot; a job takes the earliest among the crews that may take it."""

    def __init__(self, crews: Sequence[CrewSpec], now: dt.datetime, cfg: PlannerSettings) -> None:
        self.crews = sorted(crews, key=lambda c: c.id)
        self.slots = {c.id: _crew_slots(now, c, cfg) for c in self.crews}
        self.head: dict[str, tuple[dt.datetime, dt.datetime] | None] = {
            c.id: next(self.slots[c.id], None) for c in self.crews
        }

    def take(self, kind: str, estate: str | None) -> tuple[str, dt.datetime, dt.datetime] | None:
        best: tuple[dt.datetime, str] | None = None
        for c in self.crews:
            head = self.head[c.id]
            if head is not None and c.may_take(kind, estate) and (best is None or head[0] < best[0]):
                best = (head[0], c.id)
        if best is None:
            return None
        crew = best[1]
        start, end = self.head[crew]  # type: ignore[misc]
        self.head[crew] = next(self.slots[crew], None)
        return crew, start, end


def crews_from_capacity(crews_capacity: Mapping[str, int]) -> list[CrewSpec]:
    """Crews given as ``{name: jobs a day}``: any skill, every estate, the planner's working hours."""
    bad = {c: n for c, n in crews_capacity.items() if n < 0}
    if bad:
        raise ValueError(f"crew capacities must be >= 0 orders a day, got {bad}")
    return [CrewSpec(name, capacity=n) for name, n in crews_capacity.items()]


def _open_assets(open_orders: Iterable[str | HasAssetId | Any]) -> set[str]:
    out = set()
    for order in open_orders:
        out.add(order if isinstance(order, str) else str(order.asset_id))
    return out


def _drivers(f: Forecast) -> Localized:
    """The forecast's drivers in words with units (:mod:`predict.explain`), in zh and en."""

    def raw(d: Driver) -> str:
        return f"{d.name} ({d.contribution:+.2f})"

    return Localized(
        "；".join(d.text or raw(d) for d in f.drivers), "; ".join(d.text_en or raw(d) for d in f.drivers)
    )


def _reasons(f: Forecast, cfg: PlannerSettings, by_calendar: bool, late: bool) -> tuple[Reason, ...]:
    """Why the visit is proposed (catalogue keys ``plan.reason.*``, :mod:`predict.reasons`)."""
    p = f.probability(f.risk_horizon_days)
    out = [
        reason("probability", days=f"{f.risk_horizon_days}", p=f"{p:.1%}", model=f.model_version),
    ]
    if by_calendar:
        days = f"{cfg.max_interval_days[f.kind]:g}"
        out.append(
            reason("calendar", days=days, risk=f"{f.risk:.2f}", threshold=_number(cfg.threshold(f.kind)))
        )
    else:
        out.append(
            reason(
                "risk",
                risk=f"{f.risk:.2f}",
                p=f"{p:.2f}",
                criticality=f"{f.criticality}",
                threshold=f"{cfg.threshold(f.kind):.2f}",
            )
        )
    if f.window_start is not None and f.window_end is not None:
        out.append(reason("window", start=f.window_start, end=f.window_end))
    elif f.window_start is not None:
        out.append(reason("window_open", start=f.window_start))
    if f.drivers:
        out.append(reason("drivers", drivers=_drivers(f)))
    if late:
        out.append(reason("late"))
    return tuple(out)


def plan_work_orders(
    forecasts: Sequence[Forecast],
    open_orders: Iterable[str | HasAssetId | Any],
    crews_capacity: Mapping[str, int] | Sequence[CrewSpec],
    now: dt.datetime,
    settings: PlannerSettings | None = None,
    *,
    estates: Mapping[str, str] | None = None,
    last_visits: Mapping[str, dt.datetime] | None = None,
    evidence: Mapping[str, dt.datetime] | None = None,
) -> list[PlannedOrder]:
    """Preventive orders for at-risk assets (see the module docstring), in schedule order.

    ``crews_capacity``: :class:`CrewSpec` s, or ``{crew: jobs a day}`` (any skill, every estate); ``estates``:
    each asset's estate; ``last_visits``: each asset's last repair or visit; ``evidence``: each asset's last
    alarm or fault."""
    cfg = settings or PlannerSettings()
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC): pass dt.datetime.now(dt.UTC)")
    crews = (
        crews_from_capacity(crews_capacity) if isinstance(crews_capacity, Mapping) else list(crews_capacity)
    )
    blocked = _open_assets(open_orders)
    visits, news, where = last_visits or {}, evidence or {}, estates or {}

    def cooling(f: Forecast) -> bool:
        visit = visits.get(f.asset)
        if visit is None or now - visit >= cfg.cooldown(f.kind):
            return False
        seen = news.get(f.asset)
        return seen is None or seen <= visit  # new evidence since the visit lifts the cool-down

    def calendar_due(f: Forecast) -> bool:
        interval = cfg.max_interval_days.get(f.kind)
        visit = visits.get(f.asset)
        return interval is not None and visit is not None and now - visit >= dt.timedelta(days=interval)

    best: dict[str, Forecast] = {}
    due_by_calendar: set[str] = set()
    for f in forecasts:
        at_risk = f.risk >= cfg.threshold(f.kind) and f.probability(f.risk_horizon_days) >= cfg.floor(f.kind)
        if not at_risk and calendar_due(f):
            due_by_calendar.add(f.asset)
        eligible = (at_risk or calendar_due(f)) and f.asset not in blocked and not cooling(f)
        if eligible and (f.asset not in best or f.risk > best[f.asset].risk):
            best[f.asset] = f
    horizon_end = now + dt.timedelta(days=cfg.horizon_days)
    lead = dt.timedelta(hours=cfg.lead_hours)

    def deadline(f: Forecast) -> dt.datetime:
        return (f.window_start - lead) if f.window_start is not None else horizon_end

    queue = sorted(best.values(), key=lambda f: (deadline(f), -f.risk, f.asset))
    pool = _Crews(crews, now, cfg)
    planned = []
    for f in queue:
        slot = pool.take(f.kind, where.get(f.asset))
        if slot is None:
            continue  # no crew that may take it has a free slot within the horizon
        crew, start, end = slot
        late = end > deadline(f)
        reasons = _reasons(f, cfg, f.asset in due_by_calendar, late)
        due = max(end, min(deadline(f), start + dt.timedelta(days=cfg.window_days)))
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
                reasons=reasons,
                requires_approval=not cfg.auto_approve,
                late=late,
                due=due,
            )
        )
    return sorted(planned, key=lambda o: (o.start, o.crew, o.asset))
