"""Service and prevention indicators over work orders (formulas: docs/evaluation.md).

An order belongs to the period in which it was **created**. Cancelled orders are left out of every service
share (they count only in the rejection rate's denominator). An order that has not yet reached a milestone
counts as late once ``as_of`` is past its deadline, and is left out (pending) before that.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from evaluation.inputs import REACTIVE, OrderRecord, OrderType
from evaluation.metric_types import MetricSettings, MetricValue, nearest_rank, ratio
from evaluation.periods import Period
from evaluation.timeline import Outage


def created_in(orders: Sequence[OrderRecord], p: Period) -> list[OrderRecord]:
    return [o for o in orders if p.start <= o.created < p.end]


def reactive(orders: Sequence[OrderRecord], p: Period) -> list[OrderRecord]:
    return [o for o in created_in(orders, p) if o.type in REACTIVE and o.cancelled is None]


def _on_time(
    name: str,
    orders: Sequence[OrderRecord],
    reached: Callable[[OrderRecord], dt.datetime | None],
    deadline: Callable[[OrderRecord], dt.datetime],
    as_of: dt.datetime,
) -> MetricValue:
    on_time: list[str] = []
    late: list[str] = []
    for o in orders:
        at, due = reached(o), deadline(o)
        if at is not None:
            (on_time if at <= due else late).append(o.order_id)
        elif as_of > due:
            late.append(o.order_id)
    m = ratio(name, len(on_time), len(on_time) + len(late), evidence=tuple(on_time + late))
    note = f"late: {', '.join(late)}" if late else m.note
    return MetricValue(m.name, m.value, m.unit, m.numerator, m.denominator, m.evidence, note)


def response_on_time_rate(orders: Sequence[OrderRecord], p: Period, s: MetricSettings) -> MetricValue:
    target = dt.timedelta(minutes=s.response_target_min)
    return _on_time(
        "response_on_time_rate",
        reactive(orders, p),
        lambda o: o.responded,
        lambda o: o.respond_by or o.created + target,
        s.as_of,
    )


def resolve_on_time_rate(orders: Sequence[OrderRecord], p: Period, s: MetricSettings) -> MetricValue:
    target = dt.timedelta(hours=s.resolve_target_h)
    return _on_time(
        "resolve_on_time_rate",
        reactive(orders, p),
        lambda o: o.resolved,
        lambda o: o.resolve_by or o.created + target,
        s.as_of,
    )


def first_time_fix_rate(orders: Sequence[OrderRecord], p: Period) -> MetricValue:
    done = [o for o in reactive(orders, p) if o.resolved is not None]
    ok = [o for o in done if o.reopened == 0 and not o.rework]
    return ratio("first_time_fix_rate", len(ok), len(done), evidence=tuple(o.order_id for o in done))


def rework_rate(orders: Sequence[OrderRecord], p: Period) -> MetricValue:
    done = [o for o in reactive(orders, p) if o.resolved is not None]
    bad = [o for o in done if o.rework or o.reopened > 0]
    return ratio("rework_rate", len(bad), len(done), evidence=tuple(o.order_id for o in bad))


def follow_up_rate(orders: Sequence[OrderRecord], p: Period) -> MetricValue:
    closed = [o for o in reactive(orders, p) if o.closed is not None and o.followed_up is not None]
    ok = [o for o in closed if o.followed_up]
    return ratio("follow_up_rate", len(ok), len(closed), evidence=tuple(o.order_id for o in closed))


def order_satisfaction_rate(orders: Sequence[OrderRecord], p: Period) -> MetricValue:
    """Reactive orders the resident rated 4 or 5 (of 5) among those rated."""
    rated = [o for o in reactive(orders, p) if o.resident_rating is not None]
    ok = [o for o in rated if (o.resident_rating or 0) >= 4]
    return ratio("order_satisfaction_rate", len(ok), len(rated), evidence=tuple(o.order_id for o in rated))


def rejection_rate(orders: Sequence[OrderRecord], p: Period) -> MetricValue:
    created = created_in(orders, p)
    bad = [o for o in created if o.rejected is not None]
    return ratio("rejection_rate", len(bad), len(created), evidence=tuple(o.order_id for o in bad))


def _durations(
    orders: Sequence[OrderRecord], reached: Callable[[OrderRecord], dt.datetime | None], unit_s: float
) -> tuple[list[float], tuple[str, ...]]:
    vals: list[float] = []
    ids: list[str] = []
    for o in orders:
        at = reached(o)
        if at is not None:
            vals.append((at - o.created).total_seconds() / unit_s)
            ids.append(o.order_id)
    return vals, tuple(ids)


def response_times(orders: Sequence[OrderRecord], p: Period) -> tuple[MetricValue, MetricValue]:
    vals, ids = _durations(reactive(orders, p), lambda o: o.responded, 60.0)
    return _mean_p90("response_minutes", vals, ids, "min")


def resolution_times(orders: Sequence[OrderRecord], p: Period) -> tuple[MetricValue, MetricValue]:
    vals, ids = _durations(reactive(orders, p), lambda o: o.resolved, 3600.0)
    return _mean_p90("resolution_hours", vals, ids, "h")


def _mean_p90(
    stem: str, vals: list[float], ids: tuple[str, ...], unit: str
) -> tuple[MetricValue, MetricValue]:
    if not vals:
        return (
            MetricValue(f"{stem}_mean", None, unit, note="no data"),
            MetricValue(f"{stem}_p90", None, unit, note="no data"),
        )
    return (
        MetricValue(f"{stem}_mean", sum(vals) / len(vals), unit, sum(vals), len(vals), ids),
        MetricValue(f"{stem}_p90", nearest_rank(vals, 0.9), unit, 0, len(vals), ids),
    )


# ---------------------------------------------------------------- prevention


def preventive_share(orders: Sequence[OrderRecord], p: Period) -> MetricValue:
    live = [o for o in created_in(orders, p) if o.cancelled is None]
    prev = [o for o in live if o.type is OrderType.PREVENTIVE]
    base = [o for o in live if o.type is OrderType.PREVENTIVE or o.type in REACTIVE]
    return ratio("preventive_share", len(prev), len(base), evidence=tuple(o.order_id for o in prev))


def _window_end(o: OrderRecord) -> dt.datetime | None:
    return o.window_end or o.resolve_by


def preventive_on_time_rate(orders: Sequence[OrderRecord], p: Period, s: MetricSettings) -> MetricValue:
    """Preventive orders whose window closes in the period: resolved by the window's end."""
    due: list[tuple[OrderRecord, dt.datetime]] = []
    for o in orders:
        end = _window_end(o)
        if (
            o.type is OrderType.PREVENTIVE
            and o.cancelled is None
            and end is not None
            and p.start <= end < p.end
        ):
            due.append((o, end))
    ends = {o.order_id: end for o, end in due}
    return _on_time(
        "preventive_on_time_rate",
        [o for o, _ in due],
        lambda o: o.resolved,
        lambda o: ends[o.order_id],
        s.as_of,
    )


def failures_preceded_rate(
    orders: Sequence[OrderRecord], failures: Sequence[Outage], s: MetricSettings
) -> MetricValue:
    """Failures (starting in the period) with a preventive order on the same asset created within
    ``precede_days`` before the failure began."""
    window = dt.timedelta(days=s.precede_days)
    prev = [o for o in orders if o.type is OrderType.PREVENTIVE]
    hit: list[str] = []
    for f in failures:
        if any(o.asset_id == f.asset_id and f.start - window <= o.created < f.start for o in prev):
            hit.append(f.refs[0] if f.refs else f.asset_id)
    refs = tuple(f.refs[0] if f.refs else f.asset_id for f in failures)
    return ratio("failures_preceded_rate", len(hit), len(failures), evidence=refs)
