"""Monthly scores, quarterly colours and rankings (formulas: docs/evaluation.md, "Scoring").

Entities are estates and property companies. A company's metrics are computed over the pooled data of all
its estates (not by averaging estate scores).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from evaluation.availability import Timelines, timelines
from evaluation.inputs import Dataset
from evaluation.metric_types import MetricSettings, MetricValue
from evaluation.metrics import compute_all
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
    )


def score_metrics(
    metrics: dict[str, MetricValue], scheme: Scheme, group: str = ""
) -> tuple[float | None, float, tuple[IndicatorResult, ...]]:
    """(score, coverage, indicator results) from computed metrics, with ``group``'s weights if it has some."""
    indicators = scheme.indicators_for(group)
    total = sum(i.weight for i in indicators)
    usable = {i.name: _usable(metrics[i.metric], scheme) for i in indicators}
    covered = sum(i.weight for i in indicators if usable[i.name][0])
    coverage = covered / total
    base = total if scheme.missing == "zero" else covered
    results: list[IndicatorResult] = []
    for ind in indicators:
        m = metrics[ind.metric]
        ok, note = usable[ind.name]
        pts = ind.points(m.value) if ok and m.value is not None else None
        eff = 0.0 if base <= 0 or (pts is None and scheme.missing != "zero") else ind.weight * 100.0 / base
        contrib = (pts or 0.0) * eff / 100.0
        results.append(
            IndicatorResult(
                ind.name, ind.metric, ind.weight, m.value, m.display(), pts, eff, contrib, m.evidence, note
            )
        )
    if coverage < scheme.min_coverage or covered <= 0:
        return None, coverage, tuple(results)
    return sum(r.contribution for r in results), coverage, tuple(results)


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


def score_entity(
    entity: str,
    entity_id: str,
    ds: Dataset,
    p: Period,
    scheme: Scheme,
    as_of: dt.datetime,
    fleet_tl: Timelines | None = None,
) -> EntityScore:
    """``fleet_tl``: the timelines of all of ``ds`` when the caller normalised them already."""
    sub = ds.where(estate=entity_id) if entity == "estate" else ds.where(company=entity_id)
    tl = fleet_tl.of(frozenset(a.asset_id for a in sub.assets)) if fleet_tl is not None else None
    metrics = compute_all(sub, p, metric_settings(scheme, as_of), tl)
    group = _entity_group(sub, scheme)
    score, coverage, results = score_metrics(metrics, scheme, group)
    if entity == "estate":
        name = next((e.name for e in ds.estates if e.estate == entity_id), entity_id)
    else:
        name = next((e.company_name for e in ds.estates if e.company == entity_id), entity_id)
    note = "" if score is not None else f"no data: only {coverage:.0%} of the weight had data"
    return EntityScore(entity, entity_id, name, group, p.label, score, coverage, results, metrics, note)


def score_month(ds: Dataset, p: Period, scheme: Scheme, as_of: dt.datetime) -> list[EntityScore]:
    """Every estate and company of the dataset for one month."""
    if p.granularity != "month":
        raise ValueError(f"scores are monthly; {p.label} is a {p.granularity}")
    estates = sorted({a.estate for a in ds.assets})
    companies = sorted({a.company for a in ds.assets})
    tl = timelines(ds, metric_settings(scheme, as_of))  # once: every asset is in an estate and a company
    return [score_entity("estate", e, ds, p, scheme, as_of, tl) for e in estates] + [
        score_entity("company", c, ds, p, scheme, as_of, tl) for c in companies
    ]


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
            first.entity, first.id, first.name, first.group, quarter.label, months, None, None, None
        )
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
    )


def score_quarter(ds: Dataset, quarter: Period, scheme: Scheme, as_of: dt.datetime) -> list[QuarterResult]:
    if quarter.granularity != "quarter":
        raise ValueError(f"colours are quarterly; {quarter.label} is a {quarter.granularity}")
    months = [score_month(ds, m, scheme, as_of) for m in quarter.months()]
    out: list[QuarterResult] = []
    for i, first in enumerate(months[0]):
        series = [m[i] for m in months]
        assert all(s.id == first.id for s in series)
        out.append(quarter_result(series, quarter, scheme))
    return out
