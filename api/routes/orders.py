"""Work orders: list, create, read (with transitions and SLA figures), transition, assign; SLA escalations."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from pydantic import BaseModel, Field

from api.auth import OPERATORS, READERS, Principal, Role, ensure_crew_access, require_role
from api.deps import ClockDep, ContextDep, SessionDep
from api.params import RowId
from facility.contract import AssetKind
from facility.i18n import DEFAULT_LANGUAGE, in_language, pick_language
from maintenance import escalation
from maintenance.assignment import choose_crew
from maintenance.crews import crew_profiles
from maintenance.domain import (
    CrewProfile,
    InvalidTransition,
    OrderState,
    OrderType,
    Priority,
    allowed_transitions,
)
from maintenance.models import Escalation, Order
from maintenance.order_list import OrderFilter, OrderSort, find_orders
from maintenance.orders import (
    ConcurrentUpdate,
    NotFound,
    NotYet,
    auto_assign,
    create_order,
    crew_loads,
    follow_up,
    get_order,
    order_clock,
    transition,
)
from maintenance.sla import SlaTargets, default_targets, load_targets, sla_status

router = APIRouter(tags=["orders"])

#: what a crew member may move their crew's orders to
CREW_TARGETS = frozenset(
    {OrderState.ACKNOWLEDGED, OrderState.IN_PROGRESS, OrderState.RESOLVED, OrderState.REJECTED}
)

Readers = Annotated[Principal, Depends(require_role(*READERS, Role.CREW))]
Operators = Annotated[Principal, Depends(require_role(*OPERATORS))]
Actors = Annotated[Principal, Depends(require_role(*OPERATORS, Role.CREW))]
Overseers = Annotated[Principal, Depends(require_role(*READERS))]


class OrderCreate(BaseModel):
    asset_id: str = Field(min_length=1, max_length=64)
    type: OrderType
    priority: Priority = Priority.P3
    title: str = Field(min_length=1, max_length=300)
    description: str = Field("", max_length=10_000)
    complex: bool = False
    scheduled_for: dt.datetime | None = None
    crew_id: str | None = None
    auto_assign: bool = True


class TransitionIn(BaseModel):
    to: OrderState
    note: str = Field("", max_length=10_000)
    crew_id: str | None = None
    #: the version the client last saw; a different current version → 409
    version: int | None = None


class FollowUpIn(BaseModel):
    note: str = Field(min_length=1, max_length=10_000)
    rating: int | None = Field(None, ge=1, le=5)


class AssignIn(BaseModel):
    crew_id: str | None = None  # None: automatic assignment


class TransitionOut(BaseModel):
    from_state: str | None
    to_state: str
    actor: str
    at: dt.datetime
    note: str
    crew_id: str | None


class SlaOut(BaseModel):
    respond_due: dt.datetime
    resolve_due: dt.datetime
    response_minutes: float | None
    resolution_hours: float | None
    response_breached: bool
    resolution_breached: bool


class OrderOut(BaseModel):
    id: int
    asset_id: str
    #: where the asset is (for lists and the crew's card)
    kind: str = ""
    estate_id: str = ""
    estate_name: str = ""
    building: str = ""
    building_name: str = ""
    floor: int | None = None
    location: str = ""
    #: for a proposal (``created``): the crew automatic assignment would choose now
    suggested_crew: str | None = None
    type: str
    priority: str
    state: str
    title: str
    description: str
    fault_code: str | None
    crew_id: str | None
    complex: bool
    opened_at: dt.datetime
    scheduled_for: dt.datetime | None
    recovered_at: dt.datetime | None
    rework_count: int
    followed_up_at: dt.datetime | None
    follow_up_note: str | None
    resident_rating: int | None
    version: int
    allowed: list[str]
    sla: SlaOut
    transitions: list[TransitionOut]


class EscalationOut(BaseModel):
    order_id: int
    clock: str
    due_at: dt.datetime
    at: dt.datetime
    engineer_id: str | None


def unprocessable(field: str, msg: str) -> HTTPException:
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT, [{"loc": ["body", field], "msg": msg, "type": "value_error"}]
    )


def _utc(t: dt.datetime | None, field: str) -> dt.datetime | None:
    if t is not None and t.tzinfo is None:
        raise unprocessable(field, "give a timezone, e.g. 2026-11-23T09:00:00Z")
    return t


def get_targets(ctx: ContextDep) -> SlaTargets:
    """SLA targets of ``Settings.sla_file`` (default maintenance/sla.toml), read once per app."""
    targets = ctx.extras.get("sla_targets")
    if targets is None:
        path = ctx.settings.sla_file
        targets = ctx.extras["sla_targets"] = load_targets(path) if path else default_targets()
    assert isinstance(targets, SlaTargets)
    return targets


TargetsDep = Annotated[SlaTargets, Depends(get_targets)]


def reader_language(request: Request) -> str:
    """The reader's language: ``?lang=``, the ``lang`` cookie, Accept-Language, else zh."""
    return pick_language(
        request.query_params.get("lang"), request.cookies.get("lang"), request.headers.get("accept-language")
    )


