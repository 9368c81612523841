"""What a company's monthly report shows, gathered once for the HTML, PDF and CSV renderers."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from evaluation.metric_types import MetricValue
from evaluation.periods import Period, quarter_of
from evaluation.ratings import MonthResult, Ratings
from evaluation.scoring import EntityScore, IndicatorResult, Ranked, quarter_result

#: indicators whose monthly values the report charts besides the score
TREND_METRICS = ("intactness_rate", "resolve_on_time_rate", "first_time_fix_rate")
COLOUR_HEX = {"green": "#2e7d32", "blue": "#1565c0", "yellow": "#f9a825", "red": "#c62828"}


@dataclass(frozen=True)
class CompanyReport:
    company: str
    name: str
    period: str
    as_of: str
    scheme: str
    score: float | None
    rank_overall: int | None
    ranked_companies: int
    group: str
    rank_in_group: int | None
    group_size: int
    quarter: str
    quarter_average: float | None
    colour: str | None
    inspection: str
    indicators: tuple[IndicatorResult, ...]
    estates: tuple[Ranked, ...]
    trend: tuple[tuple[str, float | None], ...]
    #: metric → ((month, value), ...) for TREND_METRICS (values as the scheme's indicators saw them)
    indicator_trends: dict[str, tuple[tuple[str, float | None], ...]]
    metrics: dict[str, MetricValue]
    note: str = ""
    #: why the month is provisional ("" when final)
    provisional: str = ""

    @property
    def monitoring(self) -> str:
        """ "Observed: 87.50% of the assets' hours" (monitoring coverage), or "" when not computed."""
        m = self.metrics.get("monitoring_coverage")
        if m is None:
            return ""
        return f"Observed: {m.display()} of the assets' hours" + (f" ({m.note})" if m.note else "")

    @property
    def colour_hex(self) -> str:
        return COLOUR_HEX.get(self.colour or "", "#757575")


def months_back(p: Period, n: int) -> list[Period]:
    out = [p]
    while len(out) < n:
        out.insert(0, out[0].previous())
    return out


def company_report(
    ratings: Ratings,
    company: str,
    period: Period,
    as_of: dt.datetime,
    trend_months: int = 6,
    month: MonthResult | None = None,
) -> CompanyReport:
    """The report of ``company`` for the month ``period``; the colour is the quarter-to-date average of
    the monthly scores (published ones where published)."""
    res = month or ratings.month(period, as_of)
    me = res.find("company", company)
    if me is None:
        known = sorted(r.score.id for r in res.companies)
        raise KeyError(f"no property company {company!r}; known: {known}")
    q = quarter_of(period)
    trend_periods = months_back(period, trend_months)
    needed = {m.label: m for m in trend_periods}
    needed.update({m.label: m for m in q.months() if m.start <= period.start})
    found: dict[str, EntityScore | None] = {period.label: me.score}
    for label, m in needed.items():
        if label not in found:
            found[label] = ratings.entity_month("company", company, m, as_of)
    in_quarter = [s for label, s in sorted(found.items()) if s is not None and needed[label].start >= q.start]
    qr = quarter_result(in_quarter, q, ratings.scheme) if in_quarter else None
    return CompanyReport(
        company=company,
        name=me.score.name,
        period=period.label,
        as_of=as_of.isoformat(timespec="minutes"),
        scheme=f"{ratings.scheme.name} {ratings.scheme.version}",
        score=me.score.score,
        rank_overall=me.rank_overall,
        ranked_companies=sum(1 for r in res.companies if r.rank_overall is not None),
        group=me.score.group,
        rank_in_group=me.rank_in_group,
        group_size=me.group_size,
        quarter=q.label,
        quarter_average=qr.average if qr else None,
        colour=qr.colour if qr else None,
        inspection=qr.inspection.describe() if qr and qr.inspection else "no data",
        indicators=me.score.indicators,
        estates=tuple(r for r in res.estates if res.owner.get(r.score.id) == company),
        trend=tuple((m.label, s.score if (s := found.get(m.label)) else None) for m in trend_periods),
        indicator_trends={
            metric: tuple((m.label, _indicator_value(found.get(m.label), metric)) for m in trend_periods)
            for metric in TREND_METRICS
        },
        metrics=me.score.metrics,
        note=me.score.note,
        provisional=res.provisional,
    )


def _indicator_value(s: EntityScore | None, metric: str) -> float | None:
    if s is None:
        return None
    if metric in s.metrics:
        return s.metrics[metric].value
    return next((i.value for i in s.indicators if i.metric == metric), None)
