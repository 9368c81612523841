"""Who may call what, generated from ``app.routes``: every route asks who is calling unless it is on the
short allow-list of api/app.py; every route × no/garbage/tampered/revoked token/ended session is 401;
every route × every role is 403 exactly when the route's role check leaves the role out; GETs never write."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.dependencies.models import Dependant
from fastapi.routing import RouteContext
from fastapi.testclient import TestClient

from api.app import PUBLIC, create_app
from api.auth import authenticated
from facility.services.ports import free_port
from facility.settings import Settings
from runtime.schema import metadata
from tests.security.conftest import EL, PASSWORD, ROLES, Site, api_routes, is_api

pytestmark = pytest.mark.integration

#: a value for each path parameter the routes use (unknown names get "x": a 404/422 is fine here)
PATH_VALUES = {
    "asset_id": EL,
    "crew_id": "lift-a",
    "estate_id": "lvyuan",
    "period": "2026-10",
    "quarter": "2026Q4",
    "entity": "estate",
    "entity_id": "lvyuan",
    "metric": "intactness",
    "seq": "1",
    "company": "pc-anju",
    "fmt": "csv",
    "name": "swagger-ui.css",
    "lang": "zh",
    "path": "css/app.css",
}
#: the API routes anyone may call (the HTML shells, static files and docs are checked separately)
PUBLIC_API = {
    ("GET", "/api/v1/health"),
    ("POST", "/api/v1/session/login"),
    ("POST", "/api/v1/session/logout"),
}


def calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for d in dependant.dependencies:
        if d.call is not None:
            yield d.call
        yield from calls(d)


def url(rc: RouteContext, site: Site) -> str:
    values = {**PATH_VALUES, "order_id": str(site.order_id)}
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: values.get(m.group(1), "x"), rc.path)


def allowed_roles(rc: RouteContext) -> set[str]:
    """The roles the route's ``require_role`` checks let through (every role when it has none)."""
    sets = [{r.value for r in c.allowed} for c in calls(rc.dependant) if hasattr(c, "allowed")]
    return set.intersection(*sets) if sets else set(ROLES)


def guarded(site: Site) -> list[tuple[str, RouteContext]]:
    public = site.app.state.public_routes
    return [
        (method, rc)
        for rc in api_routes(site.app)
        if id(rc.original_route) not in public
        for method in sorted(rc.methods or ())
    ]


def test_every_route_asks_who_is_calling_unless_allow_listed(site: Site) -> None:
    public = site.app.state.public_routes
    unguarded = [
        f"{sorted(rc.methods or [])} {rc.path}"
        for rc in api_routes(site.app)
        if id(rc.original_route) not in public
        and not (is_api(rc) and authenticated in set(calls(rc.dependant)))
    ]
    assert unguarded == []
    assert len(guarded(site)) >= 40  # the walk saw the API, not an empty app


def test_the_allow_list_is_short_and_its_routes_are_known(site: Site) -> None:
    assert set(PUBLIC) == {
        "health.router",
        "pages.router",
        "alarm_pages.router",  # D: the /alarms page shell (issue 13)
        "docs.router",
        "session.public_router",
    }
    public = [rc for rc in api_routes(site.app) if id(rc.original_route) in site.app.state.public_routes]
    in_schema = {(m, rc.path) for rc in public if rc.include_in_schema for m in rc.methods or ()}
    assert in_schema == PUBLIC_API
    # the rest: HTML shells, static files, the docs and schema, the login page: read-only, and outside the
    # API except the schema's second address
    for rc in public:
        if rc.include_in_schema:
            continue
        assert rc.methods == {"GET"}, rc.path
        assert not rc.path.startswith("/api/") or rc.path == "/api/v1/openapi.json", rc.path


def _bad_credentials(site: Site) -> dict[str, dict[str, str]]:
    admin = site.tokens["admin"]
    tampered = admin[:-1] + ("A" if admin[-1] != "A" else "B")
    ended = site.client.post("/api/v1/session/login", json={"name": "wang.gong", "password": PASSWORD})
    cookie = ended.cookies["fm_session"]
    csrf = ended.cookies["fm_csrf"]
    r = site.fresh_client().post(
        "/api/v1/session/logout", cookies={"fm_session": cookie}, headers={"X-CSRF-Token": csrf}
    )
    assert r.status_code == 204
    return {
        "none": {},
        "garbage": {"Authorization": "Bearer fm_garbage-not-a-token"},
        "tampered": {"Authorization": f"Bearer {tampered}"},
        "revoked": {"Authorization": f"Bearer {site.revoked}"},
        "not-bearer": {"Authorization": f"Basic {admin}"},
        "ended-session": {"Cookie": f"fm_session={cookie}", "X-CSRF-Token": csrf},
    }


