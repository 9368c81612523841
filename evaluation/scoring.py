"""Monthly scores, quarterly colours and rankings (formulas: docs/evaluation.md, "Scoring").

Entities are estates and property companies. An estate is scored from its own figures; a company's score is
the asset-weighted mean of its estates' scores (``evaluation/scopes.py``), so it always lies between its best
and worst estate's. Its pooled figures are still computed, for display and drill-down.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from evaluation import credibility as cred
from evaluation.availability import Timelines, timelines
from evaluation.credibility import RATE_METRICS, Estimate, Priors, exposure_by_kind, kind_ids, shrink
from evaluation.inputs import Dataset
from evaluation.metric_types import MetricSettings, MetricValue
from evaluation.metrics import compute_all, rate_metrics
from evaluation.periods import Period
from evaluation.scheme import Inspection, Scheme


@dataclass(frozen=True)
class IndicatorResult:
    name: str
    metric: str
    weight: float  # as configured
    value: float | None
    display: str
    points: float | None  # 0..100; None: no data
    effective_weight: float  # after redistribution of missing weight, sums to 100 over those with data
    contribution: float  # points × effective_weight / 100
    evidence: tuple[str, ...]
    note: str = ""
    #: rates over little exposure: the measured rate and the estimate's 90 % interval (``credibility.py``)
    raw: float | None = None
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class EntityScore:
    entity: str  # "estate" | "company"
    id: str
    name: str
    group: str  # the scheme group ("mixed" for a company spanning groups)
    period: str
    score: float | None
    coverage: float  # share of configured weight that had data
    indicators: tuple[IndicatorResult, ...]
    metrics: dict[str, MetricValue]
    note: str = ""
    #: assets of the entity that existed in the period (an estate's weight in its company's score)
    weight: float = 1.0
    #: an estate's company ("" for a company)
    parent: str = ""


@dataclass(frozen=True)
class Ranked:
    score: EntityScore
    rank_overall: int | None
    rank_in_group: int | None
    group_size: int


@dataclass(frozen=True)
class QuarterResult:
    entity: str
    id: str
    name: str
    group: str
    quarter: str
    monthly: tuple[tuple[str, float | None], ...]
    average: float | None
    colour: str | None
    inspection: Inspection | None
    #: why the quarter is provisional ("" when final): not over, or a month's data incomplete
    provisional: str = ""
    #: an estate's company ("" for a company)
    parent: str = ""


def round2(x: float) -> float:
    """Half-up rounding to 2 decimals (Python's round() is half-even)."""
    return float(Decimal(repr(x)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def metric_settings(scheme: Scheme, as_of: dt.datetime) -> MetricSettings:
    return MetricSettings(
        as_of=as_of,
        excuse_planned=scheme.excuse_planned,
        response_target_min=scheme.response_target_min,
        resolve_target_h=scheme.resolve_target_h,
        precede_days=scheme.precede_days,
        exclude_codes=scheme.excluded_codes(),
    )


def score_metrics(
    metrics: dict[str, MetricValue],
    scheme: Scheme,
    group: str = "",
    estimates: dict[str, Estimate] | None = None,
) -> tuple[float | None, float, tuple[IndicatorResult, ...]]:
    """(score, coverage, indicator results) from computed metrics, with ``group``'s weights if it has some;
    ``estimates``: credibility estimates that replace the raw rates of those metrics (``credibility.py``)."""
    estimates = estimates or {}
    indicators = scheme.indicators_for(group)
    total = sum(i.weight for i in indicators)
    usable = {i.name: _usable(metrics[i.metric], scheme) for i in indicators}
    for i in indicators:  # a rate over too little exposure here and in the district is not scored
        if (e := estimates.get(i.metric)) is not None and not e.enough and usable[i.name][0]:
            usable[i.name] = (False, _not_enough_note(e))
    covered = sum(i.weight for i in indicators if usable[i.name][0])
    coverage = covered / total
    base = total if scheme.missing == "zero" else covered
    results: list[IndicatorResult] = []
    for ind in indicators:
        m = metrics[ind.metric]
        ok, note = usable[ind.name]
        est = estimates.get(ind.metric)
        value, display = m.value, m.display()
        if est is not None and value is not None:
            value, display = est.value, f"{est.value:.2f} {m.unit}"
            if est.enough:
                note = "; ".join(x for x in (note, _shrunk_note(est)) if x)
        pts = ind.points(value) if ok and value is not None else None
        eff = 0.0 if base <= 0 or (pts is None and scheme.missing != "zero") else ind.weight * 100.0 / base
        contrib = (pts or 0.0) * eff / 100.0
        results.append(
            IndicatorResult(
                ind.name, ind.metric, ind.weight, value, display, pts, eff, contrib, m.evidence, note,
                m.value if est else None, est.low if est else None, est.high if est else None,
            )
        )  # fmt: skip
    if coverage < scheme.min_coverage or covered <= 0:
        return None, coverage, tuple(results)
    return sum(r.contribution for r in results), coverage, tuple(results)


def _shrunk_note(e: Estimate) -> str:
    if e.prior is None:
        return (
            f"measured over {e.exposure:.2f} asset-months (the district's {e.district:.2f} are too few for a "
            f"prior), 90 % interval {e.low:.2f}–{e.high:.2f}"
        )
    return (
        f"shrunk toward the district's rate {e.prior:.2f}: measured {e.raw:.2f}, credibility {e.credibility:.0%}, "
        f"90 % interval {e.low:.2f}–{e.high:.2f}"
    )


def _not_enough_note(e: Estimate) -> str:
    return (
        f"not enough data: {e.exposure:.2f} asset-months here and {e.district:.2f} in the district, "
        f"90 % interval {e.low:.2f}–{e.high:.2f}"
    )


def _usable(m: MetricValue, scheme: Scheme) -> tuple[bool, str]:
    """Whether a figure may be scored, and the note to show: no data is never scored, nor a timeline figure
    whose assets were observed for less than ``min_monitored_share`` of their hours (too little to judge)."""
    if m.value is None:
        return False, m.note or "no data"
    if m.coverage is not None and m.coverage < scheme.min_monitored:
        return False, (
            f"not scored: only {m.coverage:.1%} of the asset-hours were observed "
            f"(the scheme needs {scheme.min_monitored:.0%})"
        )
    return True, m.note


def _entity_group(ds: Dataset, scheme: Scheme) -> str:
    groups = {scheme.group_of(e.group) for e in ds.estates}
    return groups.pop() if len(groups) == 1 else "mixed"


def _alive(ds: Dataset, p: Period) -> float:
    """Assets that existed at some time in ``p`` (an estate's weight in its company's score)."""
    return float(
        sum(1 for a in ds.assets if a.installed < p.end and (a.removed is None or a.removed > p.start))
    )


def district_priors(
    ds: Dataset, p: Period, scheme: Scheme, as_of: dt.datetime, tl: Timelines
) -> Priors | None:
    """The district's (the whole dataset's) rate of each kind, toward which small scopes are shrunk."""
    if scheme.credibility_asset_months <= 0:
        return None
    s = metric_settings(scheme, as_of)
    per_kind = {k: rate_metrics(ds.subset(ids), p, s, tl.of(ids)) for k, ids in kind_ids(ds).items()}
    return cred.district_priors(per_kind)


def score_estate(
    estate: str,
    ds: Dataset,
    p: Period,
    scheme: Scheme,
    as_of: dt.datetime,
    tl: Timelines,
    priors: Priors | None,
) -> EntityScore:
    sub = ds.where(estate=estate)
    stl = tl.of(frozenset(a.asset_id for a in sub.assets))
    metrics = compute_all(sub, p, metric_settings(scheme, as_of), stl)
    estimates: dict[str, Estimate] = {}
    if priors is not None:
        exposure = exposure_by_kind(stl, kind_ids(sub), p)
        for metric in RATE_METRICS:
            if (e := shrink(metrics[metric], exposure, priors, scheme.credibility_asset_months)) is not None:
                estimates[metric] = e
    score, coverage, results = score_metrics(metrics, scheme, _entity_group(sub, scheme), estimates)
    info = next((e for e in ds.estates if e.estate == estate), None)
    parent = info.company if info else next((a.company for a in sub.assets), "")
    note = "" if score is not None else f"no data: only {coverage:.0%} of the weight had data"
    return EntityScore(
        "estate", estate, info.name if info else estate, _entity_group(sub, scheme), p.label, score, coverage,
        results, metrics, note, _alive(sub, p), parent,
    )  # fmt: skip


def score_company(
    company: str,
    ds: Dataset,
    p: Period,
    scheme: Scheme,
    as_of: dt.datetime,
    tl: Timelines,
    priors: Priors | None,
    estates: Sequence[EntityScore] | None = None,
) -> EntityScore:
    """From its estates' scores (``scopes.combine_month``); ``estates``: those already scored."""
    from evaluation.scopes import combine_month

    sub = ds.where(company=company)
    own = sorted({a.estate for a in sub.assets})
    if estates is None:
        estates = [score_estate(e, ds, p, scheme, as_of, tl, priors) for e in own]
    else:
        estates = [e for e in estates if e.id in own]
    ctl = tl.of(frozenset(a.asset_id for a in sub.assets))
    metrics = compute_all(sub, p, metric_settings(scheme, as_of), ctl)
    name = next((e.company_name for e in ds.estates if e.company == company), company)
    out = combine_month(company, name, _entity_group(sub, scheme), p.label, estates, metrics, scheme)
    if priors is None:
        return out
    # the company's pooled rates are shown as its estates' are: the estimate, the measured rate, the interval
    exposure = exposure_by_kind(ctl, kind_ids(sub), p)
    rows = []
    for r in out.indicators:
        m = metrics.get(r.metric)
        e = shrink(m, exposure, priors, scheme.credibility_asset_months) if m is not None else None
        if e is not None and m is not None:
            r = dataclasses.replace(
                r, value=e.value, display=f"{e.value:.2f} {m.unit}", raw=m.value, low=e.low, high=e.high,
                note="; ".join(x for x in (r.note, _shrunk_note(e) if e.enough else _not_enough_note(e)) if x),
            )  # fmt: skip
        rows.append(r)
    return dataclasses.replace(out, indicators=tuple(rows))


def score_entity(
    entity: str,
    entity_id: str,
    ds: Dataset,
    p: Period,
    scheme: Scheme,
    as_of: dt.datetime,
    fleet_tl: Timelines | None = None,
) -> EntityScore:
    """One estate or company of ``ds`` (the whole district: it gives the priors); ``fleet_tl``: the timelines
    of all of ``ds`` when the caller normalised them already."""
    tl = fleet_tl if fleet_tl is not None else timelines(ds, metric_settings(scheme, as_of))
    priors = district_priors(ds, p, scheme, as_of, tl)
    if entity == "estate":
        return score_estate(entity_id, ds, p, scheme, as_of, tl, priors)
    return score_company(entity_id, ds, p, scheme, as_of, tl, priors)


def score_month(ds: Dataset, p: Period, scheme: Scheme, as_of: dt.datetime) -> list[EntityScore]:
    """Every estate and company of the dataset for one month."""
    if p.granularity != "month":
        raise ValueError(f"scores are monthly; {p.label} is a {p.granularity}")
    tl = timelines(ds, metric_settings(scheme, as_of))  # once: every asset is in an estate and a company
    priors = district_priors(ds, p, scheme, as_of, tl)
    estates = [
        score_estate(e, ds, p, scheme, as_of, tl, priors) for e in sorted({a.estate for a in ds.assets})
    ]
    companies = [
        score_company(c, ds, p, scheme, as_of, tl, priors, estates)
        for c in sorted({a.company for a in ds.assets})
    ]
    return estates + companies


def _competition(items: Sequence[tuple[str, float | None]]) -> dict[str, int]:
    """Standard competition ranking (1, 2, 2, 4) by value rounded to 2 decimals; None → unranked."""
    scored = sorted(((i, v) for i, v in items if v is not None), key=lambda x: (-round2(x[1]), x[0]))
    ranks: dict[str, int] = {}
    prev: float | None = None
    rank = 0
    for pos, (i, v) in enumerate(scored, start=1):
        r = round2(v)
        if prev is None or r != prev:
            rank = pos
        ranks[i] = rank
        prev = r
    return ranks


def rank(scores: Sequence[EntityScore]) -> list[Ranked]:
    """Rank one kind of entity overall and within its group; best first, unscored last."""
    overall = _competition([(s.id, s.score) for s in scores])
    in_group: dict[str, int] = {}
    sizes: dict[str, int] = {}
    for g in {s.group for s in scores}:
        members = [s for s in scores if s.group == g]
        sizes[g] = len(members)
        in_group.update(_competition([(s.id, s.score) for s in members]))
    out = [Ranked(s, overall.get(s.id), in_group.get(s.id), sizes[s.group]) for s in scores]
    out.sort(key=lambda r: (r.rank_overall is None, r.rank_overall or 0, r.score.id))
    return out


def rank_quarter(
    results: Sequence[QuarterResult],
) -> dict[tuple[str, str], tuple[int | None, int | None, int]]:
    """(entity, id) → (rank overall, rank in group, group size) by quarterly average, per kind of entity."""
    out: dict[tuple[str, str], tuple[int | None, int | None, int]] = {}
    for entity in {q.entity for q in results}:
        pool = [q for q in results if q.entity == entity]
        overall = _competition([(q.id, q.average) for q in pool])
        for g in {q.group for q in pool}:
            members = [q for q in pool if q.group == g]
            in_group = _competition([(q.id, q.average) for q in members])
            for q in members:
                out[(entity, q.id)] = (overall.get(q.id), in_group.get(q.id), len(members))
    return out


def quarter_result(monthly: Sequence[EntityScore], quarter: Period, scheme: Scheme) -> QuarterResult:
    """The quarterly average of the monthly scores that exist decides the colour (on the 2-decimal average)."""
    first = monthly[0]
    by_month = {m.period: m.score for m in monthly}
    months = tuple((m.label, by_month.get(m.label)) for m in quarter.months())
    present = [s for _, s in months if s is not None]
    if not present:
        return QuarterResult(
            first.entity, first.id, first.name, first.group, quarter.label, months, None, None, None,
            parent=next((m.parent for m in monthly if m.parent), ""),
        )  # fmt: skip
    avg = round2(sum(present) / len(present))
    colour = scheme.colour(avg)
    return QuarterResult(
        first.entity,
        first.id,
        first.name,
        first.group,
        quarter.label,
        months,
        avg,
        colour,
        scheme.inspection(colour),
        parent=next((m.parent for m in monthly if m.parent), ""),
    )


def score_quarter(ds: Dataset, quarter: Period, scheme: Scheme, as_of: dt.datetime) -> list[QuarterResult]:
    from evaluation.scopes import quarter_results

    if quarter.granularity != "quarter":
        raise ValueError(f"colours are quarterly; {quarter.label} is a {quarter.granularity}")
    series: dict[tuple[str, str], list[EntityScore]] = {}
    for m in quarter.months():
        for s in score_month(ds, m, scheme, as_of):
            series.setdefault((s.entity, s.id), []).append(s)
    return quarter_results(series, quarter, scheme)
