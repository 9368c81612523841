"""The engineer's actions on orders: approve or decline a proposal, reschedule, reassign, cancel; CSV export.

Each action answers the order as ``GET /orders/{id}`` does; ``version`` (optional) is the version the client
last saw: when someone changed the order since, the answer is 409 and nothing changes.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.deps import ClockDep, SessionDep
from api.params import RowId
from api.routes.orders import (
    FilterDep,
    Operators,
    OrderOut,
    TargetsDep,
    _load,
    _Suggestions,
    order_out,
    unprocessable,
)
from facility.i18n import format_local, pick_language, t
from maintenance.domain import InvalidTransition
from maintenance.models import Order
from maintenance.order_list import find_orders
from maintenance.orders import (
    ConcurrentUpdate,
    NotFound,
    NotYet,
    approve,
    cancel,
    decline,
    order_clock,
    reassign,
    reschedule,
)
from maintenance.sla import sla_status

router = APIRouter(tags=["orders"])

CSV_LIMIT = 5000
#: a planned time this far before now is still taken (the form was filled in a minute ago); earlier is refused
PAST_GRACE = dt.timedelta(minutes=5)


class ApproveIn(BaseModel):
    crew_id: str | None = Field(None, description="the crew; the suggested one when left out")
    scheduled_for: dt.datetime | None = Field(
        None, description="the planned time; the proposed one when left out"
    )
    version: int | None = None

    model_config = {
        "json_schema_extra": {"examples": [{"crew_id": "lift-lv", "scheduled_for": "2026-11-25T01:00:00Z"}]}
    }


class ReasonIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)
    version: int | None = None

    model_config = {
        "json_schema_extra": {
            "examples": [{"reason": "replaced last month; inspect at the next routine visit"}]
        }
    }


class RescheduleIn(BaseModel):
    scheduled_for: dt.datetime
    note: str = Field("", max_length=2000)
    version: int | None = None

    model_config = {
        "json_schema_extra": {
            "examples": [{"scheduled_for": "2026-11-26T02:00:00Z", "note": "residents' holiday"}]
        }
    }


class ReassignIn(BaseModel):
    crew_id: str = Field(min_length=1, max_length=64)
    note: str = Field("", max_length=2000)
    version: int | None = None

    model_config = {
        "json_schema_extra": {"examples": [{"crew_id": "lift-lv", "note": "crew B is on another site"}]}
    }


def _aware(t: dt.datetime | None, field: str) -> dt.datetime | None:
    if t is not None and t.tzinfo is None:
        raise unprocessable(field, "give a timezone, e.g. 2026-11-23T09:00:00+08:00")
    return t


def _planned(t: dt.datetime | None, now: dt.datetime) -> dt.datetime | None:
    """A planned time given by a form: with a time zone and not in the past (a few minutes of grace)."""
    when = _aware(t, "scheduled_for")
    if when is not None and when < now - PAST_GRACE:
        raise unprocessable("scheduled_for", f"{when.isoformat()} is in the past: give a time from now on")
    return when


@contextmanager
def _errors(field: str) -> Iterator[None]:
    """409: the state machine or a concurrent change refuses; 422: bad input (names the field)."""
    try:
        yield
    except (InvalidTransition, ConcurrentUpdate, NotYet) as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except NotFound as exc:
        raise unprocessable(exc.field, str(exc)) from None
    except ValueError as exc:
        raise unprocessable(field, str(exc)) from None


def _act(
    order_id: RowId,
    session: SessionDep,
    who: Operators,
    clock: ClockDep,
    targets: TargetsDep,
    field: str,
    action: Callable[[Order, dt.datetime], object],
) -> OrderOut:
    order = _load(session, order_id, who)
    now = clock()
    with _errors(field):
        action(order, now)
    return order_out(order, now, targets, _Suggestions(session, now)(order))


@router.post("/orders/{order_id}/approve", response_model=OrderOut, responses={409: {}, 422: {}})
def approve_order(
    order_id: RowId,
    body: ApproveIn,
    session: SessionDep,
    who: Operators,
    clock: ClockDep,
    targets: TargetsDep,
) -> OrderOut:
    """Approve a proposal (an order in ``created``): it goes to the chosen or the suggested crew."""
    when = _planned(body.scheduled_for, clock())
    return _act(
        order_id,
        session,
        who,
        clock,
        targets,
        "crew_id",
        lambda o, now: approve(session, o, who.actor, now, body.crew_id, when, body.version),
    )


@router.post("/orders/{order_id}/decline", response_model=OrderOut, responses={409: {}, 422: {}})
def decline_order(
    order_id: RowId, body: ReasonIn, session: SessionDep, who: Operators, clock: ClockDep, targets: TargetsDep
) -> OrderOut:
    """Decline a proposal with a reason: it is cancelled and the reason kept in its timeline."""
    return _act(
        order_id,
        session,
        who,
        clock,
        targets,
        "reason",
        lambda o, now: decline(session, o, who.actor, now, body.reason, body.version),
    )


@router.post("/orders/{order_id}/cancel", response_model=OrderOut, responses={409: {}, 422: {}})
def cancel_order(
    order_id: RowId, body: ReasonIn, session: SessionDep, who: Operators, clock: ClockDep, targets: TargetsDep
) -> OrderOut:
    """Cancel an open order with a reason."""
    return _act(
        order_id,
        session,
        who,
        clock,
        targets,
        "reason",
        lambda o, now: cancel(session, o, who.actor, now, body.reason, body.version),
    )


@router.post("/orders/{order_id}/reschedule", response_model=OrderOut, responses={409: {}, 422: {}})
def reschedule_order(
    order_id: RowId,
    body: RescheduleIn,
    session: SessionDep,
    who: Operators,
    clock: ClockDep,
    targets: TargetsDep,
) -> OrderOut:
    """Move an open order's planned time (kept in its timeline; the crew is told)."""
    when = _planned(body.scheduled_for, clock())
    assert when is not None
    return _act(
        order_id,
        session,
        who,
        clock,
        targets,
        "scheduled_for",
        lambda o, now: reschedule(session, o, who.actor, now, when, body.note, body.version),
    )