def test_every_guarded_route_refuses_missing_and_bad_credentials(site: Site) -> None:
    client = site.fresh_client()
    wrong = []
    for kind, headers in _bad_credentials(site).items():
        for method, rc in guarded(site):
            r = client.request(method, url(rc, site), headers=headers, json={} if method != "GET" else None)
            if r.status_code != 401:
                wrong.append(f"{kind}: {method} {rc.path} → {r.status_code}")
    assert wrong == []


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_exactly_what_the_route_allows(site: Site, role: str) -> None:
    client = site.fresh_client()
    wrong = []
    for method, rc in guarded(site):
        allowed = role in allowed_roles(rc)
        r = client.request(method, url(rc, site), headers=site.h(role), json={} if method != "GET" else None)
        if r.status_code >= 500:
            wrong.append(f"{method} {rc.path} → {r.status_code} {r.text[:200]}")
        elif not allowed and r.status_code != 403:
            wrong.append(f"{method} {rc.path} → {r.status_code}, expected 403")
        # a crew member may still be refused another crew's things (403) by the route itself
        elif allowed and (r.status_code == 401 or (r.status_code == 403 and role != "crew")):
            wrong.append(f"{method} {rc.path} → {r.status_code}, expected the route to answer")
    assert wrong == []


def test_every_change_made_with_the_session_cookie_needs_the_csrf_token(site: Site) -> None:
    client = site.fresh_client()
    r = client.post("/api/v1/session/login", json={"name": "zhang.admin", "password": PASSWORD})
    assert r.status_code == 200
    changes = [(m, rc) for m, rc in guarded(site) if m not in ("GET", "HEAD", "OPTIONS")]
    assert len(changes) >= 20
    wrong = []
    for method, rc in changes:
        r = client.request(method, url(rc, site), json={})
        if r.status_code != 403 or "X-CSRF-Token" not in r.json()["detail"]:
            wrong.append(f"{method} {rc.path} → {r.status_code}")
    assert wrong == []
    # and reads with the cookie get what an admin token gets
    for rc in [rc for m, rc in guarded(site) if m == "GET"][:10]:
        assert (
            client.get(url(rc, site)).status_code
            == site.fresh_client().get(url(rc, site), headers=site.h("admin")).status_code
        ), rc.path


def test_public_routes_answer_without_credentials(site: Site) -> None:
    client = site.fresh_client()
    for rc in api_routes(site.app):
        if id(rc.original_route) in site.app.state.public_routes and rc.methods == {"GET"}:
            r = client.get(url(rc, site))
            # anything but a refusal or a failure (503: /health without a broker)
            assert r.status_code not in (401, 403), (rc.path, r.status_code)
            assert r.status_code < 500 or r.status_code == 503, (rc.path, r.status_code)


# ------------------------------------------------------------------------------ GET routes never write


def _sql_counts(site: Site) -> dict[str, int]:
    with site.db.engine.connect() as conn:
        return {
            t.name: conn.scalar(sa.select(sa.func.count()).select_from(t)) or 0
            for t in metadata.sorted_tables
        }


def _influx_counts(site: Site) -> dict[str, int]:
    out: dict[str, int] = {}
    for policy in ("", '"features".'):
        try:
            names = [r["name"] for r in site.influx.records("SHOW MEASUREMENTS")]
        except Exception:
            names = []
        for name in names:
            try:
                rows = site.influx.records(f'SELECT COUNT(*) FROM {policy}"{name}"')
            except Exception:
                continue
            out[policy + name] = sum(v for r in rows for k, v in r.items() if k.startswith("count_") and v)
    series = site.influx.records("SHOW SERIES")
    out["series"] = len(series)
    return out


def test_get_routes_never_write(site: Site) -> None:
    client = site.fresh_client()
    before = (_sql_counts(site), _influx_counts(site))
    assert before[1]["elevator"] == 60  # the fixture's readings are seen (two fields × 30 points)
    answered = 0
    for rc in api_routes(site.app):
        if "GET" in (rc.methods or ()):
            r = client.get(url(rc, site), headers=site.h("admin"))
            answered += r.status_code == 200
    assert answered >= 30
    assert (_sql_counts(site), _influx_counts(site)) == before


def test_a_store_that_is_down_is_a_503_that_leaks_nothing(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://u:secret@127.0.0.1:{free_port()}/x"
    settings = Settings(var_dir=tmp_path, database_url=url, manage_services=False)
    with TestClient(create_app(settings)) as client:
        r = client.get("/api/v1/orders", headers={"Authorization": "Bearer fm_whatever"})
    assert r.status_code == 503
    assert r.json() == {"detail": "the database cannot be reached: retry later"}
