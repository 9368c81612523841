"""Planner proposals become preventive orders: scheduled, explained, approved by default, never doubled."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from facility.i18n import in_language
from maintenance.db import Database
from maintenance.domain import OrderState
from maintenance.models import Order
from maintenance.orders import get_order
from maintenance.preventive import create_preventive_orders
from predict.planner import PlannedOrder
from predict.reasons import Localized, reason
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
            reason("probability", days="30", p="40.0%", model="v1"),
            reason("risk", risk="1.60", p="0.40", criticality="4", threshold="1.20"),
            reason(
                "drivers",
                drivers=Localized("轿厢振动每天变化 0.40 mm/s", "car vibration changing 0.40 mm/s a day"),
            ),
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
        zh, en = in_language(order.description, "zh"), in_language(order.description, "en")
        assert "- 30 天内故障概率 40.0%（模型 v1）" in zh.splitlines()
        assert "- 主要因素：轿厢振动每天变化 0.40 mm/s" in zh.splitlines()
        assert zh.splitlines()[-1].startswith("等待工程师审批")
        assert "- risk 1.60 = probability 0.40 × criticality 4 ≥ threshold 1.20" in en.splitlines()
        assert "Awaiting engineer approval" in en
        assert [t.actor for t in order.transitions] == ["planner"]


def test_auto_approved_proposal_is_assigned_to_the_planned_crew(db: Database) -> None:
    with db.transaction() as s:
        (oid,) = create_preventive_orders(s, [proposal("lvyuan-b1-el1", approval=False)], T0)
    with db.transaction() as s:
        order = s.get(Order, oid)
        assert order is not None
        assert (order.state, order.crew_id) == (OrderState.ASSIGNED.value, "lift-a")


def test_the_order_api_gives_a_proposals_reasons_in_the_readers_language(tmp_path: Path) -> None:
    from tests.integration.test_orders_api import make_api

    for api in make_api(f"sqlite:///{tmp_path / 'api.db'}", tmp_path):
        with api.db.transaction() as s:
            (oid,) = create_preventive_orders(s, [proposal("lvyuan-b1-el1")], T0)
        url = f"/api/v1/orders/{oid}"
        zh = api.client.get(url, headers=api.h("engineer")).json()["description"]
        en = api.client.get(url, headers=api.h("engineer") | {"Accept-Language": "en-US,en;q=0.9"}).json()
        by_query = api.client.get(f"{url}?lang=en", headers=api.h("engineer")).json()["description"]
        listed = api.client.get("/api/v1/orders?type=preventive&lang=en", headers=api.h("engineer")).json()
        assert zh.splitlines()[:3] == [
            "原因：",
            "- 30 天内故障概率 40.0%（模型 v1）",
            "- 风险 1.60 = 概率 0.40 × 重要度 4，达到阈值 1.20",
        ]
        assert en["description"].splitlines()[:3] == [
            "Why:",
            "- P(failure within 30 d) = 40.0% (model v1)",
            "- risk 1.60 = probability 0.40 × criticality 4 ≥ threshold 1.20",
        ]
        assert by_query == en["description"] and [o["description"] for o in listed] == [by_query]
        assert "———" not in zh and "原因" not in by_query
