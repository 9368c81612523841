"""Ratings: monthly scores and rankings, quarterly colours, breakdown to indicators and to the records behind
them, publication and the ledger (verify), external indicators, and company reports (HTML, PDF, CSV).

Reading computed ratings needs an admin, engineer or supervisor token; publishing and importing external
indicators an admin or supervisor; the published ledger and its verification any role.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Response, status
from pydantic import BaseModel, Field

from api.auth import ALL_ROLES, READERS, Principal, Role, require_role
from api.deps import ClockDep, ContextDep, get_database
from api.params import Instant, PeriodText, RowId
from evaluation.appeals import STATUSES, ObjectionConflict, ObjectionError
from evaluation.drilldown import explain
from evaluation.external import ExternalError, parse_csv, validate
from evaluation.ledger import LedgerError
from evaluation.metric_types import MetricValue
from evaluation.metrics import CATALOGUE, compute_all
from evaluation.names import METRICS
from evaluation.periods import Period, parse_period
from evaluation.ratings import MonthResult, quarter_records, score_record
from evaluation.reports.build import build_report
from evaluation.reports.csvexport import month_csv
from evaluation.reports.html import render_html
from evaluation.reports.layout import Report
from evaluation.reports.pdf import PdfUnavailable, render_pdf
from evaluation.scoring import metric_settings
from evaluation.wiring import Evaluation, build

router = APIRouter(prefix="/ratings", tags=["ratings"])

Readers = Annotated[Principal, Depends(require_role(*READERS))]
Anyone = Annotated[Principal, Depends(require_role(*ALL_ROLES))]
Publishers = Annotated[Principal, Depends(require_role(Role.ADMIN, Role.SUPERVISOR))]
Entity = Literal["estate", "company"]
_LOCK = threading.Lock()
_UNPROCESSABLE = 422  # the constant's name changed between Starlette versions


def get_evaluation(ctx: ContextDep) -> Evaluation:
    """Built once per app; ``ctx.extras['evaluation_source']`` replaces the store-backed source."""
    ev = ctx.extras.get("evaluation")
    if ev is None:
        with _LOCK:
            ev = ctx.extras.get("evaluation")
            if ev is None:
                source = ctx.extras.get("evaluation_source")
                db = get_database(ctx)  # the ledger, external indicators and objections live there
                fleet = None if source is not None else ctx.fleet()
                ev = ctx.extras["evaluation"] = build(
                    ctx.settings, db=db, influx=ctx.influx, fleet=fleet, source=source
                )
    assert isinstance(ev, Evaluation)
    return ev


EvalDep = Annotated[Evaluation, Depends(get_evaluation)]


def _period(text: str, want: str | None = None) -> Period:
    try:
        p = parse_period(text)
    except ValueError as exc:
        raise HTTPException(_UNPROCESSABLE, str(exc)) from None
    if want and p.granularity != want:
        example = "2026-10" if want == "month" else "2026Q4"
        raise HTTPException(_UNPROCESSABLE, f"{text!r} is not a {want} like {example}")
    return p


def _as_of(as_of: dt.datetime | None, clock: ClockDep) -> dt.datetime:
    if as_of is None:
        return clock()
    return as_of if as_of.tzinfo else as_of.replace(tzinfo=dt.UTC)


AsOf = Annotated[Instant | None, Query(description="evaluation time (default now); open faults end here")]


def _month(ev: Evaluation, period: PeriodText, as_of: dt.datetime) -> MonthResult:
    return ev.ratings.month(_period(period, "month"), as_of)


@router.get("/scheme")
def scheme(ev: EvalDep, who: Readers) -> dict[str, Any]:
    """The scoring scheme in force: indicators, weights and colour cut-offs"""
    s = ev.ratings.scheme
    return {
        "name": s.name,
        "version": s.version,
        "sha256": s.sha256,
        "indicators": [i.__dict__ for i in s.indicators],
        "colours": dict(s.thresholds),
        "inspections": {c: i.describe() for c, i in s.inspections},
        "groups": {g: list(m) for g, m in s.groups},
        "missing": s.missing,
        "min_coverage": s.min_coverage,
        # every metric's name in Chinese and English (the drill-down's list of figures)
        "metric_names": {m: {"zh": zh, "en": en} for m, (zh, en) in METRICS.items()},
    }


@router.get("/metrics")
def metrics_catalogue(who: Readers) -> dict[str, str]:
    """Every metric the ratings can compute, with its definition"""
    return CATALOGUE


@router.get("/figures/{period}")
def figures(
    period: PeriodText, ev: EvalDep, who: Readers, clock: ClockDep, company: str | None = None, estate: str | None = None,
    building: str | None = None, kind: str | None = None, as_of: AsOf = None,
) -> dict[str, Any]:  # fmt: skip
    """Every metric for any scope (company, estate, building, kind — combined) and period (day 2026-10-05,
    month 2026-10, quarter 2026Q4)."""
    p, t = _period(period), _as_of(as_of, clock)
    match = {
        k: v
        for k, v in (("company", company), ("estate", estate), ("building", building), ("kind", kind))
        if v
    }
    ds = ev.ratings.dataset(p, t).where(**match)
    if not ds.assets:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no assets match {match}")
    ms = compute_all(ds, p, metric_settings(ev.ratings.scheme, t))
    return {
        "period": p.label,
        "scope": match,
        "assets": len(ds.assets),
        "metrics": {name: _metric(m) for name, m in sorted(ms.items())},
    }


def _metric(m: MetricValue) -> dict[str, Any]:
    return {"value": m.value, "display": m.display(), "unit": m.unit, "numerator": m.numerator,
            "denominator": m.denominator, "evidence": len(m.evidence), "note": m.note}  # fmt: skip


@router.get("/monthly/{period}")
def monthly(
    period: PeriodText, ev: EvalDep, who: Readers, clock: ClockDep, as_of: AsOf = None
) -> dict[str, Any]:
    """Every estate's and company's score with ranks overall and in group (computed now, not published)."""
    res = _month(ev, period, _as_of(as_of, clock))
    published = ev.ratings.published_month(res.period.label)
    return ev.ratings.monthly_content(res) | {"published_entry": published.seq if published else None}


@router.get("/rankings/{period}")
def rankings(
    period: PeriodText, ev: EvalDep, who: Readers, clock: ClockDep, entity: Entity = "estate", group: str | None = None,
    as_of: AsOf = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """A month's ranking of estates or companies, overall or within a group"""
    res = _month(ev, period, _as_of(as_of, clock))
    pool = res.estates if entity == "estate" else res.companies
    return [score_record(r, res.provisional) for r in pool if group is None or r.score.group == group]


