"""Work-order, crew, registry and calendar routes through FastAPI with a real store (SQLite; PostgreSQL for
the concurrency test): roles (401/403 for every route), crew isolation, 409 with allowed transitions, 422."""

from __future__ import annotations

import datetime as dt
import importlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.app import create_app
from api.context import AppContext
from facility.settings import Settings
from maintenance.db import Database
from maintenance.models import Order, Transition
from maintenance.tokens import Role, create_token
from tests.maint_helpers import T0, seed

pytestmark = pytest.mark.integration
EL = "lvyuan-b1-el1"


class Clock:
    def __init__(self, t: dt.datetime) -> None:
        self.t = t

    def __call__(self) -> dt.datetime:
        return self.t

    def advance(self, **kw: float) -> None:
        self.t += dt.timedelta(**kw)


@dataclass
class Api:
    client: TestClient
    tokens: dict[str, str]
    clock: Clock
    db: Database

    def h(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


def make_api(url: str, tmp_path) -> Iterator[Api]:
    settings = Settings(database_url=url, var_dir=tmp_path, manage_services=False)
    ctx = AppContext.from_settings(settings)
    clock = Clock(T0)
    db = Database.open(url)
    ctx.extras.update(clock=clock, db=db)
    tokens = {}
    with db.transaction() as s:
        seed(s)
        for role in (Role.ADMIN, Role.ENGINEER, Role.SUPERVISOR, Role.VIEWER):
            tokens[role.value] = create_token(s, role.value, role, T0)
        tokens["crew"] = create_token(s, "li", Role.CREW, T0, crew_id="lift-a")
        tokens["crew2"] = create_token(s, "zhao", Role.CREW, T0, crew_id="fire-a")
    with TestClient(create_app(settings, ctx)) as client:
        yield Api(client, tokens, clock, db)
    ctx.close()


@pytest.fixture
def api(tmp_path) -> Iterator[Api]:
    yield from make_api(f"sqlite:///{tmp_path / 'api.db'}", tmp_path)


@pytest.fixture(scope="module")
def shared_api(tmp_path_factory) -> Iterator[Api]:
    """One app for the role checks (they only add orders and crews, which the other checks ignore)."""
    tmp = tmp_path_factory.mktemp("roles")
    yield from make_api(f"sqlite:///{tmp / 'api.db'}", tmp)


def new_order(api: Api, **kw) -> dict:
    body = {"asset_id": EL, "type": "resident_report", "priority": "p2", "title": "door squeaks", **kw}
    r = api.client.post("/api/v1/orders", json=body, headers=api.h("engineer"))
    assert r.status_code == 201, r.text
    return r.json()


ALL = {"admin", "engineer", "supervisor", "viewer", "crew"}
OPS = {"admin", "engineer"}
READ = {"admin", "engineer", "supervisor"}
ORDER_BODY = {"asset_id": EL, "type": "inspection", "title": "t"}
# (method, path, roles allowed, json body)
ROUTES = [
    ("GET", "/api/v1/orders", READ | {"crew"}, None),
    ("POST", "/api/v1/orders", OPS, ORDER_BODY),
    ("GET", "/api/v1/orders/{order}", READ | {"crew"}, None),
    ("POST", "/api/v1/orders/{order}/transitions", OPS | {"crew"}, {"to": "acknowledged"}),
    ("POST", "/api/v1/orders/{order}/assign", OPS, {"crew_id": "lift-a"}),
    ("POST", "/api/v1/orders/{order}/follow-up", OPS, {"note": "resident happy", "rating": 5}),
    # G (issue 16): before POST /crews adds a second lift crew, so new orders still go to the token's crew
    ("GET", "/api/v1/orders.csv", READ | {"crew"}, None),
    ("POST", "/api/v1/orders/{order}/approve", OPS, {"crew_id": "lift-a"}),
    ("POST", "/api/v1/orders/{order}/decline", OPS, {"reason": "not needed"}),
    ("POST", "/api/v1/orders/{order}/cancel", OPS, {"reason": "duplicate"}),
    ("POST", "/api/v1/orders/{order}/reschedule", OPS, {"scheduled_for": "2026-12-01T02:00:00Z"}),
    ("POST", "/api/v1/orders/{order}/reassign", OPS, {"crew_id": "lift-a"}),
    ("GET", "/api/v1/orders/{order}/card", READ | {"crew"}, None),
    ("POST", "/api/v1/orders/{order}/notes", OPS | {"crew"}, {"text": "on my way"}),
    ("PUT", "/api/v1/orders/{order}/checklist", OPS | {"crew"}, {"item": "check.elevator.1", "done": True}),
    ("GET", "/api/v1/escalations", READ, None),
    ("POST", "/api/v1/sla/check", OPS, None),
    ("GET", "/api/v1/crews", READ, None),
    ("POST", "/api/v1/crews", OPS, {"id": "c9", "name": "n", "skills": ["elevator"], "estates": ["lvyuan"]}),
    ("GET", "/api/v1/crews/{crew}", READ | {"crew"}, None),
    ("PATCH", "/api/v1/crews/{crew}", OPS, {"name": "Lift A2", "timezone": "Asia/Shanghai"}),
    ("GET", "/api/v1/crews/{crew}/calendar.ics", READ | {"crew"}, None),
    ("GET", "/api/v1/registry/estates", ALL, None),
    (
        "PUT",
        "/api/v1/registry/estates/{estate}",
        OPS,
        {"id": "lvyuan", "name": "L", "group": "old", "company": "pc-anju", "company_name": "Anju"},
    ),
    ("GET", "/api/v1/registry/assets", ALL, None),
    ("GET", "/api/v1/registry/assets/{asset}", ALL, None),
    (
        "PUT",
        "/api/v1/registry/assets/{asset}",
        OPS,
        {
            "id": EL,
            "kind": "elevator",
            "estate": "lvyuan",
            "building": "b1",
            "model": "m",
            "installed": "2010-01-01",
            "criticality": 4,
        },
    ),
    ("GET", "/api/v1/registry/export.csv", READ, None),
    ("POST", "/api/v1/registry/import", {"admin"}, None),
    ("GET", "/api/v1/assets/{asset}/timeline", ALL, None),
]
MY_MODULES = {
    "api.routes.orders",
    "api.routes.crews",
    "api.routes.registry",
    "api.routes.calendar",
    "api.routes.order_actions",
    "api.routes.order_card",
}
#: routes checked by their own tests (a raw body, or a path naming another resource)
OWN_TESTS = {
    ("POST", "/api/v1/orders/{order_id}/photos"),
    ("GET", "/api/v1/orders/{order_id}/photos/{photo_id}"),
}


def fill(path: str, order_id: int) -> str:
    return path.format(order=order_id, crew="lift-a", estate="lvyuan", asset=EL)


def test_route_table_covers_every_route_of_these_modules() -> None:
    mine = {
        (m, "/api/v1" + r.path)
        for name in MY_MODULES
        for r in importlib.import_module(name).router.routes
        for m in r.methods
    }
    names = {
        "{order}": "{order_id}",
        "{crew}": "{crew_id}",
        "{estate}": "{estate_id}",
        "{asset}": "{asset_id}",
    }

    def canon(p: str) -> str:
        for k, v in names.items():
            p = p.replace(k, v)
        return p

    assert mine - OWN_TESTS == {(m, canon(p)) for m, p, _, _ in ROUTES}


@pytest.mark.parametrize(
    ("method", "path", "roles", "body"), ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ROUTES]
)
def test_401_and_403(shared_api: Api, method: str, path: str, roles: set[str], body: dict | None) -> None:
    api = shared_api
    url = fill(path, new_order(api)["id"])
    assert api.client.request(method, url, json=body).status_code == 401
    bad = api.client.request(method, url, json=body, headers={"Authorization": "Bearer fm_nope"})
    assert bad.status_code == 401 and bad.headers["www-authenticate"] == "Bearer"
    for role in sorted(ALL - roles):
        r = api.client.request(method, url, json=body, headers=api.h(role))
        assert r.status_code == 403, (role, r.text)
    for role in sorted(roles):
        r = api.client.request(method, url, json=body, headers=api.h(role))
        assert r.status_code not in (401, 403), (role, r.status_code, r.text)


