"""The engineer's actions (approve/decline a proposal, reschedule, reassign, cancel), the list's filters,
paging and CSV, and the crew's card (checklist, notes, photos) through the API with a real SQLite store."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest

from maintenance.models import Order, Transition
from maintenance.order_records import OrderNote
from tests.integration.test_orders_api import EL, Api, make_api, new_order

pytestmark = pytest.mark.integration

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(scope="module")
def api(tmp_path_factory) -> Iterator[Api]:
    tmp = tmp_path_factory.mktemp("actions")
    yield from make_api(f"sqlite:///{tmp / 'api.db'}", tmp)


def proposal(api: Api, **kw) -> dict:
    return new_order(
        api, **{"type": "preventive", "priority": "p3", "title": "proposal", "auto_assign": False, **kw}
    )


def post(api: Api, path: str, body: dict, who: str = "engineer"):
    return api.client.post(f"/api/v1{path}", json=body, headers=api.h(who))


def test_approve_takes_the_suggested_crew_or_the_chosen_one_and_window(api: Api) -> None:
    p = proposal(api, scheduled_for="2026-12-01T01:00:00Z")
    assert p["state"] == "created" and p["suggested_crew"] == "lift-a"  # the lift crew of lvyuan
    r = post(api, f"/orders/{p['id']}/approve", {})
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["crew_id"]) == ("assigned", "lift-a")
    assert r.json()["scheduled_for"] == "2026-12-01T01:00:00Z"
    again = post(api, f"/orders/{p['id']}/approve", {})
    assert again.status_code == 409 and "only a proposal waiting in 'created'" in again.text

    q = proposal(api)
    r = post(
        api, f"/orders/{q['id']}/approve", {"crew_id": "all-j", "scheduled_for": "2026-12-02T09:30:00+08:00"}
    )
    assert r.status_code == 200, r.text
    assert (r.json()["crew_id"], r.json()["scheduled_for"]) == ("all-j", "2026-12-02T01:30:00Z")
    bad = post(api, f"/orders/{proposal(api)['id']}/approve", {"scheduled_for": "2026-12-02T09:30:00"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "scheduled_for"]
    past = post(api, f"/orders/{proposal(api)['id']}/approve", {"scheduled_for": "1999-01-01T00:00:00Z"})
    assert past.status_code == 422 and "in the past" in past.json()["detail"][0]["msg"]
    ghost = post(api, f"/orders/{proposal(api)['id']}/approve", {"crew_id": "no-such-crew"})
    assert ghost.status_code == 422 and "no-such-crew" in ghost.text


def test_decline_and_cancel_need_a_reason_that_the_timeline_keeps(api: Api) -> None:
    p = proposal(api)
    assert post(api, f"/orders/{p['id']}/decline", {"reason": " "}).status_code == 422
    r = post(api, f"/orders/{p['id']}/decline", {"reason": "replaced last month", "version": p["version"]})
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    assert r.json()["transitions"][-1]["note"] == "declined: replaced last month"
    o = new_order(api)  # auto-assigned: not a proposal, so it cannot be declined, only cancelled
    assert post(api, f"/orders/{o['id']}/decline", {"reason": "x"}).status_code == 409
    stale = post(api, f"/orders/{o['id']}/cancel", {"reason": "duplicate", "version": o["version"] - 1})
    assert stale.status_code == 409
    r = post(api, f"/orders/{o['id']}/cancel", {"reason": "duplicate of an earlier report"})
    assert r.status_code == 200 and r.json()["state"] == "cancelled"


def test_reschedule_and_reassign_an_open_order(api: Api) -> None:
    o = new_order(api)
    assert o["crew_id"] == "lift-a"
    r = post(
        api, f"/orders/{o['id']}/reschedule", {"scheduled_for": "2026-12-03T02:00:00Z", "note": "holiday"}
    )
    assert r.status_code == 200 and r.json()["scheduled_for"] == "2026-12-03T02:00:00Z"
    r = post(api, f"/orders/{o['id']}/reassign", {"crew_id": "all-j", "note": "lift A is busy"})
    assert r.status_code == 200 and (r.json()["state"], r.json()["crew_id"]) == ("assigned", "all-j")
    same = post(api, f"/orders/{o['id']}/reassign", {"crew_id": "all-j"})
    assert same.status_code == 422 and "already assigned" in same.text
    with api.db.transaction() as s:
        notes = [(n.kind, n.text) for n in s.query(OrderNote).filter_by(order_id=o["id"])]
        assert notes == [("reschedule", "— → 2026-12-03T02:00:00+00:00 holiday")]
        assert s.query(Transition).filter_by(order_id=o["id"]).all()[-1].note == "lift A is busy"
    past = post(api, f"/orders/{o['id']}/reschedule", {"scheduled_for": "1999-01-01T00:00:00Z"})  # H2 #7
    assert past.status_code == 422 and past.json()["detail"][0]["loc"] == ["body", "scheduled_for"]
    assert "in the past" in past.json()["detail"][0]["msg"]
    assert api.client.get(f"/api/v1/orders/{o['id']}", headers=api.h("engineer")).json()["scheduled_for"] == (
        "2026-12-03T02:00:00Z"
    )
    post(api, f"/orders/{o['id']}/cancel", {"reason": "done"})
    late = post(api, f"/orders/{o['id']}/reschedule", {"scheduled_for": "2026-12-04T02:00:00Z"})
    assert late.status_code == 409 and "only an open order" in late.text


def test_list_filters_sort_pages_and_exports(api: Api) -> None:
    ids = [proposal(api, priority=p)["id"] for p in ("p4", "p2")]
    get = api.client.get
    r = get(
        "/api/v1/orders",
        params={"state": "created", "type": "preventive", "sort": "priority"},
        headers=api.h("engineer"),
    )
    assert r.status_code == 200
    rows = r.json()
    assert all(o["state"] == "created" and o["type"] == "preventive" for o in rows)
    assert [o["priority"] for o in rows] == sorted(o["priority"] for o in rows)
    assert set(ids) <= {o["id"] for o in rows}
    total = int(r.headers["x-total-count"])
    assert total == len(rows)
    page = get(
        "/api/v1/orders",
        params={"state": "created", "limit": 1, "offset": 1, "sort": "oldest"},
        headers=api.h("engineer"),
    )
    assert int(page.headers["x-total-count"]) == total and len(page.json()) == 1
    assert page.json()[0]["id"] == sorted(o["id"] for o in rows)[1]
    none = get("/api/v1/orders", params={"estate": "jinhu", "kind": "elevator"}, headers=api.h("engineer"))
    assert none.json() == [] and none.headers["x-total-count"] == "0"
    found = get("/api/v1/orders", params={"q": "PROPOSAL"}, headers=api.h("engineer"))
    assert {o["title"] for o in found.json()} == {"proposal"}
    assert found.json()[0]["estate_id"] == "lvyuan" and found.json()[0]["kind"] == "elevator"
    assert get("/api/v1/orders", params={"priority": "p9"}, headers=api.h("engineer")).status_code == 422
    # a crew member's list is their crew's, whatever they ask for
    crew = get("/api/v1/orders", params={"crew_id": "all-j"}, headers=api.h("crew"))
    assert crew.json() == []

    csv_zh = get("/api/v1/orders.csv", params={"state": "created"}, headers=api.h("engineer"))
    assert csv_zh.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(csv_zh.text.lstrip("\ufeff"))))
    assert table[0][:3] == ["工单号", "设备", "设备类型"] and len(table) == total + 1
    assert {row[7] for row in table[1:]} == {"待审批"}
    en = get("/api/v1/orders.csv?lang=en&state=created", headers=api.h("engineer")).text.lstrip("\ufeff")
    assert en.splitlines()[0].startswith("order,asset,kind") and "awaiting approval" in en


def test_the_crew_card_keeps_ticks_notes_and_photos(api: Api) -> None:
    o = new_order(api)  # an elevator order assigned to lift-a, the crew token's crew
    path = f"/api/v1/orders/{o['id']}"
    card = api.client.get(f"{path}/card", headers=api.h("crew")).json()
    items = [c["item"] for c in card["checklist"]]
    assert items[:2] == ["check.elevator.1", "check.elevator.2"] and "check.any.photo" in items
    assert "check.elevator.3" not in items  # preventive-only items are not on a resident report
    r = api.client.put(
        f"{path}/checklist", json={"item": "check.elevator.1", "done": True}, headers=api.h("crew")
    )
    assert r.status_code == 200 and r.json()["actor"] == "crew:li"
    own = api.client.put(
        f"{path}/checklist", json={"item": "oil the door track", "done": False}, headers=api.h("crew")
    )
    assert own.status_code == 200
    assert (
        api.client.post(f"{path}/notes", json={"text": "line 1\nline 2"}, headers=api.h("crew")).status_code
        == 201
    )
    r = api.client.post(f"{path}/photos", content=PNG, headers={**api.h("crew"), "Content-Type": "image/png"})
    assert r.status_code == 201, r.text
    photo = r.json()
    assert api.client.get(photo["url"], headers=api.h("crew")).content == PNG
    fake = api.client.post(
        f"{path}/photos", content=b"<svg/>", headers={**api.h("crew"), "Content-Type": "image/png"}
    )
    assert fake.status_code == 415 and "not a image/png" in fake.text
    svg = api.client.post(
        f"{path}/photos", content=b"<svg/>", headers={**api.h("crew"), "Content-Type": "image/svg+xml"}
    )
    assert svg.status_code == 415
    big = b"\xff\xd8\xff" + b"\x00" * (5 * 1024 * 1024)
    assert (
        api.client.post(
            f"{path}/photos", content=big, headers={**api.h("crew"), "Content-Type": "image/jpeg"}
        ).status_code
        == 413
    )
    other = api.client.get(f"{path}/card", headers=api.h("crew2"))
    assert other.status_code == 403
    card = api.client.get(f"{path}/card", headers=api.h("engineer")).json()
    ticks = {c["item"]: c["done"] for c in card["checklist"]}
    assert ticks["check.elevator.1"] is True and ticks["oil the door track"] is False
    assert [n["text"] for n in card["notes"] if n["kind"] == "note"] == ["line 1\nline 2"]
    assert [p["id"] for p in card["photos"]] == [photo["id"]] and card["photos"][0]["size"] == len(PNG)
    with api.db.transaction() as s:
        assert s.get(Order, o["id"]).asset_id == EL


def test_a_crew_created_without_a_time_zone_works_shanghai_hours(api: Api) -> None:
    body = {
        "id": "night-b",
        "name": "夜班",
        "skills": ["smart_bin"],
        "estates": ["lvyuan"],
        "hours_start": 20,
        "hours_end": 8,
    }
    r = api.client.post("/api/v1/crews", json=body, headers=api.h("engineer"))
    assert r.status_code == 201, r.text
    assert (r.json()["timezone"], r.json()["hours_start"], r.json()["hours_end"]) == ("Asia/Shanghai", 20, 8)