@router.get("/quarterly/{quarter}")
def quarterly(
    quarter: PeriodText, ev: EvalDep, who: Readers, clock: ClockDep, as_of: AsOf = None
) -> list[dict[str, Any]]:
    """Colours from the quarterly average (published monthly scores where published) and next inspections."""
    return quarter_records(ev.ratings.quarter(_period(quarter, "quarter"), _as_of(as_of, clock)))


@router.get("/monthly/{period}/{entity}/{entity_id}")
def breakdown(
    period: PeriodText,
    entity: Entity,
    entity_id: str,
    ev: EvalDep,
    who: Readers,
    clock: ClockDep,
    as_of: AsOf = None,
) -> dict[str, Any]:
    """The score, its indicators (points, weights, contributions) and every metric with its counts."""
    res = _month(ev, period, _as_of(as_of, clock))
    r = res.find(entity, entity_id)
    if r is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no {entity} {entity_id!r} in {period}")
    metrics = {name: _metric(m) for name, m in sorted(r.score.metrics.items())}
    return score_record(r, res.provisional) | {
        "note": r.score.note,
        "metrics": metrics,
        "provisional_reason": res.provisional,
        "scheme": ev.ratings.scheme_ref(),
    }


@router.get("/monthly/{period}/{entity}/{entity_id}/metrics/{metric}")
def drilldown(
    period: PeriodText, entity: Entity, entity_id: str, metric: str, ev: EvalDep, who: Readers, clock: ClockDep,
    as_of: AsOf = None,
) -> dict[str, Any]:  # fmt: skip
    """One metric down to the state intervals, orders, event episodes and external values behind it."""
    if metric not in CATALOGUE:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown metric {metric!r}; see GET /ratings/metrics")
    p, t = _period(period, "month"), _as_of(as_of, clock)
    ds = ev.ratings.dataset(p, t)
    r = ev.ratings.month(p, t, ds).find(entity, entity_id)
    if r is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no {entity} {entity_id!r} in {period}")
    m = r.score.metrics[metric]
    return {"metric": metric, "value": m.value, "display": m.display(), "unit": m.unit, "numerator": m.numerator,
            "denominator": m.denominator, "note": m.note, "evidence": explain(ds, m.evidence)}  # fmt: skip