def test_crew_sees_and_moves_only_its_orders_and_409_lists_allowed(api: Api) -> None:
    order = new_order(api)
    assert (order["state"], order["crew_id"]) == ("assigned", "lift-a")
    url = f"/api/v1/orders/{order['id']}"
    assert api.client.get(url, headers=api.h("crew2")).status_code == 403
    r = api.client.post(f"{url}/transitions", json={"to": "acknowledged"}, headers=api.h("crew2"))
    assert r.status_code == 403
    assert api.client.get("/api/v1/orders", headers=api.h("crew2")).json() == []
    assert [o["id"] for o in api.client.get("/api/v1/orders", headers=api.h("crew")).json()] == [order["id"]]
    r = api.client.post(f"{url}/transitions", json={"to": "resolved"}, headers=api.h("crew"))
    assert r.status_code == 409
    assert r.json()["detail"] == (
        "an order in state 'assigned' cannot go to 'resolved'; allowed from 'assigned': "
        "assigned, acknowledged, rejected, cancelled"
    )
    r = api.client.post(f"{url}/transitions", json={"to": "cancelled"}, headers=api.h("crew"))
    assert r.status_code == 403
    r = api.client.post(f"{url}/transitions", json={"to": "rejected", "note": "  "}, headers=api.h("crew"))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "note"]
    api.clock.advance(minutes=7)
    r = api.client.post(f"{url}/transitions", json={"to": "acknowledged"}, headers=api.h("crew"))
    assert r.status_code == 200
    got = r.json()
    assert got["transitions"][-1] == {
        "from_state": "assigned",
        "to_state": "acknowledged",
        "actor": "crew:li",
        "at": "2026-11-02T09:07:00Z",
        "note": "",
        "crew_id": "lift-a",
    }
    assert got["sla"]["response_minutes"] == 7.0 and got["sla"]["response_breached"] is False
    assert got["allowed"] == ["assigned", "in_progress", "rejected", "cancelled"]
    stale = api.client.post(
        f"{url}/transitions", json={"to": "in_progress", "version": order["version"]}, headers=api.h("crew")
    )
    assert stale.status_code == 409 and "reload it and retry" in stale.json()["detail"]


