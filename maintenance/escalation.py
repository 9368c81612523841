"""Breach detection while it happens: a periodic check records and announces each breached SLA clock once."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from maintenance.crews import engineer_on_duty
from maintenance.domain import OrderState
from maintenance.models import Engineer, Escalation, Order
from maintenance.orders import order_clock
from maintenance.outbox import engineer_topic, enqueue, enqueue_channels, escalation_topic
from maintenance.sla import SlaTargets, sla_status

#: orders whose clocks may still be running
_RUNNING = [
    s.value for s in OrderState if s not in (OrderState.CANCELLED, OrderState.CLOSED, OrderState.VERIFIED)
]


def _chain(clock: str, crew: str | None, engineer: Engineer | None, estate: str) -> list[tuple[str, str]]:
    """Who hears of a breach on their notification channels — the chain crew → engineer on duty → estate
    manager: a response breach reaches the crew and the engineer on duty, a resolution breach the engineer
    on duty and the estate's manager."""
    eng = [("engineer", engineer.id)] if engineer is not None else []
    if clock == "resolution":
        return [*eng, ("manager", estate)]
    return [*([("crew", crew)] if crew else []), *eng]


def _note(payload: dict[str, object]) -> dict[str, object]:
    return {"note": "escalation", **payload}


def check_sla(session: Session, now: dt.datetime, targets: SlaTargets) -> list[Escalation]:
    """Escalate every clock breached at ``now`` that was not escalated before; returns the new ones."""
    seen = {(o, c) for o, c in session.execute(sa.select(Escalation.order_id, Escalation.clock))}
    new: list[Escalation] = []
    orders = session.scalars(
        sa.select(Order).where(Order.state.in_(_RUNNING)).options(selectinload(Order.transitions))
    )
    for order in orders:
        status = sla_status(order_clock(order), now, targets)
        for clock, breached, due in (
            ("response", status.response_breached, status.respond_due),
            ("resolution", status.resolution_breached, status.resolve_due),
        ):
            if not breached or (order.id, clock) in seen:
                continue
            estate = order.asset.estate_id
            engineer = engineer_on_duty(session, estate, now)
            esc = Escalation(
                order_id=order.id,
                clock=clock,
                due_at=due,
                at=now,
                engineer_id=engineer.id if engineer else None,
            )
            session.add(esc)
            payload = {
                "event": "sla_breach",
                "clock": clock,
                "order": order.id,
                "asset": order.asset_id,
                "estate": estate,
                "priority": order.priority,
                "state": order.state,
                "crew": order.crew_id,
                "due_at": due.isoformat(),
                "at": now.isoformat(),
                "engineer": esc.engineer_id,
            }
            enqueue(session, escalation_topic(estate), payload, now)
            if engineer is not None:
                enqueue(session, engineer_topic(engineer.id), payload, now)
            owners = _chain(clock, order.crew_id, engineer, estate)
            # P1 (entrapment, fire) goes through quiet hours; the others wait for them to end
            enqueue_channels(session, owners, _note(payload), now, order.priority == "p1")
            new.append(esc)
    session.flush()
    return new