class PublishIn(BaseModel):
    period: str = Field(description="a month (2026-10) or a quarter (2026Q4)")
    as_of: dt.datetime | None = None
    correction_reason: str | None = Field(None, description="publish a correction of a published month")
    provisional: bool = Field(
        False,
        description="publish a period that has not ended or whose data are incomplete, marked provisional",
    )


def _entry(e: Any, content: bool = False) -> dict[str, Any]:
    out = e.header() | {"entry_sha256": e.entry_sha256}
    return out | {"content": e.data()} if content else out


@router.post("/publish", status_code=status.HTTP_201_CREATED)
def publish(body: PublishIn, ev: EvalDep, who: Publishers, clock: ClockDep) -> dict[str, Any]:
    """Publish a month's or quarter's ratings to the tamper-evident ledger"""
    p = _period(body.period)
    as_of = _as_of(body.as_of, clock)
    try:
        if body.correction_reason:
            e = ev.ratings.correct(p, as_of, clock(), body.correction_reason)
        else:
            e = ev.ratings.publish(p, as_of, clock(), provisional=body.provisional)
    except LedgerError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except ValueError as exc:
        raise HTTPException(_UNPROCESSABLE, str(exc)) from None
    return _entry(e)


@router.get("/ledger")
def ledger(ev: EvalDep, who: Anyone) -> list[dict[str, Any]]:
    """Published ratings, oldest first"""
    return [_entry(e) for e in ev.ledger.entries()]


@router.get("/ledger/verify")
def ledger_verify(ev: EvalDep, who: Anyone, head: str | None = None) -> dict[str, Any]:
    """Check the ledger's hash chain (optionally against a known head)"""
    v = ev.ledger.verify(head)
    return {"ok": v.ok, "entries": v.entries, "head": v.head, "problems": [p.__dict__ for p in v.problems]}


@router.get("/ledger/{seq}")
def ledger_entry(seq: RowId, ev: EvalDep, who: Anyone) -> dict[str, Any]:
    """One published entry of the ledger"""
    try:
        return _entry(ev.ledger.get(seq), content=True)
    except LedgerError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None


def _known_estates(ev: Evaluation) -> list[str] | None:
    return [e.id for e in ev.fleet.estates] if ev.fleet else None


@router.post("/external", status_code=status.HTTP_201_CREATED)
def external_json(ev: EvalDep, who: Publishers, rows: list[dict[str, Any]] = Body(...)) -> dict[str, int]:
    """Rows of {estate, month, indicator, value, count?, source?}; all or none are imported."""
    known = _known_estates(ev)
    try:
        values = [validate(r, f"row {i + 1}") for i, r in enumerate(rows)]
    except ExternalError as exc:
        raise HTTPException(_UNPROCESSABLE, str(exc)) from None
    bad = [v.estate for v in values if known is not None and v.estate not in known]
    if bad:
        raise HTTPException(_UNPROCESSABLE, f"unknown estates {sorted(set(bad))}")
    return {"imported": ev.external.put(values)}


@router.post("/external/csv", status_code=status.HTTP_201_CREATED)
def external_csv(
    ev: EvalDep, who: Publishers, text: str = Body(..., media_type="text/csv")
) -> dict[str, int]:
    """Import external indicators (resident surveys, hotline) from CSV; all rows or none"""
    try:
        values = parse_csv(text, _known_estates(ev))
    except ExternalError as exc:
        raise HTTPException(_UNPROCESSABLE, str(exc)) from None
    return {"imported": ev.external.put(values)}


Lang = Annotated[Literal["zh", "en"], Query(description="report language: zh (default) or en")]


def _render(rep: Report, fmt: str) -> Response:
    if fmt == "pdf":
        try:
            return Response(render_pdf(rep), media_type="application/pdf")
        except PdfUnavailable as exc:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from None
    return Response(render_html(rep), media_type="text/html; charset=utf-8")


