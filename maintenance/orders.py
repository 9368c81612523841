"""Work-order services: create, transition (stored with who and when), assign. Optimistic locking."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from facility.contract import AssetKind
from facility.i18n import DEFAULT_LANGUAGE, t
from maintenance import timeline
from maintenance.assignment import choose_crew
from maintenance.crews import crew_profiles
from maintenance.domain import (
    CREW_LOAD_STATES,
    OPEN_STATES,
    OrderState,
    OrderType,
    Priority,
    check_transition,
    state_after_order,
)
from maintenance.models import Asset, Crew, Order, Transition
from maintenance.order_records import OrderNote
from maintenance.outbox import crew_topic, enqueue, order_payload
from maintenance.sla import OrderClock


def system_title(kind: str, asset: str, what: str, lang: str = DEFAULT_LANGUAGE) -> str:
    """A title the system gives an order: the kind's name (catalogue ``kind.*``), the asset and what happened,
    in the default language, zh (H2 #13: Chinese pages showed "elevator lvyuan-b1-el9: entrapment")."""
    return f"{t(f'kind.{kind}', lang)} {asset}{'：' if lang == 'zh' else ': '}{what}"


def fault_title(kind: str, asset: str, code: str, lang: str = DEFAULT_LANGUAGE) -> str:
    """A fault order's title; the code's name from the catalogue (``code.*``), the code itself without one."""
    name = t(f"code.{code}", lang)
    return system_title(kind, asset, code if name == f"code.{code}" else name, lang)


def preventive_title(kind: str, asset: str, risk: float, lang: str = DEFAULT_LANGUAGE) -> str:
    what = t("order.type.preventive", lang)
    if lang == "zh":
        return f"{what}：{t(f'kind.{kind}', lang)} {asset}（{t('col.risk', lang)} {risk:.2f}）"
    return f"{what[:1].upper()}{what[1:]}: {t(f'kind.{kind}', lang)} {asset} ({t('col.risk', lang).lower()} {risk:.2f})"


class NotFound(LookupError):
    """A referenced order, asset or crew does not exist; ``field`` names the input that referred to it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class ConcurrentUpdate(RuntimeError):
    """Someone else changed the order first; reload it and retry."""


def get_order(session: Session, order_id: int) -> Order:
    order = session.get(Order, order_id)
    if order is None:
        raise NotFound("order_id", f"order {order_id} does not exist")
    return order


def create_order(
    session: Session,
    *,
    asset_id: str,
    type: OrderType,
    priority: Priority,
    title: str,
    actor: str,
    at: dt.datetime,
    description: str = "",
    fault_code: str | None = None,
    complex: bool = False,
    scheduled_for: dt.datetime | None = None,
) -> Order:
    asset = session.get(Asset, asset_id)
    if asset is None:
        raise NotFound(
            "asset_id",
            f"asset {asset_id!r} is not in the registry: import it first (facility registry import)",
        )
    order = Order(
        asset=asset,
        type=type.value,
        priority=priority.value,
        state=OrderState.CREATED.value,
        title=title,
        description=description,
        fault_code=fault_code,
        complex=complex,
        opened_at=at,
        scheduled_for=scheduled_for,
        rework_count=0,
        created_by=actor,
    )
    order.transitions.append(
        Transition(from_state=None, to_state=OrderState.CREATED.value, actor=actor, at=at, note=title)
    )
    session.add(order)
    session.flush()
    return order


def transition(
    session: Session,
    order: Order,
    target: OrderState,
    actor: str,
    at: dt.datetime,
    note: str = "",
    crew_id: str | None = None,
    expected_version: int | None = None,
) -> Transition:
    """Move ``order`` to ``target``; raises InvalidTransition, ValueError, NotFound or ConcurrentUpdate."""
    order_id = order.id
    try:
        return _transition(session, order, target, actor, at, note, crew_id, expected_version)
    except StaleDataError:
        raise ConcurrentUpdate(
            f"order {order_id} was changed by someone else meanwhile: reload it and retry"
        ) from None


def _transition(
    session: Session,
    order: Order,
    target: OrderState,
    actor: str,
    at: dt.datetime,
    note: str,
    crew_id: str | None,
    expected_version: int | None,
) -> Transition:
    if expected_version is not None and expected_version != order.version:
        raise ConcurrentUpdate(
            f"order {order.id} is at version {order.version}, not {expected_version}: reload it and retry"
        )
    current = OrderState(order.state)
    check_transition(current, target, note)
    if target is OrderState.ASSIGNED:
        crew_id = crew_id or (order.crew_id if current is not OrderState.REJECTED else None)
        if crew_id is None:
            raise ValueError("assigning needs a crew: send 'crew_id' (or use automatic assignment)")
        if session.get(Crew, crew_id) is None:
            raise NotFound("crew_id", f"crew {crew_id!r} does not exist")
        order.crew_id = crew_id
    if target is OrderState.REOPENED:
        order.rework_count += 1
        order.recovered_at = None
    order.state = target.value
    row = Transition(
        from_state=current.value, to_state=target.value, actor=actor, at=at, note=note, crew_id=order.crew_id
    )
    order.transitions.append(row)
    new_asset_state = state_after_order(target)
    if new_asset_state is not None:
        timeline.set_state(session, order.asset_id, new_asset_state, at, f"order {order.id} {target.value}")
    if order.crew_id is not None and target is not OrderState.CREATED:
        enqueue(session, crew_topic(order.crew_id), order_payload(order, target.value, at), at, order.crew_id)
    try:
        session.flush()
    except StaleDataError:
        raise ConcurrentUpdate(
            f"order {order.id} was changed by someone else meanwhile: reload it and retry"
        ) from None
    return row


def crew_loads(session: Session) -> dict[str, int]:
    rows = session.execute(
        sa.select(Order.crew_id, sa.func.count())
        .where(Order.crew_id.is_not(None), Order.state.in_([s.value for s in CREW_LOAD_STATES]))
        .group_by(Order.crew_id)
    )
    return {crew: int(n) for crew, n in rows if crew is not None}


def auto_assign(session: Session, order: Order, actor: str, at: dt.datetime) -> Crew | None:
    """Assign to the best crew (skill, estate, on duty, load); None (order left as is) when no crew fits.

    Crews that rejected (退单) this order are passed over while another crew fits.
    """
    kind, estate, loads = AssetKind(order.asset.kind), order.asset.estate_id, crew_loads(session)
    profiles = crew_profiles(session)
    refused = {t.crew_id for t in order.transitions if t.to_state == OrderState.REJECTED.value}
    choice = choose_crew(
        [p for p in profiles if p.id not in refused], kind, estate, loads, at
    ) or choose_crew(profiles, kind, estate, loads, at)
    if choice is None:
        return None
    transition(session, order, OrderState.ASSIGNED, actor, at, "automatic assignment", crew_id=choice.id)
    return session.get(Crew, choice.id)


def first_at(transitions: Sequence[Transition], state: OrderState) -> dt.datetime | None:
    return next((t.at for t in transitions if t.to_state == state.value), None)


def order_clock(order: Order) -> OrderClock:
    return OrderClock(
        kind=AssetKind(order.asset.kind),
        priority=Priority(order.priority),
        opened_at=order.opened_at,
        acknowledged_at=first_at(order.transitions, OrderState.ACKNOWLEDGED),
        resolved_at=first_at(order.transitions, OrderState.RESOLVED),
        complex=order.complex,
        # planned work (issue 12, maintenance/sla.py): its window, and its approval (the first assignment)
        window_end=order.window_end,
        approved_at=first_at(order.transitions, OrderState.ASSIGNED) if order.window_end else None,
    )


class NotYet(ValueError):
    """The order is not in a state where this makes sense yet."""


def follow_up(session: Session, order: Order, at: dt.datetime, note: str, rating: int | None) -> None:
    """Record the follow-up with the resident (回访) of a resolved, verified or closed order."""
    done = (OrderState.RESOLVED, OrderState.VERIFIED, OrderState.CLOSED)
    if OrderState(order.state) not in done:
        raise NotYet(
            f"order {order.id} is {order.state!r}: follow up after it is resolved, verified or closed"
        )
    if rating is not None and not 1 <= rating <= 5:
        raise ValueError(f"rating must be 1..5, got {rating}")
    order.followed_up_at, order.follow_up_note, order.resident_rating = at, note, rating
    order_id = order.id
    try:
        session.flush()
    except StaleDataError:
        raise ConcurrentUpdate(
            f"order {order_id} was changed by someone else meanwhile: reload it and retry"
        ) from None


# --- the engineer's actions on an order (issue 16): each is one transition and/or a timeline note --------


def add_note(
    session: Session, order: Order, actor: str, at: dt.datetime, text: str, kind: str = "note"
) -> None:
    """A line in the order's timeline (typed by someone, or what a reschedule/decline/photo did)."""
    session.add(OrderNote(order_id=order.id, kind=kind, actor=actor, at=at, text=text))
    session.flush()


def suggest_crew(session: Session, order: Order, at: dt.datetime) -> str | None:
    """The crew automatic assignment would choose now (skill, estate, on duty, load), or None."""
    choice = choose_crew(
        crew_profiles(session), AssetKind(order.asset.kind), order.asset.estate_id, crew_loads(session), at
    )
    return choice.id if choice else None


def _proposal(order: Order, what: str) -> None:
    if OrderState(order.state) is not OrderState.CREATED:
        raise NotYet(
            f"order {order.id} is {order.state!r}: only a proposal waiting in 'created' can be {what}"
        )


def _needs_reason(reason: str, what: str) -> str:
    reason = reason.strip()
    if not reason:
        raise ValueError(f"{what} needs a reason: send a non-empty 'reason'")
    return reason


def approve(
    session: Session,
    order: Order,
    actor: str,
    at: dt.datetime,
    crew_id: str | None = None,
    scheduled_for: dt.datetime | None = None,
    expected_version: int | None = None,
) -> Transition:
    """Approve a proposal (an order waiting in ``created``): assign it to ``crew_id`` or the suggested crew,
    at ``scheduled_for`` or the proposed time. ValueError when no crew fits and none is named."""
    _proposal(order, "approved")
    crew_id = crew_id or suggest_crew(session, order, at)
    if crew_id is None:
        raise ValueError("no active crew has this asset's skill and estate: name one in 'crew_id'")
    if scheduled_for is not None and scheduled_for != order.scheduled_for:
        order.scheduled_for = scheduled_for.astimezone(dt.UTC)
    return transition(session, order, OrderState.ASSIGNED, actor, at, "approved", crew_id, expected_version)


def decline(
    session: Session,
    order: Order,
    actor: str,
    at: dt.datetime,
    reason: str,
    expected_version: int | None = None,
) -> Transition:
    """Decline a proposal: it is cancelled with the engineer's reason (kept in the timeline)."""
    _proposal(order, "declined")
    why = _needs_reason(reason, "declining a proposal")
    return transition(
        session, order, OrderState.CANCELLED, actor, at, f"declined: {why}", None, expected_version
    )


def cancel(
    session: Session,
    order: Order,
    actor: str,
    at: dt.datetime,
    reason: str,
    expected_version: int | None = None,
) -> Transition:
    """Cancel an open order with a reason."""
    why = _needs_reason(reason, "cancelling an order")
    return transition(session, order, OrderState.CANCELLED, actor, at, why, None, expected_version)


def reassign(
    session: Session,
    order: Order,
    actor: str,
    at: dt.datetime,
    crew_id: str,
    note: str = "",
    expected_version: int | None = None,
) -> Transition:
    """Give the order to another crew (it goes back to ``assigned``: the new crew acknowledges it)."""
    if not crew_id:
        raise ValueError("reassigning needs a crew: send 'crew_id'")
    if crew_id == order.crew_id and OrderState(order.state) is OrderState.ASSIGNED:
        raise ValueError(f"order {order.id} is already assigned to crew {crew_id!r}")
    return transition(
        session, order, OrderState.ASSIGNED, actor, at, note or "reassigned", crew_id, expected_version
    )


def reschedule(
    session: Session,
    order: Order,
    actor: str,
    at: dt.datetime,
    scheduled_for: dt.datetime,
    note: str = "",
    expected_version: int | None = None,
) -> None:
    """Move an open order's planned time; the change is a line in its timeline."""
    if OrderState(order.state) not in OPEN_STATES:
        raise NotYet(f"order {order.id} is {order.state!r}: only an open order can be rescheduled")
    if expected_version is not None and expected_version != order.version:
        raise ConcurrentUpdate(
            f"order {order.id} is at version {order.version}, not {expected_version}: reload it and retry"
        )
    before = order.scheduled_for
    order.scheduled_for = scheduled_for = scheduled_for.astimezone(dt.UTC)
    stamp = "—" if before is None else before.isoformat()
    add_note(session, order, actor, at, f"{stamp} → {scheduled_for.isoformat()} {note}".strip(), "reschedule")
    if order.crew_id is not None:
        enqueue(
            session, crew_topic(order.crew_id), order_payload(order, "rescheduled", at), at, order.crew_id
        )
    try:
        session.flush()
    except StaleDataError:
        raise ConcurrentUpdate(
            f"order {order.id} was changed by someone else meanwhile: reload it and retry"
        ) from None
