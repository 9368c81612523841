"""Scopes that add up: a company's score and colour follow from its estates' (docs/evaluation.md, "Scopes").

* **Monthly**: a company's score is the mean of its scored estates' scores weighted by each estate's assets in
  the period (``EntityScore.weight``). Its indicator rows are the same weighted means of the estates'
  effective weights and contributions, so they still add up to the score; ``points`` = contribution × 100 /
  effective weight; ``value`` is the company's pooled figure (shown, not scored).
* **Quarterly**: a company's average is the mean of its estates' quarterly averages weighted by the estates'
  assets summed over the months they were scored, rounded half-up to 2 decimals.

A weighted mean lies between its smallest and largest term, and the colour is monotone in the score, so a
company's score and colour always lie within its estates' range (the property tests check it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from evaluation.metric_types import MetricValue
from evaluation.periods import Period
from evaluation.scheme import Scheme
from evaluation.scoring import EntityScore, IndicatorResult, QuarterResult, quarter_result, round2


def combine_month(
    company: str,
    name: str,
    group: str,
    period: str,
    estates: Sequence[EntityScore],
    metrics: dict[str, MetricValue],
    scheme: Scheme,
) -> EntityScore:
    """The company's month from its estates' (``metrics``: its pooled figures, for display)."""
    total = sum(e.weight for e in estates)
    coverage = sum(e.weight * e.coverage for e in estates) / total if total > 0 else 0.0
    scored = [e for e in estates if e.score is not None and e.weight > 0]
    weight = sum(e.weight for e in scored)
    rows: list[IndicatorResult] = []
    for ind in scheme.indicators:
        m = metrics.get(ind.metric) or MetricValue(ind.metric, None, "")
        parts = [
            (e.weight / weight, r) for e in scored for r in e.indicators if r.name == ind.name
        ]  # fmt: skip
        eff = sum(w * r.effective_weight for w, r in parts)
        contrib = sum(w * r.contribution for w, r in parts)
        pts = contrib * 100.0 / eff if eff > 0 else None
        rated = sum(1 for _, r in parts if r.points is not None)
        note = (
            f"points: asset-weighted over {rated} of {len(estates)} estates" if parts else "no estate scored"
        )
        rows.append(
            IndicatorResult(
                ind.name, ind.metric, ind.weight, m.value, m.display(), pts, eff, contrib, m.evidence, note
            )
        )
    score: float | None = None
    note = "no estate has a score"
    if scored:
        mean = sum(e.weight * (e.score or 0.0) for e in scored) / weight
        lo, hi = min(e.score or 0.0 for e in scored), max(e.score or 0.0 for e in scored)
        score, note = min(hi, max(lo, mean)), ""
    return EntityScore(
        "company", company, name, group, period, score, coverage, tuple(rows), metrics, note, total, ""
    )


def quarter_results(
    series: dict[tuple[str, str], list[EntityScore]], quarter: Period, scheme: Scheme
) -> list[QuarterResult]:
    """Every entity's quarter: estates from their monthly scores, companies from their estates' quarters
    (a company whose estates are unknown, as in entries published before scheme 2026.3, from its months)."""
    estates = {key: quarter_result(s, quarter, scheme) for key, s in series.items() if key[0] == "estate"}
    weight = {
        key[1]: sum(m.weight for m in s if m.score is not None)
        for key, s in series.items()
        if key[0] == "estate"
    }
    parent = {key[1]: next((m.parent for m in s if m.parent), "") for key, s in series.items()}
    out = list(estates.values())
    for key, s in series.items():
        if key[0] != "company":
            continue
        own = quarter_result(s, quarter, scheme)
        mine = [(q, weight[q.id]) for q in estates.values() if parent.get(q.id) == key[1]]
        out.append(company_quarter(own, mine, scheme) if mine else own)
    return out


def company_quarter(
    own: QuarterResult, estates: Sequence[tuple[QuarterResult, float]], scheme: Scheme
) -> QuarterResult:
    scored = [(q.average, w) for q, w in estates if q.average is not None and w > 0]
    if not scored:
        return replace(own, average=None, colour=None, inspection=None)
    total = sum(w for _, w in scored)
    mean = round2(sum(a * w for a, w in scored) / total)
    avg = min(max(a for a, _ in scored), max(min(a for a, _ in scored), mean))
    colour = scheme.colour(avg)
    return replace(own, average=avg, colour=colour, inspection=scheme.inspection(colour))
