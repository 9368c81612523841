"""Intactness, fault rate, MTBF and MTTR from the normalised state timelines (formulas: docs/evaluation.md)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

from evaluation.inputs import AssetState, Dataset
from evaluation.metric_types import MetricSettings, MetricValue, ratio
from evaluation.periods import Period
from evaluation.timeline import Outage, Segment, lifetime, normalise, outages

#: an asset-month is 30 asset-days (720 asset-hours), whatever the calendar month's length
ASSET_MONTH_H = 720.0


@dataclass(frozen=True)
class Timelines:
    """Every asset's segments and outages, normalised once per dataset; ``lives``: each asset's
    ``(asset_id, installed, removed or as_of)``, the hours it existed whether observed or not."""

    segments: tuple[Segment, ...]
    outages: tuple[Outage, ...]
    lives: tuple[tuple[str, dt.datetime, dt.datetime], ...] = ()
    #: period bounds → the segments overlapping it with their hours inside it (every metric of one
    #: ``compute_all`` call reads the same period: clip once, not once per metric)
    _within: dict[tuple[dt.datetime, dt.datetime], tuple[tuple[Segment, float], ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _of: dict[frozenset[str], Timelines] = field(default_factory=dict, init=False, repr=False, compare=False)

    def within(self, p: Period) -> tuple[tuple[Segment, float], ...]:
        """``(segment, hours inside p)`` for every segment with some time in ``p``."""
        key = (p.start, p.end)
        if key not in self._within:
            hit = ((s, s.hours_in(p.start, p.end)) for s in self.segments)
            self._within[key] = tuple((s, h) for s, h in hit if h > 0)
        return self._within[key]

    def known(self, p: Period) -> float:
        return sum(h for _, h in self.within(p))

    def of(self, ids: frozenset[str]) -> Timelines:
        """Only the assets in ``ids`` (a kind, say); kept, as kinds are asked for more than once."""
        if ids not in self._of:
            self._of[ids] = Timelines(
                tuple(s for s in self.segments if s.asset_id in ids),
                tuple(o for o in self.outages if o.asset_id in ids),
                tuple(life for life in self.lives if life[0] in ids),
            )
        return self._of[ids]


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
    lives = tuple((a.asset_id, *lifetime(a, settings.as_of)) for a in ds.assets)
    return Timelines(tuple(segs), tuple(outs), lives)


def _hours(lo: dt.datetime, hi: dt.datetime, p: Period) -> float:
    a, b = max(lo, p.start), min(hi, p.end)
    return max(0.0, (b - a).total_seconds() / 3600)


def coverage(tl: Timelines, p: Period) -> MetricValue:
    """Monitoring coverage: known asset-hours / asset-hours the assets existed in ``p`` (installed, not
    removed, before ``as_of``). Below 1 where an asset was not yet observed or its state is unknown."""
    known = tl.known(p)
    lived = sum(_hours(lo, hi, p) for _, lo, hi in tl.lives)
    unknown = tuple(sorted({aid for aid, lo, hi in tl.lives if _hours(lo, hi, p) > 0} - _seen(tl, p)))
    note = f"not observed in the period: {', '.join(unknown)}" if unknown else ""
    return ratio("monitoring_coverage", known, lived, evidence=unknown, note=note)


def _seen(tl: Timelines, p: Period) -> set[str]:
    return {s.asset_id for s, _ in tl.within(p)}


def with_coverage(m: MetricValue, cov: MetricValue) -> MetricValue:
    """``m`` carrying the monitoring coverage of its assets (scoring may refuse a figure seen too little)."""
    return replace(m, coverage=cov.value)


def _known_working(tl: Timelines, p: Period) -> tuple[float, float]:
    within = tl.within(p)
    return sum(h for _, h in within), sum(h for s, h in within if s.working)


def failures_in(tl: Timelines, p: Period) -> list[Outage]:
    return [o for o in tl.outages if o.failure and p.start <= o.start < p.end]


def intactness(tl: Timelines, p: Period) -> MetricValue:
    known, working = _known_working(tl, p)
    down = tuple(dict.fromkeys(r for s, _ in tl.within(p) if not s.working for r in s.refs))
    return ratio("intactness_rate", working, known, evidence=down, note=_partial(tl, p))


def _partial(tl: Timelines, p: Period) -> str:
    cov = coverage(tl, p).value
    if cov is None or cov >= 1.0 - 1e-12 or cov <= 0:
        return ""
    return f"over the {cov:.1%} of asset-hours observed (the rest is unknown, not counted)"


def down_hours(tl: Timelines, p: Period, states: frozenset[AssetState] | None = None) -> MetricValue:
    down = [(s, h) for s, h in tl.within(p) if not s.working and (states is None or s.state in states)]
    hours = sum(h for _, h in down)
    known = tl.known(p)
    if known <= 0:
        return MetricValue("down_hours", None, "h", note="no data")
    refs = tuple(dict.fromkeys(r for s, _ in down for r in s.refs))
    return MetricValue("down_hours", hours, "h", hours, known, refs)


def failure_count(tl: Timelines, p: Period) -> MetricValue:
    known, _ = _known_working(tl, p)
    f = failures_in(tl, p)
    if known <= 0:
        return MetricValue("failures", None, "count", note="no data")
    return MetricValue("failures", float(len(f)), "count", len(f), known, tuple(r for o in f for r in o.refs))


def fault_rate_per_100_asset_months(tl: Timelines, p: Period) -> MetricValue:
    known, _ = _known_working(tl, p)
    f = failures_in(tl, p)
    asset_months = known / ASSET_MONTH_H
    m = ratio("fault_rate_per_100_asset_months", len(f) * 100.0, asset_months, "per 100 asset-months")
    return MetricValue(
        m.name, m.value, m.unit, len(f), asset_months, tuple(r for o in f for r in o.refs), m.note
    )


def fault_rate_per_1000_asset_days(tl: Timelines, p: Period) -> MetricValue:
    known, _ = _known_working(tl, p)
    f = failures_in(tl, p)
    asset_days = known / 24.0
    m = ratio("fault_rate_per_1000_asset_days", len(f) * 1000.0, asset_days, "per 1,000 asset-days")
    return MetricValue(
        m.name, m.value, m.unit, len(f), asset_days, tuple(r for o in f for r in o.refs), m.note
    )


def mtbf_hours(tl: Timelines, p: Period) -> MetricValue:
    """Working hours in the period / failures starting in it; up-time after the last failure is censored
    (it still counts in the numerator). No failures: no estimate, the note gives the lower bound."""
    _, working = _known_working(tl, p)
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
