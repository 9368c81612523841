"""Events from devices → corrective orders and the asset state timeline.

``handle_event(session, message, now)`` is the one entry point: the MQTT listener, the history loader and
tests call it. Rules:

- fault: the asset becomes *faulted*; a corrective order opens for (asset, fault code) unless one is open
  (repeated events change nothing). A fault whose previous order for the same code was resolved less than
  30 days earlier reopens that order (rework) instead. New and reopened orders are assigned automatically,
  and the asset's preventive proposals not started yet are cancelled as superseded by the corrective order
  (maintenance.preventive.supersede_proposals).
- recovery: recorded on the open order (``recovered_at``); the asset is back *in service* unless another
  fault of it is still active or a crew is working on it.
- status offline/online: the asset goes *offline* / back to the state it had before.
- alarms are not faults and open nothing here (maintenance.alarms raises them and its rules open orders).
- the order priority of a fault is the alarm rule's (maintenance.alarms.rules: entrapment and fire-panel
  faults P1) when a rule covers its code, else ``fault_priority``; uncleared alarms of that code are linked
  to the order (an alarm and its order point at each other through ``alarms.order_id``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from facility.contract import AssetKind, Event, EventType, Message, Status
from maintenance import timeline
from maintenance.alarms.store import link_alarms, order_priority_for
from maintenance.domain import (
    OPEN_STATES,
    REWORK_WINDOW,
    AssetState,
    OrderState,
    OrderType,
    fault_priority,
)
from maintenance.models import Asset, Order
from maintenance.orders import auto_assign, create_order, fault_title, first_at, transition
from maintenance.preventive import supersede_proposals

SYSTEM_ACTOR = "system:events"


@dataclass(frozen=True)
class Outcome:
    """What handling one message did (for logs and tests)."""

    action: str  # opened | duplicate | reopened | recovered | status | ignored | unknown_asset
    order_id: int | None = None
    crew_id: str | None = None


def _ts(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


def _orders_for(session: Session, asset_id: str, code: str) -> list[Order]:
    return list(
        session.scalars(
            sa.select(Order)
            .where(
                Order.asset_id == asset_id, Order.fault_code == code, Order.type == OrderType.CORRECTIVE.value
            )
            .order_by(Order.opened_at.desc(), Order.id.desc())
        )
    )


def _on_fault(session: Session, asset: Asset, event: Event, at: dt.datetime) -> Outcome:
    timeline.set_state(session, asset.id, AssetState.FAULTED, at, f"fault {event.code}")
    existing = _orders_for(session, asset.id, event.code)
    open_order = next((o for o in existing if OrderState(o.state) in OPEN_STATES), None)
    if open_order is not None:
        return Outcome("duplicate", open_order.id, open_order.crew_id)
    last = existing[0] if existing else None
    if last is not None and last.state != OrderState.CANCELLED.value:
        resolved_at = first_at(list(reversed(last.transitions)), OrderState.RESOLVED)
        if resolved_at is not None and dt.timedelta(0) <= at - resolved_at <= REWORK_WINDOW:
            transition(
                session, last, OrderState.REOPENED, SYSTEM_ACTOR, at, f"fault {event.code} again: rework"
            )
            crew = auto_assign(session, last, SYSTEM_ACTOR, at)
            link_alarms(session, asset.id, event.code, last)
            supersede_proposals(session, last, SYSTEM_ACTOR, at)
            return Outcome("reopened", last.id, crew.id if crew else None)
    kind = AssetKind(asset.kind)
    order = create_order(
        session,
        asset_id=asset.id,
        type=OrderType.CORRECTIVE,
        priority=order_priority_for(session, asset, event.code) or fault_priority(kind, event.code),
        title=fault_title(kind.value, asset.id, event.code),
        description=event.detail,
        fault_code=event.code,
        actor=SYSTEM_ACTOR,
        at=at,
    )
    crew = auto_assign(session, order, SYSTEM_ACTOR, at)
    link_alarms(session, asset.id, event.code, order)
    supersede_proposals(session, order, SYSTEM_ACTOR, at)
    return Outcome("opened", order.id, crew.id if crew else None)


def _on_recovery(session: Session, asset: Asset, event: Event, at: dt.datetime) -> Outcome:
    orders = _orders_for(session, asset.id, event.code)
    target = next((o for o in orders if OrderState(o.state) in OPEN_STATES), orders[0] if orders else None)
    if target is not None and target.recovered_at is None:
        target.recovered_at = at
    still_faulty = any(
        o.recovered_at is None and OrderState(o.state) in OPEN_STATES
        for o in session.scalars(
            sa.select(Order).where(Order.asset_id == asset.id, Order.id != (target.id if target else -1))
        )
    )
    cur = timeline.current(session, asset.id)
    if cur is not None and cur.state == AssetState.FAULTED.value and not still_faulty:
        timeline.set_state(session, asset.id, AssetState.IN_SERVICE, at, f"recovery {event.code}")
    session.flush()
    return Outcome("recovered", target.id if target else None, target.crew_id if target else None)


def _on_status(session: Session, asset: Asset, status: Status, at: dt.datetime) -> Outcome:
    cur = timeline.current(session, asset.id)
    if not status.online:
        timeline.set_state(session, asset.id, AssetState.OFFLINE, at, "status offline")
    elif cur is not None and cur.state == AssetState.OFFLINE.value:
        before = timeline.previous(session, cur)
        back = AssetState(before.state) if before is not None else AssetState.IN_SERVICE
        timeline.set_state(session, asset.id, back, at, "status online")
    return Outcome("status")


def handle_event(session: Session, message: Message, now: dt.datetime) -> Outcome:
    """Apply one contract message (Event or Status) to orders and the timeline; readings are ignored.

    Times recorded are the device's (``ts_ms``), never ``now``, so replayed history lands where it
    happened; ``now`` is kept for callers that log processing time.
    """
    del now
    if not isinstance(message, Event | Status):
        return Outcome("ignored")
    asset = session.get(Asset, message.ref.asset)
    if asset is None:
        return Outcome("unknown_asset")
    at = _ts(message.ts_ms)
    if isinstance(message, Status):
        return _on_status(session, asset, message, at)
    if message.type is EventType.FAULT:
        return _on_fault(session, asset, message, at)
    if message.type is EventType.RECOVERY:
        return _on_recovery(session, asset, message, at)
    return Outcome("ignored")
