"""The iCalendar feed of a crew's scheduled preventive and inspection orders (subscribe with ?token=...)."""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, HTTPException, Response, status

from api.auth import READERS, Principal, Role, ensure_crew_access, require_role
from api.deps import ClockDep, SessionDep
from maintenance.domain import OrderType
from maintenance.ical import calendar
from maintenance.models import Crew, Order

router = APIRouter(tags=["crews"])

Subscriber = Annotated[Principal, Depends(require_role(*READERS, Role.CREW, query_token=True))]


@router.get("/crews/{crew_id}/calendar.ics", response_class=Response)
def crew_calendar(crew_id: str, session: SessionDep, who: Subscriber, clock: ClockDep) -> Response:
    """The crew's scheduled work as an iCal feed (calendar clients may pass ?token=)"""
    ensure_crew_access(who, crew_id)
    if session.get(Crew, crew_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"crew {crew_id!r} does not exist")
    orders = session.scalars(
        sa.select(Order)
        .where(
            Order.crew_id == crew_id,
            Order.type.in_([OrderType.PREVENTIVE.value, OrderType.INSPECTION.value]),
            Order.scheduled_for.is_not(None),
        )
        .order_by(Order.scheduled_for, Order.id)
    )
    return Response(calendar(crew_id, orders, clock()), media_type="text/calendar; charset=utf-8")