def test_bad_input_is_422_naming_the_field_and_changes_nothing(api: Api) -> None:
    before = len(api.client.get("/api/v1/orders", headers=api.h("admin")).json())
    r = api.client.post("/api/v1/orders", json={**ORDER_BODY, "type": "repair"}, headers=api.h("engineer"))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "type"]
    r = api.client.post("/api/v1/orders", json={**ORDER_BODY, "asset_id": "nope"}, headers=api.h("engineer"))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "asset_id"]
    r = api.client.post("/api/v1/orders", json={**ORDER_BODY, "crew_id": "ghost"}, headers=api.h("engineer"))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "crew_id"]
    assert len(api.client.get("/api/v1/orders", headers=api.h("admin")).json()) == before
    csv = api.client.get("/api/v1/registry/export.csv", headers=api.h("admin")).text
    broken = csv.replace("lvyuan-b1-el2,elevator", "lvyuan-b1-el2,escalator")
    r = api.client.post(
        "/api/v1/registry/import", content=broken.replace("KONE", "x"), headers=api.h("admin")
    )
    assert r.status_code == 422 and "kind 'escalator'" in r.json()["detail"][0]["msg"]
    assert api.client.get("/api/v1/registry/export.csv", headers=api.h("admin")).text == csv


def test_calendar_feed_lists_scheduled_work_and_accepts_query_token(api: Api) -> None:
    when = "2026-11-05T02:00:00Z"
    o = new_order(api, type="preventive", title="Quarterly lift service, 绿苑", scheduled_for=when)
    new_order(api)  # not scheduled: not in the feed
    r = api.client.get(f"/api/v1/crews/lift-a/calendar.ics?token={api.tokens['crew']}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/calendar")
    body = r.text
    assert body.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n") and body.endswith("END:VCALENDAR\r\n")
    assert body.count("BEGIN:VEVENT") == 1
    assert f"UID:order-{o['id']}@facility-monitor\r\n" in body
    assert "DTSTART:20261105T020000Z\r\nDTEND:20261105T040000Z\r\n" in body
    assert "SUMMARY:[preventive] Quarterly lift service\\, 绿苑\r\n" in body
    assert all(len(line.encode()) <= 75 for line in body.split("\r\n"))
    assert api.client.get(f"/api/v1/crews/lift-a/calendar.ics?token={api.tokens['crew2']}").status_code == 403


def test_timeline_route(api: Api) -> None:
    o = new_order(api)
    for minutes, state in ((3, "acknowledged"), (10, "in_progress"), (70, "resolved")):
        api.clock.t = T0 + dt.timedelta(minutes=minutes)
        r = api.client.post(
            f"/api/v1/orders/{o['id']}/transitions", json={"to": state}, headers=api.h("crew")
        )
        assert r.status_code == 200
    r = api.client.get(
        f"/api/v1/assets/{EL}/timeline", params={"since": "2026-01-01T00:00:00Z"}, headers=api.h("viewer")
    )
    assert [(i["state"], i["start"], i["end"]) for i in r.json()] == [
        ("in_service", "2010-01-01T00:00:00Z", "2026-11-02T09:10:00Z"),
        ("under_maintenance", "2026-11-02T09:10:00Z", "2026-11-02T10:10:00Z"),
        ("in_service", "2026-11-02T10:10:00Z", None),
    ]


