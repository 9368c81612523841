"""The order page of a preventive proposal says what is true (trial H7): the planned crew in words, its planned
completion and no response clock before approval, actors in words, "awaiting approval" only while it waits, and
once a fault supersedes it, why and a link to the corrective order."""

from __future__ import annotations

import datetime as dt

import pytest

from facility.i18n import LANGUAGES, bilingual, in_language, t
from maintenance.domain import OrderState, OrderType, Priority
from maintenance.orders import create_order, get_order, transition
from maintenance.preventive import create_preventive_orders, supersede_proposals
from predict.planner import PlannedOrder
from predict.reasons import reason

pytestmark = pytest.mark.browser

#: a lvyuan lift with a corrective order of the site already (no other test proposes work for it)
ASSET = "lvyuan-b2-el2"


def _open(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']", timeout=15_000)


def test_a_proposal_then_its_supersession_read_truthfully(site, page) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    start = now + dt.timedelta(days=1)
    planned = PlannedOrder(
        asset=ASSET, kind="elevator", crew="lift-lv-b", start=start, end=start + dt.timedelta(hours=2),
        risk=2.0, probability=0.5, window_start=now + dt.timedelta(days=3), window_end=now + dt.timedelta(days=9),
        model_version="v1", reasons=(reason("window", start=now + dt.timedelta(days=3), end=now + dt.timedelta(days=9)),),
        requires_approval=True, due=start + dt.timedelta(days=2),
    )  # fmt: skip
    with site.db.transaction() as s:
        (oid,) = create_preventive_orders(s, [planned], now)
        order = get_order(s, oid)
        # as proposals stored it before: the "awaiting approval" line inside the description
        order.description = bilingual(
            {
                lang: in_language(order.description, lang) + "\n" + t("plan.awaiting_approval", lang)
                for lang in LANGUAGES
            }
        )
        crew_suggested = "lift-lv-b"  # the lift crew with no open order (api: suggested_crew)
    waiting = t("plan.awaiting_approval", "zh")

    _open(page, f"{site.url}/orders/{oid}?lang=zh&token={site.engineer_token}")
    facts = page.locator("#facts").inner_text()
    assert t("order.planned_crew", "zh", crew=crew_suggested) in facts and "(?)" not in facts
    description = page.locator("#description").inner_text()
    assert description.count(waiting) == 1 and description.rstrip().endswith(waiting)
    assert "（北京时间；" in description  # the failure window says its time zone
    clocks = page.locator("#sla [data-clock]")
    assert clocks.count() == 1 and clocks.first.get_attribute("data-clock") == "planned_due"
    sla = page.locator("#sla").inner_text()
    assert t("order.planned_due", "zh") in sla and t("order.respond_due", "zh") not in sla
    actors = page.locator("td[data-actor]")
    assert actors.first.get_attribute("data-actor") == "planner"
    assert (
        actors.first.inner_text() == t("actor.planner", "zh")
        and "planner" not in page.locator("#app").inner_text()
    )

    # the lift faults: a corrective order supersedes the proposal
    with site.db.transaction() as s:
        corrective = create_order(
            s, asset_id=ASSET, type=OrderType.CORRECTIVE, priority=Priority.P2, title="门故障",
            actor="system:events", at=now, fault_code="door_fault",
        )  # fmt: skip
        assert supersede_proposals(s, corrective, "system:events", now) == [oid]
        cid = corrective.id
        assert in_language(get_order(s, oid).description, "zh").count(waiting) == 1  # stored text unchanged
    try:
        _open(page, f"{site.url}/orders/{oid}?lang=zh")
        assert page.locator("h1 .badge[data-value='cancelled']").count() == 1
        assert waiting not in page.locator("#app").inner_text()
        assert "(?)" not in page.locator("#facts").inner_text()
        note = page.locator(f"[data-superseded='{cid}']")
        assert note.inner_text().startswith(
            t("note.superseded", "zh", order=cid, code=t("code.door_fault", "zh"))
        )
        assert note.locator("a").get_attribute("href") == f"/orders/{cid}"
        assert page.locator("td[data-actor='system:events']").last.inner_text() == t(
            "actor.system:events", "zh"
        )
        assert page.locator("#sla [data-clock]").count() == 2  # no longer a proposal: both clocks
        assert page.console_errors == []
    finally:  # leave the site's orders as the other tests expect them
        with site.db.transaction() as s:
            transition(s, get_order(s, cid), OrderState.CANCELLED, "test", now, "test over")
