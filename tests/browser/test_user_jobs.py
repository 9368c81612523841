"""Each user's job acted out end to end in Chromium, in Chinese and in English: the engineer approves a
proposal, the crew works it from a phone-sized card (checklist, a note that survives a reload, acknowledge,
start, resolve), the engineer sees the asset's risk fall and the order in its maintenance log, the
supervisor opens the quarterly report. No console errors, no request to any host but 127.0.0.1; a
screenshot of each step goes to test-artifacts/; the pages' weight is measured."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest

from facility.i18n import t
from maintenance.models import Order, Transition
from maintenance.order_records import OrderCheck, OrderPhoto
from tests.browser.conftest import ARTIFACTS, JOB_LIFTS, LIFT_CREW_LOGIN, SUPERVISOR_LOGIN

pytestmark = pytest.mark.browser

LOCALES = {"zh": "zh-CN", "en": "en-GB"}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
#: a 2×2 PNG (red, green, blue, white), as a phone camera would hand one over
PHOTO = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP4z8DA8J+BkYHh////DAAe9gT9Ce00PgAAAABJRU5ErkJggg=="
)
#: what the crew card may weigh on a slow phone link, HTML + scripts + styles + catalogue + data (bytes)
CREW_PAGE_BUDGET = 120_000


@dataclass
class Watch:
    """What a browser context did: errors, requests to other hosts, bytes received per page."""

    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    received: int = 0
    by_url: dict[str, int] = field(default_factory=dict)


@pytest.fixture
def watched(browser) -> Iterator:
    contexts = []

    def open_context(lang: str, **kw):
        ctx = browser.new_context(locale=LOCALES[lang], **kw)
        w = Watch()

        def on_response(r) -> None:
            if r.status >= 400:
                w.errors.append(f"HTTP {r.status} {r.request.method} {r.url}")
            with contextlib.suppress(Exception):  # streams and redirects have no body to count
                n = len(r.body())
                w.received += n
                w.by_url[r.url] = w.by_url.get(r.url, 0) + n

        ctx.on("request", lambda r: w.foreign.append(r.url) if not local_request(r.url) else None)
        ctx.on("response", on_response)
        ctx.on("console", lambda m: w.errors.append(f"console: {m.text}") if m.type == "error" else None)
        ctx.on("weberror", lambda e: w.errors.append(f"page error: {e.error}"))
        contexts.append(ctx)
        return ctx, w

    yield open_context
    for ctx in contexts:
        ctx.close()


def local_request(url: str) -> bool:
    return url.startswith(("data:", "blob:")) or urlsplit(url).hostname == "127.0.0.1"


def sign_in(page, login: tuple[str, str], back_to: str) -> None:
    """From a page without credentials: the sign-in link, name and password, back where it started."""
    page.locator("#sign-in").click()
    page.wait_for_url(lambda url: "/login?next=" in url)
    page.fill("input[name='name']", login[0])
    page.fill("input[name='password']", login[1])
    page.locator("button[type='submit']").click()
    page.wait_for_url(f"**{back_to}")
    page.wait_for_selector("body[data-ready='1']")


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"jobs_{name}.png"), full_page=True)


def ready(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']", timeout=15_000)


def api(site, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{site.url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def percent(text: str) -> float:
    """A KPI as the page shows it ("12.3%") as a number."""
    return float(text.strip().rstrip("%"))


def local(ts: str) -> str:
    return dt.datetime.fromisoformat(ts).astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_proposal_approved_worked_on_a_phone_and_the_risk_falls(site, watched, lang: str) -> None:
    asset = JOB_LIFTS[lang]  # an elevator: its model ages with since_repair, so a repair lowers its risk
    eng = api(site, site.engineer_token)
    when = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).replace(minute=30, second=0, microsecond=0)
    proposal = eng.post(
        "/orders",
        json={"asset_id": asset, "type": "preventive", "priority": "p3", "title": f"{asset} 预防性维护",
              "auto_assign": False, "scheduled_for": when.isoformat()},
    ).json()  # fmt: skip
    oid = proposal["id"]
    risk_before = eng.get(f"/assets/{asset}/forecast").json()["p_fail_30d"]

    # 1. the engineer approves it from the proposal queue, accepting the suggested crew and time
    ctx, w_eng = watched(lang, viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    ready(page, f"{site.url}/orders?token={site.engineer_token}")
    assert page.locator("h1").first.inner_text() == t("page.orders", lang)
    row = page.locator(f"tr[data-proposal='{oid}']")
    assert row.locator("select[name='crew']").input_value() == "lift-lv-b"
    assert row.locator("input[name='when']").input_value() == local(when.isoformat()).replace(" ", "T")
    shot(page, f"{lang}_1_engineer_proposals")
    row.locator("button[data-action='approve']").click()
    page.wait_for_selector(f"tr[data-proposal='{oid}']", state="detached")
    assert page.locator("#notice").inner_text() == t(
        "action.done", lang, id=oid, what=t("action.approved", lang)
    )
    assert page.locator(f"tr[data-order='{oid}'] .badge[data-value='assigned']").count() == 1
    shot(page, f"{lang}_2_engineer_approved")
    with page.expect_download() as download:  # the filtered list as CSV, in the page's language
        page.click("#export-csv")
    table = download.value.path().read_text(encoding="utf-8-sig").splitlines()
    assert table[0].split(",")[:2] == [t("csv.id", lang), t("csv.asset", lang)]
    assert any(line.startswith(f"{oid},{asset},") for line in table[1:])
    # its page: facts, SLA clocks, the approval in its timeline; the week's calendar; the asset in the tree
    ready(page, f"{site.url}/orders/{oid}")
    assert asset in page.locator("#facts").inner_text()
    assert page.locator("#sla [data-clock]").count() == 2
    assert page.locator("td", has_text=t("note.approved", lang)).count() == 1  # the approval, in words
    # a preventive proposal's first step awaited approval (other orders' first step reads order.step.created)
    assert page.locator("td .badge[data-value='created']").all_inner_texts() == [
        t("order.state.created", lang)
    ]
    # reschedule by a day from the order's page (the time typed is Shanghai time)
    when = when + dt.timedelta(days=1)
    page.fill("#order-actions input[name='when']", local(when.isoformat()).replace(" ", "T"))
    page.click("#order-actions button[data-action='reschedule']")
    page.wait_for_selector("#notice")
    assert page.locator("#notice").inner_text() == t(
        "action.done", lang, id=oid, what=t("action.rescheduled", lang)
    )
    assert eng.get(f"/orders/{oid}").json()["scheduled_for"] == when.isoformat().replace("+00:00", "Z")
    shot(page, f"{lang}_2b_engineer_order_page")
    ready(page, f"{site.url}/calendar")
    if page.locator(f"a.cal-item[data-order='{oid}']").count() == 0:  # tomorrow may be next week
        page.click("#next-week")
    page.locator(f"a.cal-item[data-order='{oid}']").wait_for()
    ready(page, f"{site.url}/assets?q={asset}")
    assert page.locator("#tree li[data-asset]").count() == 1
    # the asset's page before the repair: the P(fail within 30 d) the engineer sees
    ready(page, f"{site.url}/assets/{asset}")
    page.wait_for_selector("#forecast")
    shown_before = percent(page.locator("#forecast [data-horizon='30'] .kpi-value").inner_text())
    assert shown_before == pytest.approx(100 * risk_before, abs=0.051)

    # 2. the crew works it from a phone: what, where, when, why; checklist; a note kept across a reload
    phone_ctx, w_crew = watched(lang, **PHONE)
    phone = phone_ctx.new_page()
    ready(phone, f"{site.url}/crew")  # not signed in: the way in, no request refused
    sign_in(phone, LIFT_CREW_LOGIN, "/crew")
    assert phone.evaluate("localStorage.getItem('facility.token')") is None  # the session cookie, no token
    card = phone.locator(f"article.order[data-order='{oid}']")
    card.wait_for()
    w_crew.received, w_crew.by_url = 0, {}
    ready(phone, f"{site.url}/crew")  # measured: the page as a crew member opens it each time
    card.wait_for()
    crew_page_bytes, crew_by_url = w_crew.received, dict(w_crew.by_url)
    # the header fits the phone (no sideways scroll) and keeps only a crew's links
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    links = phone.locator("header.top nav a").evaluate_all("els => els.map(a => a.getAttribute('href'))")
    assert sorted(links) == ["/alarms", "/crew"]
    switch, nav_box = (
        phone.locator("#lang-switch").bounding_box(),
        phone.locator("header.top nav").bounding_box(),
    )
    assert switch is not None and nav_box is not None
    assert switch["y"] + switch["height"] <= nav_box["y"]  # the language switch covers no link
    assert (
        card.locator(".where")
        .inner_text()
        .startswith(f"绿苑小区 (Lüyuan, old estate) · {asset.split('-')[1]}")
    )
    assert local(when.isoformat()) in card.locator(".when").inner_text()
    assert card.locator(".why").inner_text() == t("crew.why_preventive", lang)
    first_item = card.locator(".checklist input[type=checkbox]").first
    with phone.expect_response(lambda r: r.url.endswith(f"/orders/{oid}/checklist")):
        first_item.tap()
    note = "更换门机皮带，试运行20次正常" if lang == "zh" else "Door drive belt replaced; 20 test runs OK"
    card.locator("textarea.note").fill(note)
    phone.reload()
    phone.wait_for_selector("body[data-ready='1']")
    assert card.locator("textarea.note").input_value() == note  # the draft survived the reload
    assert card.locator(".checklist input[type=checkbox]").first.is_checked()
    # a photo from the phone's camera: made smaller on the phone, stored by the API
    with phone.expect_response(lambda r: r.url.endswith(f"/orders/{oid}/photos") and r.status == 201):
        card.locator("input.photo-input").set_input_files(
            files=[{"name": "site.png", "mimeType": "image/png", "buffer": PHOTO}]
        )
    card.locator(".photos-count").wait_for()
    assert card.locator(".photos-count").inner_text() == t("crew.photos_n", lang, n=1)
    assert card.locator("textarea.note").input_value() == note  # the upload's re-render kept the draft
    shot(phone, f"{lang}_3_crew_card")
    for step in ("acknowledged", "in_progress"):
        card.locator(f"button[data-action='{step}']").tap()
        phone.wait_for_selector(f"article.order[data-order='{oid}'][data-state='{step}']")
    assert card.locator("textarea.note").input_value() == note  # still there after two updates
    card.locator("button[data-action='resolved']").tap()
    phone.wait_for_selector(f"article.order[data-order='{oid}']", state="detached")
    what = t("order.state.resolved", lang)
    assert phone.locator(".notice").inner_text() == t("action.done", lang, id=oid, what=what)
    shot(phone, f"{lang}_4_crew_resolved")
    with site.db.transaction() as s:
        order = s.get(Order, oid)
        assert (order.state, order.crew_id) == ("resolved", "lift-lv-b")
        steps = [(x.to_state, x.note) for x in s.query(Transition).filter_by(order_id=oid)]
        assert steps[-4:] == [
            ("assigned", "approved"),
            ("acknowledged", ""),
            ("in_progress", ""),
            ("resolved", note),
        ]
        assert s.query(OrderCheck).filter_by(order_id=oid, done=True).count() == 1
        photo = s.query(OrderPhoto).filter_by(order_id=oid).one()
        assert (
            photo.content_type == "image/jpeg" and photo.data[:3] == b"\xff\xd8\xff"
        )  # re-encoded on the phone

    # 3. the engineer sees the asset's risk fall and the order in its maintenance log
    ready(page, f"{site.url}/assets/{asset}")
    page.wait_for_selector("#forecast")
    risk_after = eng.get(f"/assets/{asset}/forecast").json()["p_fail_30d"]
    shown_after = percent(page.locator("#forecast [data-horizon='30'] .kpi-value").inner_text())
    assert shown_after == pytest.approx(100 * risk_after, abs=0.051)
    # the resolved order restarts the lift's since_repair: for one feature window its forecast is the kind's
    # post-repair curve, below the worn lift's — the page shows the risk fall
    assert risk_after < risk_before, (risk_before, risk_after)
    assert shown_after < shown_before, (shown_before, shown_after)
    assert page.locator(f"tr[data-order='{oid}'] .badge[data-value='resolved']").count() == 1
    shot(page, f"{lang}_5_engineer_asset_after")

    assert w_eng.errors == [] and w_crew.errors == []
    assert w_eng.foreign == [] and w_crew.foreign == []
    assert crew_page_bytes < CREW_PAGE_BUDGET, sorted(crew_by_url.items(), key=lambda kv: -kv[1])[:4]
    (ARTIFACTS / f"jobs_{lang}_crew_page_bytes.json").write_text(
        json.dumps(
            {
                "crew_page_bytes": crew_page_bytes,
                "asset": asset,
                "p_fail_30d_before": risk_before,
                "p_fail_30d_after": risk_after,
            }
        )
    )


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_supervisor_signs_in_and_opens_the_quarterly_report(site, watched, lang: str) -> None:
    ctx, w = watched(lang, viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    ready(page, f"{site.url}/ratings")  # not signed in: the way in, no request refused
    sign_in(page, SUPERVISOR_LOGIN, "/ratings")
    assert page.evaluate("localStorage.getItem('facility.token')") is None  # the session cookie, no token
    link = page.locator("a.report-link[href*='/ratings/reports/district/'][href*='Q']").first
    link.wait_for()
    shot(page, f"{lang}_6_supervisor_ratings")
    with ctx.expect_page() as opened:
        link.click()
    report = opened.value
    report.wait_for_load_state()
    quarter = link.get_attribute("href").split("/district/")[1].split(".")[0]
    text = report.locator("body").inner_text()
    assert quarter in text
    assert ("季度辖区物业考核报告" in text) if lang == "zh" else ("Quarterly district rating report" in text)
    shot(report, f"{lang}_7_supervisor_quarterly_report")
    assert w.errors == [] and w.foreign == []