@router.get("/reports/district/{period}.{fmt}", response_class=Response)
def district_report(
    period: PeriodText, fmt: Literal["html", "pdf"], ev: EvalDep, who: Readers, clock: ClockDep, lang: Lang = "zh",
    as_of: AsOf = None,
) -> Response:  # fmt: skip
    """The district's monthly (2026-10) or quarterly (2026Q3) report: every company ranked, groups, colours
    and next quarter's inspections; Chinese by default."""
    p, t = _report_period(period), _as_of(as_of, clock)
    return _render(build_report(ev.ratings, p, t, lang), fmt)


def _report_period(text: str) -> Period:
    p = _period(text)
    if p.granularity not in ("month", "quarter"):
        raise HTTPException(_UNPROCESSABLE, f"{text!r}: reports are monthly (2026-10) or quarterly (2026Q3)")
    return p


@router.get("/reports/{company}/{period}.{fmt}", response_class=Response)
def report(
    company: str, period: PeriodText, fmt: Literal["html", "pdf", "csv"], ev: EvalDep, who: Readers, clock: ClockDep,
    lang: Lang = "zh", as_of: AsOf = None,
) -> Response:  # fmt: skip
    """A company's monthly (2026-10) or quarterly (2026Q3) report; CSV: every figure of a month."""
    p, t = _report_period(period), _as_of(as_of, clock)
    if fmt == "csv":
        if p.granularity != "month":
            raise HTTPException(_UNPROCESSABLE, "the CSV export is monthly: give a month like 2026-10")
        res = ev.ratings.month(p, t)
        if res.find("company", company) is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no property company {company!r}")
        return Response(month_csv(res, "company", company), media_type="text/csv; charset=utf-8")
    try:
        rep = build_report(ev.ratings, p, t, lang, company)
    except KeyError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc.args[0])) from None
    return _render(rep, fmt)


class ObjectionIn(BaseModel):
    period: str = Field(description="the month of the figure, e.g. 2026-10")
    entity: Entity
    entity_id: str = Field(min_length=1, max_length=64)
    metric: str = Field(min_length=1, max_length=64, description="the figure, e.g. resolve_on_time_rate")
    record: str = Field(
        min_length=1, max_length=300, description="an id from the figure's records (drill-down)"
    )
    reason: str = Field(min_length=1, max_length=2000, description="why the record is wrong")


class DecisionIn(BaseModel):
    accept: bool
    reason: str = Field(min_length=1, max_length=2000)


Deciders = Annotated[Principal, Depends(require_role(Role.ADMIN, Role.ENGINEER, Role.SUPERVISOR))]


@router.get("/objections")
def objections(
    ev: EvalDep,
    who: Readers,
    period: str | None = None,
    status_: Annotated[str | None, Query(alias="status")] = None,
) -> list[dict[str, Any]]:
    """Objections to records behind the figures, oldest first (``status``: open, accepted, rejected)."""
    if status_ is not None and status_ not in STATUSES:
        raise HTTPException(_UNPROCESSABLE, f"status must be one of {list(STATUSES)}, not {status_!r}")
    return [o.__dict__ for o in ev.appeals.list(period, status_)]


@router.post("/objections", status_code=status.HTTP_201_CREATED)
def file_objection(body: ObjectionIn, ev: EvalDep, who: Readers, clock: ClockDep) -> dict[str, Any]:
    """A company objects to one record behind a figure (an order wrongly marked late, an outage that was
    planned). Refused (422) unless the record is behind that figure of that estate or company in that month."""
    try:
        o = ev.appeals.file(ev.ratings, body.period, body.entity, body.entity_id, body.metric, body.record,
                            body.reason, who.actor, clock())  # fmt: skip
    except ObjectionError as exc:
        raise HTTPException(_UNPROCESSABLE, str(exc)) from None
    return o.__dict__


@router.post("/objections/{objection_id}/decision")
def decide_objection(
    objection_id: RowId, body: DecisionIn, ev: EvalDep, who: Deciders, clock: ClockDep
) -> dict[str, Any]:
    """An engineer or supervisor (not the one who filed it) accepts or rejects an objection with a reason; an
    accepted objection to a published month appends a correction entry (``correction_seq``) naming the entry
    it corrects."""
    try:
        o = ev.appeals.decide(ev.ratings, objection_id, body.accept, body.reason, who.actor, clock())
    except KeyError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc.args[0])) from None
    except ObjectionConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except ObjectionError as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN if "someone else" in str(exc) else _UNPROCESSABLE,
                            str(exc)) from None  # fmt: skip
    return o.__dict__
