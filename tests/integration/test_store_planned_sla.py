"""Planned work through the store (issue 12): a proposal's response clock starts at approval, and the ratings
read its window end from the order's own due time."""

from __future__ import annotations

import datetime as dt

import pytest

from evaluation.source import orders_from_maintenance
from maintenance import queries
from maintenance.db import Database
from maintenance.domain import OrderState
from maintenance.models import Order
from maintenance.orders import order_clock, transition
from maintenance.preventive import create_preventive_orders
from maintenance.sla import default_targets, sla_status
from tests.integration.test_store_preventive import db, proposal  # noqa: F401 (db: the seeded store fixture)
from tests.maint_helpers import T0

pytestmark = pytest.mark.integration
H = dt.timedelta(hours=1)


def test_an_approved_proposal_responds_from_approval_and_is_due_at_its_window_end(db: Database) -> None:  # noqa: F811
    with db.transaction() as s:
        (oid,) = create_preventive_orders(s, [proposal("lvyuan-b1-el1")], T0)
    with db.transaction() as s:
        order = s.get(Order, oid)
        assert order is not None
        waiting = sla_status(order_clock(order), T0 + 30 * H, default_targets())
        assert (waiting.response_minutes, waiting.breached) == (None, False)
        transition(s, order, OrderState.ASSIGNED, "engineer", T0 + 2 * H, "approved", crew_id="lift-a")
        transition(s, order, OrderState.ACKNOWLEDGED, "crew", T0 + 2 * H + dt.timedelta(minutes=12), "")
        status = sla_status(order_clock(order), T0 + 3 * H, default_targets())
        assert status.response_minutes == pytest.approx(12.0)  # not 132 (from the proposal)
        due = order.window_end
    assert due == T0 + dt.timedelta(days=8)  # scheduled T0 + 1 d, plus the default 7-day window
    with db.transaction() as s:
        (rec,) = orders_from_maintenance(queries.orders(s, T0 - H, T0 + 9 * 24 * H))
    assert (rec.window_start, rec.window_end, rec.resolve_by) == (T0 + dt.timedelta(days=1), due, due)
    assert rec.respond_by == T0 + 26 * H


def test_a_proposal_awaiting_approval_has_no_window_in_the_ratings(db: Database) -> None:  # noqa: F811
    with db.transaction() as s:
        create_preventive_orders(s, [proposal("lvyuan-b1-el1")], T0)
    with db.transaction() as s:
        (rec,) = orders_from_maintenance(queries.orders(s, T0 - H, T0 + H))
    assert (rec.type.value, rec.window_end, rec.resolve_by, rec.respond_by) == (
        "preventive",
        None,
        None,
        None,
    )
