"""Replaying simulated history into the store: past events → orders and timeline; past repairs → fixes.

The simulators' ground truth knows when an asset failed and when it was repaired, not when a crew
acknowledged or started. A replayed corrective order therefore goes acknowledged → in_progress → resolved
→ verified → closed all at the repair time (actor ``history``): its response time is the whole wait until the repair,
an upper bound. A preventive repair becomes a preventive order opened, scheduled and done at that time.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from facility.contract import Event, Message, Status
from maintenance.domain import OPEN_STATES, OrderState, OrderType, Priority
from maintenance.handler import handle_event
from maintenance.models import Asset, Order
from maintenance.orders import auto_assign, create_order, transition

ACTOR = "history"
_NEXT = {
    OrderState.ASSIGNED: OrderState.ACKNOWLEDGED,
    OrderState.ACKNOWLEDGED: OrderState.IN_PROGRESS,
    OrderState.IN_PROGRESS: OrderState.RESOLVED,
    OrderState.RESOLVED: OrderState.VERIFIED,
    OrderState.VERIFIED: OrderState.CLOSED,
}


class RepairLike(Protocol):
    """A ground-truth repair (simulators.truth.TruthRecord with type == "repair")."""

    @property
    def ts(self) -> int: ...
    @property
    def asset(self) -> str: ...
    @property
    def code(self) -> str: ...
    @property
    def preventive(self) -> bool | None: ...
    @property
    def was_down(self) -> bool | None: ...


def _at(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


def _close_out(session: Session, order: Order, at: dt.datetime) -> None:
    if OrderState(order.state) in (OrderState.CREATED, OrderState.REJECTED, OrderState.REOPENED) and (
        auto_assign(session, order, ACTOR, at) is None
    ):
        return  # no crew can take it: it stays open, as it would have
    while (target := _NEXT.get(OrderState(order.state))) is not None:
        transition(session, order, target, ACTOR, at, "replayed from history: only the repair time is known")


def apply_repair(session: Session, repair: RepairLike) -> str:
    at = _at(repair.ts)
    asset = session.get(Asset, repair.asset)
    if asset is None:
        return "unknown_asset"
    if repair.preventive and not repair.was_down:
        order = create_order(
            session,
            asset_id=asset.id,
            type=OrderType.PREVENTIVE,
            priority=Priority.P3,
            title=f"preventive maintenance {asset.id}",
            actor=ACTOR,
            at=at,
            scheduled_for=at,
        )
        _close_out(session, order, at)
        return "preventive"
    q = sa.select(Order).where(Order.asset_id == asset.id, Order.state.in_([s.value for s in OPEN_STATES]))
    if repair.code:
        q = q.where(Order.fault_code == repair.code)
    open_order = session.scalars(q.order_by(Order.opened_at)).first()
    if open_order is None:
        return "no_open_order"
    _close_out(session, open_order, at)
    return "fixed"


def replay(
    session: Session, messages: Iterable[Message], repairs: Iterable[RepairLike], now: dt.datetime
) -> Counter[str]:
    """Apply events/status and repairs in time order (repairs after events of the same millisecond)."""
    items: list[tuple[int, int, Message | RepairLike]] = [
        (m.ts_ms, 0, m) for m in messages if isinstance(m, Event | Status)
    ]
    items += [(r.ts, 1, r) for r in repairs]
    items.sort(key=lambda t: (t[0], t[1]))
    counts: Counter[str] = Counter()
    for _, kind, item in items:
        if kind == 0:
            counts[handle_event(session, item, now).action] += 1  # type: ignore[arg-type]
        else:
            counts[apply_repair(session, item)] += 1  # type: ignore[arg-type]
    return counts
