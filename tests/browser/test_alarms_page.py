"""The alarm console in Chromium: one alarm with its repeat count, acknowledge and clear from the page, and
an alarm raised by another process (the alarm engine on its own connection) appearing through the stream."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from facility.contract import AssetKind, AssetRef, Event, EventType
from facility.i18n import t
from maintenance.alarms.engine import AlarmEngine

pytestmark = pytest.mark.browser
PUMP = AssetRef("jinhu", "t1", AssetKind.WATER_PUMP, "jinhu-t1-wp1")
LIFT = AssetRef("lvyuan", "b1", AssetKind.ELEVATOR, "lvyuan-b1-el1")


def test_acknowledge_and_clear_from_the_alarm_page(site, page) -> None:
    from playwright.sync_api import expect

    from maintenance.db import Database

    now_ms = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    hour = 3_600_000
    engine_db = Database.open(site.db.engine.url.render_as_string(hide_password=False), run_migrations=False)
    engine = AlarmEngine(engine_db)  # like the maintenance service: its own engine and connections
    try:
        engine.handle(
            [Event(PUMP, now_ms - (5 - i) * hour, EventType.ALARM, "low_pressure") for i in range(5)]
        )
        page.goto(f"{site.url}/alarms?token={site.engineer_token}&lang=en")
        rep = page.locator("tr[data-rule='low_pressure_repeated']")
        expect(rep).to_have_count(1)
        expect(rep.locator("td.count")).to_have_text("5")
        expect(rep.locator("a.order-link")).to_have_text(re.compile(r"^#\d+$"))
        expect(rep.locator("td.state")).to_have_text("active")
        # H2 #13/#14: the rule by its name (not its key); no word broken mid-word even on a narrow screen
        expect(rep.locator("td.rule")).to_contain_text("Low water pressure, repeatedly")
        size = page.viewport_size
        page.set_viewport_size({"width": 700, "height": 900})
        lines = "(el) => { const r = document.createRange(); r.selectNodeContents(el); "
        lines += "return r.getClientRects().length; }"
        assert rep.locator("td.state").evaluate(lines) == 1
        assert rep.locator("button[data-action='ack']").evaluate(lines) == 1
        page.set_viewport_size(size)
        # the order its repetition opened lists the linked alarms by name, severity and state in the catalogue's words
        order_url = rep.locator("a.order-link").get_attribute("href")
        page.goto(f"{site.url}{order_url}?lang=en")
        linked = page.locator("tr[data-alarm]", has_text="Low water pressure, repeatedly")
        expect(linked).to_have_count(1)
        expect(linked).to_contain_text(f"{t('alarms.major', 'en')} · {t('alarms.active', 'en')}")
        page.goto(f"{site.url}/alarms?lang=en")
        # the page's words come from the catalogue: its nav entry, title and column headers
        expect(page.locator("a[aria-current='page'][href='/alarms']")).to_have_text(t("nav.alarms", "en"))
        expect(page.locator("h1")).to_contain_text(t("page.alarms", "en"))
        expect(page.locator("th", has_text=t("alarms.count", "en"))).to_have_count(1)

        rep.locator("button[data-action='ack']").click()
        expect(rep).to_have_attribute("data-state", "acknowledged")
        rep.locator("button[data-action='clear']").click()
        # cleared alarms leave the default view ("not cleared"); all states show it as cleared
        expect(rep).to_have_count(0)
        page.select_option("#f-state", "cleared")
        expect(page.locator("tr[data-rule='low_pressure_repeated']")).to_have_attribute(
            "data-state", "cleared"
        )
        page.select_option("#f-state", "open")

        # an entrapment raised elsewhere reaches the open page through GET /api/v1/stream, no reload
        engine.handle([Event(LIFT, now_ms, EventType.FAULT, "entrapment")])
        trapped = page.locator("tr[data-rule='entrapment']")
        expect(trapped).to_have_count(1, timeout=15_000)
        expect(trapped.locator("[data-value='critical']")).to_have_count(1)
        assert page.evaluate("document.body.dataset.live") == "stream"
        assert page.console_errors == []
    finally:
        engine_db.dispose()