@pytest.fixture
def pg_api(pg_server: str, tmp_path) -> Iterator[Api]:
    import secrets

    from tests.conftest import _pg_execute

    name = f"t_api_{secrets.token_hex(5)}"
    _pg_execute(pg_server, f'CREATE DATABASE "{name}"')
    yield from make_api(f"{pg_server}/{name}", tmp_path)
    _pg_execute(pg_server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_concurrent_requests_on_postgresql_lose_no_transition(pg_api: Api) -> None:
    api = pg_api
    order = new_order(api)
    url = f"/api/v1/orders/{order['id']}/transitions"
    go = threading.Barrier(4)
    results: list[int] = []
    bodies = [
        {"to": "acknowledged"},
        {"to": "rejected", "note": "busy"},
        {"to": "acknowledged"},
        {"to": "rejected", "note": "no parts"},
    ]

    def worker(body: dict) -> None:
        with TestClient(api.client.app) as c:
            go.wait()
            results.append(c.post(url, json=body, headers=api.h("crew")).status_code)

    threads = [threading.Thread(target=worker, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(set(results)) <= [200, 409] and 200 in results
    with api.db.transaction() as s:
        rows = s.scalars(
            sa.select(Transition).where(Transition.order_id == order["id"]).order_by(Transition.id)
        ).all()
        state = s.get_one(Order, order["id"]).state
    chain = [(t.from_state, t.to_state) for t in rows]
    assert len(chain) == 2 + results.count(200)
    assert all(chain[i][0] == chain[i - 1][1] for i in range(1, len(chain))), chain
    assert state == chain[-1][1]


def test_follow_up_only_after_the_fix(api: Api) -> None:
    o = new_order(api)
    url = f"/api/v1/orders/{o['id']}"
    r = api.client.post(f"{url}/follow-up", json={"note": "called"}, headers=api.h("engineer"))
    assert r.status_code == 409 and "follow up after it is resolved" in r.json()["detail"]
    r = api.client.post(f"{url}/follow-up", json={"note": "called", "rating": 6}, headers=api.h("engineer"))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "rating"]
    for state in ("acknowledged", "in_progress", "resolved"):
        assert (
            api.client.post(f"{url}/transitions", json={"to": state}, headers=api.h("crew")).status_code
            == 200
        )
    api.clock.advance(hours=30)
    r = api.client.post(
        f"{url}/follow-up", json={"note": "lift fine now", "rating": 4}, headers=api.h("engineer")
    )
    assert r.status_code == 200
    got = r.json()
    assert (got["followed_up_at"], got["follow_up_note"], got["resident_rating"]) == (
        "2026-11-03T15:00:00Z",
        "lift fine now",
        4,
    )


def test_crew_create_and_patch_validate_fields(api: Api) -> None:
    body = {
        "id": "lift-n",
        "name": "Night lifts",
        "skills": ["elevator"],
        "estates": ["lvyuan"],
        "hours_start": 20,
        "hours_end": 8,
        "timezone": "Asia/Shanghai",
        "members": [{"name": "Li", "phone": "123"}],
    }
    r = api.client.post("/api/v1/crews", json=body, headers=api.h("engineer"))
    assert r.status_code == 201, r.text
    assert {k: r.json()[k] for k in ("hours_start", "hours_end", "timezone", "members")} == {
        "hours_start": 20,
        "hours_end": 8,
        "timezone": "Asia/Shanghai",
        "members": [{"name": "Li", "phone": "123"}],
    }
    assert api.client.post("/api/v1/crews", json=body, headers=api.h("engineer")).status_code == 409
    for patch, field in (
        ({"timezone": "Mars/Base"}, "timezone"),
        ({"estates": ["atlantis"]}, "estates"),
        ({"skills": ["lift"]}, "skills"),
        ({"hours_end": 25}, "hours_end"),
    ):
        r = api.client.patch("/api/v1/crews/lift-n", json=patch, headers=api.h("admin"))
        assert r.status_code == 422 and r.json()["detail"][0]["loc"][:2] == ["body", field], (patch, r.text)
    got = api.client.get("/api/v1/crews/lift-n", headers=api.h("supervisor")).json()
    assert (got["timezone"], got["estates"], got["skills"]) == ("Asia/Shanghai", ["lvyuan"], ["elevator"])