LangDep = Annotated[str, Depends(reader_language)]


def order_out(
    order: Order,
    now: dt.datetime,
    targets: SlaTargets,
    suggested_crew: str | None = None,
    lang: str = DEFAULT_LANGUAGE,
) -> OrderOut:
    s = sla_status(order_clock(order), now, targets)
    asset = order.asset
    return OrderOut(
        id=order.id,
        asset_id=order.asset_id,
        kind=asset.kind,
        estate_id=asset.estate_id,
        estate_name=asset.estate.name if asset.estate is not None else "",
        building=asset.building.code if asset.building is not None else "",
        building_name=asset.building.name if asset.building is not None else "",
        floor=getattr(asset, "floor", None),
        location=asset.location or "",
        suggested_crew=suggested_crew,
        type=order.type,
        priority=order.priority,
        state=order.state,
        title=order.title,
        # a proposal's reasons are stored in zh and en (maintenance.preventive): the reader's language
        description=in_language(order.description, lang),
        fault_code=order.fault_code,
        crew_id=order.crew_id,
        complex=order.complex,
        opened_at=order.opened_at,
        scheduled_for=order.scheduled_for,
        recovered_at=order.recovered_at,
        rework_count=order.rework_count,
        followed_up_at=order.followed_up_at,
        follow_up_note=order.follow_up_note,
        resident_rating=order.resident_rating,
        version=order.version,
        allowed=[x.value for x in allowed_transitions(OrderState(order.state))],
        sla=SlaOut(**s.__dict__),
        transitions=[
            TransitionOut(
                from_state=t.from_state,
                to_state=t.to_state,
                actor=t.actor,
                at=t.at,
                note=t.note,
                crew_id=t.crew_id,
            )
            for t in order.transitions
        ],
    )


def _load(session: SessionDep, order_id: RowId, who: Principal) -> Order:
    try:
        order = get_order(session, order_id)
    except NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    ensure_crew_access(who, order.crew_id)
    return order


def order_filter(
    who: Readers,
    state: Annotated[list[OrderState] | None, Query(description="one or more states")] = None,
    estate: Annotated[list[str] | None, Query(description="estate ids")] = None,
    kind: Annotated[list[AssetKind] | None, Query(description="asset kinds")] = None,
    type: Annotated[list[OrderType] | None, Query(description="order types")] = None,
    priority: Annotated[list[Priority] | None, Query(description="priorities")] = None,
    crew_id: Annotated[list[str] | None, Query(description="crew ids")] = None,
    asset_id: str | None = None,
    q: Annotated[str, Query(max_length=200, description="words in the title, asset id or location")] = "",
    sort: OrderSort = OrderSort.NEWEST,
    limit: int = Query(200, ge=1, le=2000),
    offset: int = Query(0, ge=0, le=1_000_000),
) -> OrderFilter:
    """The list's filters from the query string; a crew member only ever sees their own crew's orders."""
    return OrderFilter(
        estates=tuple(estate or ()),
        kinds=tuple(kind or ()),
        types=tuple(type or ()),
        states=tuple(state or ()),
        priorities=tuple(priority or ()),
        crews=tuple(crew_id or ()),
        asset_id=asset_id,
        text=q,
        sort=sort,
        limit=limit,
        offset=offset,
        only_crew=(who.crew_id or "") if who.role is Role.CREW else None,
    )


FilterDep = Annotated[OrderFilter, Depends(order_filter)]


class _Suggestions:
    """Suggested crews of proposals, with the crews and their loads read once per request."""

    def __init__(self, session: SessionDep, now: dt.datetime) -> None:
        self.session, self.now = session, now
        self.profiles: list[CrewProfile] | None = None
        self.loads: dict[str, int] = {}

    def __call__(self, order: Order) -> str | None:
        if order.state != OrderState.CREATED.value:
            return None
        if self.profiles is None:
            self.profiles, self.loads = crew_profiles(self.session), crew_loads(self.session)
        kind = AssetKind(order.asset.kind)
        choice = choose_crew(self.profiles, kind, order.asset.estate_id, self.loads, self.now)
        return choice.id if choice else None


@router.get("/orders", response_model=list[OrderOut])
def list_orders(
    session: SessionDep,
    clock: ClockDep,
    targets: TargetsDep,
    filters: FilterDep,
    response: Response,
    lang: LangDep,
) -> list[OrderOut]:
    """Orders matching the filters, one page (``limit``/``offset``); ``X-Total-Count`` says how many match."""
    orders, total = find_orders(session, filters)
    response.headers["X-Total-Count"] = str(total)
    now = clock()
    suggest = _Suggestions(session, now)
    return [order_out(o, now, targets, suggest(o), lang) for o in orders]


