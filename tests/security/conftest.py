"""One API with a real store (SQLite) and InfluxDB, the small test fleet, a token per role, a revoked
token and a signed-in person, shared by the API security tests (tests/security/test_api_*.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from fastapi.testclient import TestClient

from api.app import create_app
from api.context import AppContext
from facility.services.influxd import InfluxServer
from facility.settings import Settings
from ingest.influx import InfluxClient
from maintenance.db import Database
from maintenance.people import add_user
from maintenance.tokens import Role, create_token, revoke
from tests.maint_helpers import T0, seed

ROLES = tuple(r.value for r in Role)
EL = "lvyuan-b1-el1"
PASSWORD = "correct horse battery"


class Clock:
    def __init__(self, t: dt.datetime) -> None:
        self.t = t

    def __call__(self) -> dt.datetime:
        return self.t


@dataclass
class Site:
    app: FastAPI
    client: TestClient
    settings: Settings
    db: Database
    influx: InfluxClient
    clock: Clock
    tokens: dict[str, str]
    revoked: str
    order_id: int = 0
    extra: dict[str, str] = field(default_factory=dict)

    def h(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def fresh_client(self) -> TestClient:
        """A client without cookies (its own cookie jar), on the same app."""
        return TestClient(self.app, base_url="http://testserver")


def api_routes(app: FastAPI) -> list[RouteContext]:
    """Every route as the app serves it (prefix and router dependencies applied)."""
    return list(iter_route_contexts(app.routes))


def is_api(rc: RouteContext) -> bool:
    return isinstance(rc.original_route, APIRoute)


@pytest.fixture(scope="session")
def site(influx_server: InfluxServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("api_security")
    influx = InfluxClient(influx_server.url, "t_api_security")
    influx.create_database()
    url = f"sqlite:///{tmp / 'store.db'}"
    settings = Settings(
        database_url=url,
        var_dir=tmp,
        manage_services=False,
        influx_url=influx_server.url,
        influx_db="t_api_security",
        mqtt_port=1,  # no broker: /health says so (503), nothing else needs one
    )
    ctx = AppContext.from_settings(settings)
    clock = Clock(T0)
    db = Database.open(url)
    ctx.extras.update(clock=clock, db=db)
    tokens: dict[str, str] = {}
    with db.transaction() as s:
        seed(s)
        for role in (Role.ADMIN, Role.ENGINEER, Role.SUPERVISOR, Role.VIEWER):
            tokens[role.value] = create_token(s, f"sec-{role.value}", role, T0)
        tokens["crew"] = create_token(s, "sec-crew", Role.CREW, T0, crew_id="lift-a")
        revoked = create_token(s, "sec-revoked", Role.ADMIN, T0)
        revoke(s, "sec-revoked", T0)
        add_user(s, "wang.gong", PASSWORD, Role.ENGINEER, T0)
        add_user(s, "zhang.admin", PASSWORD, Role.ADMIN, T0)
        add_user(s, "li.shifu", PASSWORD, Role.CREW, T0, crew_id="lift-a")
    minute = 60_000
    t0 = int(T0.timestamp() * 1000)
    tags = f"estate=lvyuan,building=b1,kind=elevator,asset={EL}"
    influx.write(
        [f"elevator,{tags} vibration_mm_s={1 + i / 10},trips={i}i {t0 - i * minute}" for i in range(30)]
    )
    with TestClient(create_app(settings, ctx)) as client:
        site = Site(client.app, client, settings, db, influx, clock, tokens, revoked)  # type: ignore[arg-type]
        body = {"asset_id": EL, "type": "resident_report", "priority": "p2", "title": "门异响 door squeaks"}
        r = client.post("/api/v1/orders", json=body, headers=site.h("engineer"))
        assert r.status_code == 201, r.text
        site.order_id = r.json()["id"]
        yield site
    ctx.close()
    influx.close()
