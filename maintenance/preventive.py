"""Preventive orders from the planner's proposals (predict.planner.PlannedOrder).

An order proposed by the planner is created with its reasons and its scheduled window (``scheduled_for`` →
``window_end``: planned work, whose SLA is "done within its window" with no response clock until approved,
maintenance/sla.py). By default it waits in ``created`` for an engineer to approve it (approving = assigning it to a crew, ``POST /orders/{id}/assign``);
when the planner was set to auto-approve, it is assigned to the planned crew at once. An asset that already
has an open preventive or inspection order gets no second one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from maintenance.domain import OPEN_STATES, OrderState, OrderType, Priority
from maintenance.models import Order
from maintenance.orders import create_order, preventive_title, transition

PLANNER_ACTOR = "planner"
PLANNED_TYPES = (OrderType.PREVENTIVE.value, OrderType.INSPECTION.value)
#: a proposal's window when the planner gave no due time
DEFAULT_WINDOW = dt.timedelta(days=7)


class Proposal(Protocol):
    """What the planner proposes (predict.planner.PlannedOrder has these fields)."""

    @property
    def asset(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def crew(self) -> str: ...
    @property
    def start(self) -> dt.datetime: ...
    @property
    def risk(self) -> float: ...
    @property
    def probability(self) -> float: ...
    @property
    def window_start(self) -> dt.datetime | None: ...
    @property
    def window_end(self) -> dt.datetime | None: ...
    @property
    def model_version(self) -> str: ...
    @property
    def reasons(self) -> tuple[str, ...]: ...
    @property
    def requires_approval(self) -> bool: ...
    @property
    def due(self) -> dt.datetime | None: ...


def open_planned_assets(session: Session) -> set[str]:
    """Assets with an open preventive or inspection order."""
    q = sa.select(Order.asset_id).where(
        Order.type.in_(PLANNED_TYPES), Order.state.in_([s.value for s in OPEN_STATES])
    )
    return set(session.scalars(q))


def open_order_assets(session: Session) -> set[str]:
    """Assets with any open order (corrective, report, preventive or inspection): the planner proposes none."""
    q = sa.select(Order.asset_id).where(Order.state.in_([s.value for s in OPEN_STATES]))
    return set(session.scalars(q))


def _description(p: Proposal) -> str:
    window = (
        f"predicted failure window {p.window_start:%Y-%m-%d %H:%M} – {p.window_end:%Y-%m-%d %H:%M} UTC"
        if p.window_start and p.window_end
        else "no failure window within the forecast horizon"
    )
    lines = [
        f"P(failure within 30 days) = {p.probability:.1%}, risk {p.risk:.2f} (model {p.model_version}); {window}.",
        "Why:",
        *(f"- {r}" for r in p.reasons),
    ]
    if p.requires_approval:
        lines.append("Awaiting engineer approval: assign it to a crew to approve, cancel it to decline.")
    return "\n".join(lines)


def create_preventive_orders(session: Session, proposals: Sequence[Proposal], now: dt.datetime) -> list[int]:
    """Create an order per proposal (skipping assets that already have one open); returns their ids."""
    blocked = open_planned_assets(session)
    created: list[int] = []
    for p in proposals:
        if p.asset in blocked:
            continue
        order = create_order(
            session,
            asset_id=p.asset,
            type=OrderType.PREVENTIVE,
            priority=Priority.P3,
            title=preventive_title(str(p.kind), p.asset, p.risk),
            description=_description(p),
            actor=PLANNER_ACTOR,
            at=now,
            scheduled_for=p.start,
        )
        order.window_end = p.due or p.start + DEFAULT_WINDOW
        session.flush()
        if not p.requires_approval:
            transition(
                session, order, OrderState.ASSIGNED, PLANNER_ACTOR, now, "auto-approved", crew_id=p.crew
            )
        blocked.add(p.asset)
        created.append(order.id)
    return created