@router.post("/orders", response_model=OrderOut, status_code=status.HTTP_201_CREATED)
def create(
    body: OrderCreate, session: SessionDep, who: Operators, clock: ClockDep, targets: TargetsDep
) -> OrderOut:
    """Open a work order"""
    now = clock()
    try:
        order = create_order(
            session,
            asset_id=body.asset_id,
            type=body.type,
            priority=body.priority,
            title=body.title,
            description=body.description,
            complex=body.complex,
            scheduled_for=_utc(body.scheduled_for, "scheduled_for"),
            actor=who.actor,
            at=now,
        )
        if body.crew_id is not None:
            transition(
                session, order, OrderState.ASSIGNED, who.actor, now, "assigned at creation", body.crew_id
            )
        elif body.auto_assign:
            auto_assign(session, order, who.actor, now)
    except NotFound as exc:
        raise unprocessable(exc.field, str(exc)) from None
    return order_out(order, now, targets, _Suggestions(session, now)(order))


@router.get("/orders/{order_id}", response_model=OrderOut)
def read(
    order_id: RowId, session: SessionDep, who: Readers, clock: ClockDep, targets: TargetsDep, lang: LangDep
) -> OrderOut:
    """One work order with its SLA clocks"""
    now = clock()
    order = _load(session, order_id, who)
    return order_out(order, now, targets, _Suggestions(session, now)(order), lang)


@router.post("/orders/{order_id}/transitions", response_model=OrderOut, responses={409: {}})
def move(
    order_id: RowId,
    body: TransitionIn,
    session: SessionDep,
    who: Actors,
    clock: ClockDep,
    targets: TargetsDep,
) -> Any:
    """Move an order to its next state (409 lists the allowed ones)"""
    order = _load(session, order_id, who)
    if who.role is Role.CREW and body.to not in CREW_TARGETS:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"a crew member may only move an order to {sorted(s.value for s in CREW_TARGETS)}",
        )
    if who.role is Role.CREW and body.crew_id is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "a crew member cannot assign orders")
    if body.to is OrderState.REJECTED and not body.note.strip():
        raise unprocessable("note", "a rejection (退单) needs a reason in 'note'")
    now = clock()
    with _transition_errors():
        try:
            transition(session, order, body.to, who.actor, now, body.note, body.crew_id, body.version)
        except InvalidTransition:
            raise
        except ValueError as exc:  # e.g. assigning without a crew
            raise unprocessable("crew_id", str(exc)) from None
    return order_out(order, now, targets)


@router.post("/orders/{order_id}/assign", response_model=OrderOut)
def assign(
    order_id: RowId, body: AssignIn, session: SessionDep, who: Operators, clock: ClockDep, targets: TargetsDep
) -> OrderOut:
    """Assign an order to a crew"""
    order = _load(session, order_id, who)
    now = clock()
    with _transition_errors():
        if body.crew_id is None:
            if auto_assign(session, order, who.actor, now) is None:
                raise unprocessable("crew_id", "no active crew has this asset's skill and estate: name one")
        else:
            transition(session, order, OrderState.ASSIGNED, who.actor, now, "manual assignment", body.crew_id)
    return order_out(order, now, targets)


@contextmanager
def _transition_errors() -> Iterator[None]:
    """409 for a transition the state machine or a concurrent update refuses; 422 for an unknown crew."""
    try:
        yield
    except (InvalidTransition, ConcurrentUpdate) as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except NotFound as exc:
        raise unprocessable("crew_id", str(exc)) from None


@router.post("/orders/{order_id}/follow-up", response_model=OrderOut)
def record_follow_up(
    order_id: RowId,
    body: FollowUpIn,
    session: SessionDep,
    who: Operators,
    clock: ClockDep,
    targets: TargetsDep,
) -> OrderOut:
    """回访: the resident was called back after the fix; ``rating`` 1..5 is theirs."""
    order = _load(session, order_id, who)
    now = clock()
    try:
        follow_up(session, order, now, body.note, body.rating)
    except (NotYet, ConcurrentUpdate) as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    return order_out(order, now, targets)


@router.get("/escalations", response_model=list[EscalationOut])
def escalations(session: SessionDep, who: Overseers) -> list[EscalationOut]:
    """SLA breaches escalated so far"""
    rows = session.scalars(sa.select(Escalation).order_by(Escalation.id))
    return [
        EscalationOut(order_id=e.order_id, clock=e.clock, due_at=e.due_at, at=e.at, engineer_id=e.engineer_id)
        for e in rows
    ]


@router.post("/sla/check", response_model=list[EscalationOut])
def check(session: SessionDep, who: Operators, clock: ClockDep, targets: TargetsDep) -> list[EscalationOut]:
    """Run the breach check now (the service also runs it periodically)."""
    new = escalation.check_sla(session, clock(), targets)
    return [
        EscalationOut(order_id=e.order_id, clock=e.clock, due_at=e.due_at, at=e.at, engineer_id=e.engineer_id)
        for e in new
    ]