@router.post("/orders/{order_id}/reassign", response_model=OrderOut, responses={409: {}, 422: {}})
def reassign_order(
    order_id: RowId,
    body: ReassignIn,
    session: SessionDep,
    who: Operators,
    clock: ClockDep,
    targets: TargetsDep,
) -> OrderOut:
    """Give an open order to another crew; it waits for that crew to acknowledge it."""
    return _act(
        order_id,
        session,
        who,
        clock,
        targets,
        "crew_id",
        lambda o, now: reassign(session, o, who.actor, now, body.crew_id, body.note, body.version),
    )


CSV_COLUMNS = (
    "id",
    "asset",
    "kind",
    "estate",
    "building",
    "type",
    "priority",
    "state",
    "crew",
    "title",
    "opened",
    "scheduled",
    "respond_due",
    "resolve_due",
    "breached",
)


@router.get("/orders.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def export_orders(
    request: Request, session: SessionDep, clock: ClockDep, targets: TargetsDep, filters: FilterDep
) -> Response:
    """The filtered orders as CSV (UTF-8 with BOM, times in Asia/Shanghai), at most 5000 rows, in the
    language of ``?lang=`` / Accept-Language for the headers and labels."""
    lang = pick_language(
        request.query_params.get("lang"), request.cookies.get("lang"), request.headers.get("accept-language")
    )
    orders, _ = find_orders(session, replace(filters, limit=CSV_LIMIT, offset=0))
    now = clock()
    out = io.StringIO()
    out.write("\ufeff")
    w = csv.writer(out)
    w.writerow([t(f"csv.{c}", lang) for c in CSV_COLUMNS])
    for o in orders:
        s = sla_status(order_clock(o), now, targets)
        w.writerow(
            [
                o.id,
                o.asset_id,
                t(f"kind.{o.asset.kind}", lang),
                o.asset.estate_id,
                o.asset.building.code if o.asset.building is not None else "",
                t(f"order.type.{o.type}", lang),
                t(f"priority.{o.priority}", lang),
                t(f"order.state.{o.state}", lang),
                o.crew_id or "",
                o.title,
                format_local(o.opened_at, lang),
                format_local(o.scheduled_for, lang),
                format_local(s.respond_due, lang),
                format_local(s.resolve_due, lang),
                t("common.yes", lang)
                if s.response_breached or s.resolution_breached
                else t("common.no", lang),
            ]
        )
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="orders.csv"'},
    )
