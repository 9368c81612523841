"""Intactness, fault rate, MTBF and MTTR from the normalised state timelines (formulas: docs/evaluation.md)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from evaluation.inputs import AssetState, Dataset
from evaluation.metric_types import MetricSettings, MetricValue, ratio
from evaluation.periods import Period
from evaluation.timeline import Outage, Segment, normalise, outages

#: an asset-month is 30 asset-days (720 asset-hours), whatever the calendar month's length
ASSET_MONTH_H = 720.0


@dataclass(frozen=True)
class Timelines:
    """Every asset's segments and outages, normalised once per dataset."""

    segments: tuple[Segment, ...]
    outages: tuple[Outage, ...]


def timelines(ds: Dataset, settings: MetricSettings) -> Timelines:
    orders = {o.order_id: o for o in ds.orders}
    by_asset: dict[str, list] = {a.asset_id: [] for a in ds.assets}
    for i in ds.intervals:
        by_asset.setdefault(i.asset_id, []).append(i)
    segs: list[Segment] = []
    outs: list[Outage] = []
    for a in ds.assets:
        s = normalise(a, by_asset[a.asset_id], orders, settings.as_of, settings.excuse_planned)
        segs.extend(s)
        outs.extend(outages(s))
    return Timelines(tuple(segs), tuple(outs))


def _known_working(segs: Sequence[Segment], p: Period) -> tuple[float, float]:
    known = sum(s.hours_in(p.start, p.end) for s in segs)
    working = sum(s.hours_in(p.start, p.end) for s in segs if s.working)
    return known, working


def failures_in(tl: Timelines, p: Period) -> list[Outage]:
    return [o for o in tl.outages if o.failure and p.start <= o.start < p.end]


def intactness(tl: Timelines, p: Period) -> MetricValue:
    known, working = _known_working(tl.segments, p)
    down = tuple(
        dict.fromkeys(
            r for s in tl.segments if not s.working and s.hours_in(p.start, p.end) > 0 for r in s.refs
        )
    )
    return ratio("intactness_rate", working, known, evidence=down)


def down_hours(tl: Timelines, p: Period, states: frozenset[AssetState] | None = None) -> MetricValue:
    segs = [s for s in tl.segments if not s.working and (states is None or s.state in states)]
    hours = sum(s.hours_in(p.start, p.end) for s in segs)
    known = sum(s.hours_in(p.start, p.end) for s in tl.segments)
    if known <= 0:
        return MetricValue("down_hours", None, "h", note="no data")
    refs = tuple(dict.fromkeys(r for s in segs if s.hours_in(p.start, p.end) > 0 for r in s.refs))
    return MetricValue("down_hours", hours, "h", hours, known, refs)


def failure_count(tl: Timelines, p: Period) -> MetricValue:
    known, _ = _known_working(tl.segments, p)
    f = failures_in(tl, p)
    if known <= 0:
        return MetricValue("failures", None, "count", note="no data")
    return MetricValue("failures", float(len(f)), "count", len(f), known, tuple(r for o in f for r in o.refs))


def fault_rate_per_100_asset_months(tl: Timelines, p: Period) -> MetricValue:
    known, _ = _known_working(tl.segments, p)
    f = failures_in(tl, p)
    asset_months = known / ASSET_MONTH_H
    m = ratio("fault_rate_per_100_asset_months", len(f) * 100.0, asset_months, "per 100 asset-months")
    return MetricValue(
        m.name, m.value, m.unit, len(f), asset_months, tuple(r for o in f for r in o.refs), m.note
    )


def fault_rate_per_1000_asset_days(tl: Timelines, p: Period) -> MetricValue:
    known, _ = _known_working(tl.segments, p)
    f = failures_in(tl, p)
    asset_days = known / 24.0
    m = ratio("fault_rate_per_1000_asset_days", len(f) * 1000.0, asset_days, "per 1,000 asset-days")
    return MetricValue(
        m.name, m.value, m.unit, len(f), asset_days, tuple(r for o in f for r in o.refs), m.note
    )


def mtbf_hours(tl: Timelines, p: Period) -> MetricValue:
    """Working hours in the period / failures starting in it; up-time after the last failure is censored
    (it still counts in the numerator). No failures: no estimate, the note gives the lower bound."""
    _, working = _known_working(tl.segments, p)
    f = failures_in(tl, p)
    refs = tuple(r for o in f for r in o.refs)
    if not f:
        note = f"no failures: MTBF > {working:.1f} h (censored)" if working > 0 else "no data"
        return MetricValue("mtbf_hours", None, "h", working, 0, refs, note)
    return MetricValue("mtbf_hours", working / len(f), "h", working, len(f), refs)


def mttr_hours(tl: Timelines, p: Period) -> MetricValue:
    """Mean length of failure outages repaired (back in working order) within the period; outages still
    open are censored and left out."""
    done = [o for o in tl.outages if o.failure and o.repaired and p.start < o.end <= p.end]
    total = sum(o.hours for o in done)
    refs = tuple(r for o in done for r in o.refs)
    return ratio("mttr_hours", total, len(done), "h", refs)
