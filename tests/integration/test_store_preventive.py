"""Planner proposals become preventive orders: scheduled, explained, approved by default, never doubled."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from maintenance.db import Database
from maintenance.domain import OrderState
from maintenance.models import Order
from maintenance.orders import get_order
from maintenance.preventive import create_preventive_orders
from predict.planner import PlannedOrder
from tests.maint_helpers import T0, seed

pytestmark = pytest.mark.integration


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database.open(db_url)
    with database.transaction() as s:
        seed(s)
    yield database
    database.dispose()


def proposal(asset: str, approval: bool = True, crew: str = "lift-a") -> PlannedOrder:
    return PlannedOrder(
        asset=asset,
        kind="elevator",
        crew=crew,
        start=T0 + dt.timedelta(days=1),
        end=T0 + dt.timedelta(days=1, hours=2),
        risk=1.6,
        probability=0.4,
        window_start=T0 + dt.timedelta(days=5),
        window_end=T0 + dt.timedelta(days=20),
        model_version="v1",
        reasons=(
            "risk 1.60 = 0.40 × criticality 4 ≥ threshold 1.20",
            "drivers: vibration_mm_s__trend (+0.80)",
        ),
        requires_approval=approval,
    )


def test_proposals_become_scheduled_orders_awaiting_approval_without_duplicates(db: Database) -> None:
    with db.transaction() as s:
        first = create_preventive_orders(s, [proposal("lvyuan-b1-el1")], T0)
        again = create_preventive_orders(s, [proposal("lvyuan-b1-el1"), proposal("lvyuan-b1-el1")], T0)
    assert len(first) == 1 and again == []
    with db.transaction() as s:
        order = get_order(s, first[0])
        assert (order.type, order.state, order.priority) == ("preventive", "created", "p3")
        assert order.scheduled_for == T0 + dt.timedelta(days=1)
        assert order.crew_id is None
        assert "P(failure within 30 days) = 40.0%" in order.description
        assert "drivers: vibration_mm_s__trend (+0.80)" in order.description
        assert "Awaiting engineer approval" in order.description
        assert [t.actor for t in order.transitions] == ["planner"]


def test_auto_approved_proposal_is_assigned_to_the_planned_crew(db: Database) -> None:
    with db.transaction() as s:
        (oid,) = create_preventive_orders(s, [proposal("lvyuan-b1-el1", approval=False)], T0)
    with db.transaction() as s:
        order = s.get(Order, oid)
        assert order is not None
        assert (order.state, order.crew_id) == (OrderState.ASSIGNED.value, "lift-a")
