"""The four reports a supervisor hands out — per company or per district, monthly or quarterly — in Chinese
(default) or English, built into the one layout of ``layout.py``. Indicator names come from the scheme
(its ``zh`` / ``en``) or the catalogue of ``evaluation/names.py``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from evaluation.names import (
    check_lang,
    colour_name,
    group_name,
    inspection_text,
    provisional_text,
    value_text,
    word,
)
from evaluation.periods import Period, quarter_of
from evaluation.ratings import MonthResult, Ratings, quarter_records
from evaluation.reports.chart import trend_svg
from evaluation.reports.data import company_report
from evaluation.reports.layout import Fact, Report, Table, local_time, num, pct

W = word


def _lines(ratings: Ratings, period: Period, as_of: dt.datetime, lang: str) -> tuple[str, ...]:
    s = ratings.scheme
    return (
        f"{W('period', lang)}: {period.label}",
        f"{W('scheme', lang)}: {s.name} {s.version}",
        f"{W('as_of', lang)}: {local_time(as_of)}",
    )


def _rank(rank: int | None, size: int) -> str:
    return f"{rank or '–'} / {size}"


def _inspection(rec: dict[str, Any], lang: str) -> str:
    colour = rec.get("colour")
    if colour is None:
        return W("no_data", lang)
    return inspection_text(
        rec.get("inspections_per_month"), "weekly" in (rec.get("inspection") or ""), bool(rec.get("rectification_plan")),
        lang,
    )  # fmt: skip


def company_month(
    ratings: Ratings,
    company: str,
    period: Period,
    as_of: dt.datetime,
    lang: str,
    month: MonthResult | None = None,
) -> Report:
    r = company_report(ratings, company, period, as_of, month=month)
    labels = {i.name: i.label(lang) for i in ratings.scheme.indicators}
    rows, eff_total = [], 0.0
    for i in r.indicators:
        interval = "" if i.low is None else f"{num(i.low, lang)}–{num(i.high, lang)}"
        rows.append((labels.get(i.name, i.name), value_text(i.metric, i.value, lang), interval,
                     num(i.points, lang), pct(i.effective_weight, lang), num(i.contribution, lang)))  # fmt: skip
        eff_total += i.effective_weight
    total = "合计" if lang == "zh" else "Total"
    indicators = Table(
        "indicators", W("indicator", lang),
        (W("indicator", lang), W("value", lang), W("interval", lang), W("points", lang), W("weight", lang),
         W("contribution", lang)),
        tuple(rows), frozenset({1, 2, 3, 4, 5}),
        foot=(total, "", "", "", pct(eff_total if r.score is not None else None, lang), num(r.score, lang)),
    )  # fmt: skip
    estates = Table(
        "estates", W("estates", lang),
        (W("estate", lang), W("group", lang), W("score", lang), W("rank_in_group", lang), W("rank", lang)),
        tuple((e.score.name, group_name(e.score.group, lang), num(e.score.score, lang),
               _rank(e.rank_in_group, e.group_size), str(e.rank_overall or "–")) for e in r.estates),
        frozenset({2, 3, 4}),
    )  # fmt: skip
    facts = (
        Fact("score", W("score", lang), num(r.score, lang)),
        Fact("colour", f"{W('colour', lang)} ({r.quarter})", colour_name(r.colour, lang), r.colour or ""),
        Fact("average", W("average", lang), num(r.quarter_average, lang)),
        Fact("rank", W("rank", lang), _rank(r.rank_overall, r.ranked_companies)),
        Fact("rank_in_group", f"{W('rank_in_group', lang)} ({group_name(r.group, lang)})",
             _rank(r.rank_in_group, r.group_size)),
        Fact("observed", W("observed", lang), value_text("monitoring_coverage", _observed(r.metrics), lang)),
    )  # fmt: skip
    return Report(
        lang, "company-month", f"{r.name} · {_title('monthly', 'company_report', lang)}",
        _lines(ratings, period, as_of, lang), provisional_text(r.provisional, lang), facts, (indicators, estates),
        trend_svg(r.trend, label=W("months", lang)), W("months", lang), tuple(n for n in (r.note,) if n),
    )  # fmt: skip


def _observed(metrics: dict[str, Any]) -> float | None:
    m = metrics.get("monitoring_coverage")
    return None if m is None else m.value


def company_quarter(ratings: Ratings, company: str, q: Period, as_of: dt.datetime, lang: str) -> Report:
    results = ratings.quarter(q, as_of)
    recs = quarter_records(results)
    me = next((x for x in recs if x["entity"] == "company" and x["id"] == company), None)
    if me is None:
        known = sorted(x["id"] for x in recs if x["entity"] == "company")
        raise KeyError(f"no property company {company!r} in {q.label}; known: {known}")
    months = [m for m in q.months() if m.start < as_of]
    scores = {m.label: ratings.entity_month("company", company, m, as_of) for m in months}
    labels = {i.name: i.label(lang) for i in ratings.scheme.indicators}
    rows = []
    for ind in ratings.scheme.indicators:
        pts = [next((i.points for i in s.indicators if i.name == ind.name), None) if s else None
               for s in scores.values()]  # fmt: skip
        rows.append((labels[ind.name], pct(ind.weight, lang), *(num(p, lang) for p in pts)))
    indicators = Table(
        "indicators", f"{W('indicator', lang)} · {W('points', lang)}",
        (W("indicator", lang), W("weight", lang), *scores), tuple(rows), frozenset(range(1, 2 + len(scores))),
    )  # fmt: skip
    mine = [x for x in recs if x["entity"] == "estate" and x["company"] == company]
    estates = _quarter_table("estates", W("estates", lang), mine, lang, with_company=False)
    facts = (
        Fact("average", W("average", lang), num(me["average"], lang)),
        Fact("colour", W("colour", lang), colour_name(me["colour"], lang), me["colour"] or ""),
        Fact("inspection", W("inspection", lang), _inspection(me, lang)),
        Fact("rank", W("rank", lang), _rank(me["rank_overall"], sum(1 for x in recs if x["entity"] == "company"))),
        Fact("rank_in_group", f"{W('rank_in_group', lang)} ({group_name(me['group'], lang)})",
             _rank(me["rank_in_group"], me["group_size"])),
    )  # fmt: skip
    trend = [(m["period"], m["score"]) for m in me["monthly"]]
    return Report(
        lang, "company-quarter", f"{me['name']} · {_title('quarterly', 'company_report', lang)}",
        _lines(ratings, q, as_of, lang), provisional_text(me["provisional_reason"] or "", lang), facts, (indicators, estates),
        trend_svg(trend, label=W("months", lang)), W("months", lang),
    )  # fmt: skip


def _quarter_table(
    id_: str,
    title: str,
    recs: list[dict[str, Any]],
    lang: str,
    with_company: bool,
    names: dict[str, str] | None = None,
) -> Table:
    head: tuple[str, ...] = (
        W("rank", lang),
        W("group", lang),
        W("estate", lang) if id_ != "companies" else W("company", lang),
    )
    head += ((W("company", lang),) if with_company else ()) + (W("average", lang), W("colour", lang),
                                                                W("inspection", lang))  # fmt: skip
    rows = []
    for x in recs:
        rank = (
            _rank(x["rank_in_group"], x["group_size"])
            if id_ != "companies"
            else str(x["rank_overall"] or "–")
        )
        company = ((names or {}).get(x.get("company") or "", x.get("company") or ""),) if with_company else ()
        rows.append((rank, group_name(x["group"], lang), x["name"], *company, num(x["average"], lang),
                     colour_name(x["colour"], lang), _inspection(x, lang)))  # fmt: skip
    badge = len(head) - 2
    return Table(id_, title, head, tuple(rows), frozenset({0, badge - 1}),
                 tuple(x["colour"] or "" for x in recs), badge)  # fmt: skip


def district_quarter(ratings: Ratings, q: Period, as_of: dt.datetime, lang: str) -> Report:
    results = ratings.quarter(q, as_of)
    recs = quarter_records(results)
    companies = [x for x in recs if x["entity"] == "company"]
    names = {x["id"]: x["name"] for x in companies}
    estates = sorted(
        (x for x in recs if x["entity"] == "estate"),
        key=lambda x: (x["group"], x["rank_in_group"] is None, x["rank_in_group"] or 0, x["id"]),
    )
    tables = (
        _quarter_table("companies", W("companies", lang), companies, lang, with_company=False),
        _quarter_table("estates", W("estates", lang), estates, lang, with_company=True, names=names),
        _groups_table(estates, lang),
    )
    why = next((x["provisional_reason"] for x in recs if x["provisional_reason"]), "")
    return Report(lang, "district-quarter", _title('quarterly', 'district_report', lang),
                  _lines(ratings, q, as_of, lang), provisional_text(why, lang), (), tables)  # fmt: skip


def _groups_table(estates: list[dict[str, Any]], lang: str) -> Table:
    colours = ("green", "blue", "yellow", "red")
    rows = []
    for g in sorted({x["group"] for x in estates}):
        mine = [x for x in estates if x["group"] == g]
        counts = [sum(1 for x in mine if x["colour"] == c) for c in colours]
        rows.append((group_name(g, lang), str(len(mine)), *(str(n) for n in counts),
                     str(len(mine) - sum(counts))))  # fmt: skip
    head = (W("group", lang), W("estate", lang), *(colour_name(c, lang) for c in colours), W("no_data", lang))
    return Table("groups", W("group", lang), head, tuple(rows), frozenset(range(1, 7)))


def district_month(ratings: Ratings, period: Period, as_of: dt.datetime, lang: str) -> Report:
    res = ratings.month(period, as_of)
    qtd = {(q.entity, q.id): q for q in ratings.quarter(quarter_of(period), as_of)}
    names = {r.score.id: r.score.name for r in res.companies}

    def colour(entity: str, id_: str) -> str:
        q = qtd.get((entity, id_))
        return q.colour or "" if q else ""

    companies = Table(
        "companies", W("companies", lang),
        (W("rank", lang), W("company", lang), W("group", lang), W("score", lang), W("observed", lang),
         f"{W('colour', lang)} ({quarter_of(period).label})"),
        tuple((str(r.rank_overall or "–"), r.score.name, group_name(r.score.group, lang), num(r.score.score, lang),
               value_text("monitoring_coverage", _observed(r.score.metrics), lang),
               colour_name(colour("company", r.score.id) or None, lang)) for r in res.companies),
        frozenset({0, 3, 4}), tuple(colour("company", r.score.id) for r in res.companies), 5,
    )  # fmt: skip
    ordered = sorted(
        res.estates, key=lambda r: (r.score.group, r.rank_in_group is None, r.rank_in_group or 0)
    )
    estates = Table(
        "estates", W("estates", lang),
        (W("rank_in_group", lang), W("group", lang), W("estate", lang), W("company", lang), W("score", lang),
         f"{W('colour', lang)} ({quarter_of(period).label})"),
        tuple((_rank(r.rank_in_group, r.group_size), group_name(r.score.group, lang), r.score.name,
               names.get(res.owner.get(r.score.id, ""), ""), num(r.score.score, lang),
               colour_name(colour("estate", r.score.id) or None, lang)) for r in ordered),
        frozenset({0, 4}), tuple(colour("estate", r.score.id) for r in ordered), 5,
    )  # fmt: skip
    return Report(lang, "district-month", _title('monthly', 'district_report', lang),
                  _lines(ratings, period, as_of, lang), provisional_text(res.provisional, lang), (), (companies, estates))  # fmt: skip


def _title(kind: str, report: str, lang: str) -> str:
    """月度辖区物业考核报告 / Monthly district rating report (English words need a space and lower case)."""
    if lang == "zh":
        return f"{W(kind, lang)}{W(report, lang)}"
    rest = W(report, lang)
    return f"{W(kind, lang)} {rest[:1].lower()}{rest[1:]}"


def build_report(
    ratings: Ratings, period: Period, as_of: dt.datetime, lang: str = "zh", company: str | None = None
) -> Report:
    """A company's (``company``) or the district's report for a month or a quarter, in ``lang``.
    Raises KeyError for an unknown company and ValueError for a period that is neither."""
    check_lang(lang)
    if period.granularity == "month":
        if company:
            return company_month(ratings, company, period, as_of, lang)
        return district_month(ratings, period, as_of, lang)
    if period.granularity == "quarter":
        if company:
            return company_quarter(ratings, company, period, as_of, lang)
        return district_quarter(ratings, period, as_of, lang)
    raise ValueError(f"reports are monthly (2026-10) or quarterly (2026Q3), not for a {period.granularity}")
