"""The app served by uvicorn in a thread, with a seeded InfluxDB and SQLite store, and headless Chromium."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from api.app import create_app
from facility.contract import AssetKind
from facility.fleet import Fleet
from facility.services.ports import free_port
from facility.settings import Settings
from ingest.influx import InfluxClient
from ingest.lineprotocol import to_lines
from maintenance.db import Database
from maintenance.domain import OrderState, OrderType, Priority
from maintenance.models import Crew
from maintenance.orders import create_order, transition
from maintenance.people import add_user
from maintenance.registry import load_fleet
from maintenance.tokens import Role, create_token
from predict.features import spec_for_kind
from predict.influx_training import training_data_influx
from predict.models import CoxPH
from predict.registry import ModelRegistry
from predict.train import train_model
from simulators.history import generate_history
from tests.integration.test_dashboards_queries import REPO, demo_fleet, write_run

ARTIFACTS = REPO / "test-artifacts"
#: a crew member of bins-lv who signs in with name and password (the session cookie, not a token)
BINS_CREW_LOGIN = ("张敏", "bins-crew-password-1")
#: a member of lift-lv-b, the second lift crew of lvyuan (no open order: approvals are suggested to it), who
#: signs in with name and password
LIFT_CREW_LOGIN = ("王磊", "lift-crew-password-1")
#: the elevators the engineer's job repairs (one per language): up, no open order, and only their simulated
#: history in InfluxDB (the elevator model scores them from it; ``write_run``'s random readings and its fault
#: and recovery a few hours ago would have renewed them already)
JOB_LIFTS = {"zh": "lvyuan-b1-el2", "en": "lvyuan-b2-el1"}
#: a district supervisor who signs in with name and password
SUPERVISOR_LOGIN = ("陈主任", "supervisor-password-1")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass(frozen=True)
class Site:
    url: str
    db: Database
    crew_token: str
    engineer_token: str
    order_ids: tuple[int, ...]  # assigned to the crew "lift-lv"
    other_order_id: int  # assigned to another crew
    #: G (issue 16): the smart-bin crew of lvyuan (the kind with a trained model) and a supervisor
    bins_crew_token: str = ""
    supervisor_token: str = ""


def _seed_store(db: Database, now: dt.datetime) -> tuple[str, str, tuple[int, ...], int, str, str]:
    with db.transaction() as s:
        load_fleet(s, demo_fleet())
        s.add_all(
            [
                Crew(id="lift-lv", name="Lüyuan lifts", skills=["elevator"], estates=["lvyuan"]),
                Crew(id="pumps-jh", name="Jinhu pumps", skills=["water_pump"], estates=["jinhu"]),
            ]
            + [  # lvyuan crews on Shanghai hours whose members sign in with a password
                Crew(id=cid, name=name, skills=[skill], estates=["lvyuan"], timezone="Asia/Shanghai")
                for cid, name, skill in (
                    ("bins-lv", "绿苑环卫", "smart_bin"),
                    ("lift-lv-b", "绿苑电梯维保二班", "elevator"),
                )
            ]
        )
        s.flush()
        ids = []
        for asset, title, prio in (
            ("lvyuan-b1-el1", "Door fault on lift 1", Priority.P2),
            ("lvyuan-b2-el2", "Leveling error above 15 mm", Priority.P3),
        ):
            o = create_order(
                s,
                asset_id=asset,
                type=OrderType.CORRECTIVE,
                priority=prio,
                title=title,
                actor="system",
                at=now,
            )
            transition(s, o, OrderState.ASSIGNED, "system", now, "auto", "lift-lv")
            ids.append(o.id)
        other = create_order(
            s,
            asset_id="jinhu-t1-wp1",
            type=OrderType.PREVENTIVE,
            priority=Priority.P3,
            title="Replace pump bearing",
            actor="system",
            at=now,
        )
        transition(s, other, OrderState.ASSIGNED, "system", now, "auto", "pumps-jh")
        crew = create_token(s, "li-wei", Role.CREW, now, crew_id="lift-lv")
        engineer = create_token(s, "eng-wang", Role.ENGINEER, now)
        bins = create_token(s, "zhang-min", Role.CREW, now, crew_id="bins-lv")
        add_user(s, BINS_CREW_LOGIN[0], BINS_CREW_LOGIN[1], Role.CREW, now, crew_id="bins-lv")
        add_user(s, LIFT_CREW_LOGIN[0], LIFT_CREW_LOGIN[1], Role.CREW, now, crew_id="lift-lv-b")
        add_user(s, SUPERVISOR_LOGIN[0], SUPERVISOR_LOGIN[1], Role.SUPERVISOR, now)
        supervisor = create_token(s, "jiedao-chen", Role.SUPERVISOR, now)
        return crew, engineer, tuple(ids), other.id, bins, supervisor


#: the kinds with a trained model: smart bins, and elevators (whose forecast ages with since_repair, so a
#: repair lowers it); the other kinds answer 409
FORECAST_KINDS = (AssetKind.SMART_BIN, AssetKind.ELEVATOR)


def _train_forecasts(influx: InfluxClient, var: Path, now: dt.datetime) -> None:
    """120 days of simulated history ending now for each kind of ``FORECAST_KINDS``, and a telemetry model
    trained on it, so the pages show real forecasts."""
    fleet = demo_fleet()
    for kind in FORECAST_KINDS:
        assets = Fleet(fleet.estates, tuple(a for a in fleet.assets if a.kind is kind))
        history = generate_history(assets, seed=7, end_ms=int(now.timestamp() * 1000), days=120, step_s=3600)
        lines = to_lines(list(history.messages()))
        for i in range(0, len(lines), 20_000):
            influx.write(lines[i : i + 20_000])
        spec = spec_for_kind(kind, window_days=7, buckets=7)
        data = training_data_influx(influx, kind, history.start_ms, history.end_ms, spec, step_days=4)
        train_model(
            data,
            kind.value,
            ModelRegistry(var / "models"),
            now,
            splits=0,
            candidates={"cox_ridge": CoxPH(penalizer=0.1)},
            features_spec={
                "source": "telemetry",
                "mode": "landmark",
                "window": 7.0,
                "buckets": 7,
                "step": 4.0,
            },
        )


@pytest.fixture(scope="session")
def site(influx_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    now = dt.datetime.now(dt.UTC)
    influx = InfluxClient(influx_server.url, "t_browser_pages")
    influx.create_database()
    var = tmp_path_factory.mktemp("browser-var")
    _train_forecasts(influx, var, now)
    fleet = demo_fleet()
    write_run(
        influx, Fleet(fleet.estates, tuple(a for a in fleet.assets if a.id not in JOB_LIFTS.values())), now
    )
    settings = Settings(
        var_dir=var,
        influx_url=influx_server.url,
        influx_db="t_browser_pages",
        database_url=f"sqlite:///{var / 'facility.db'}",
        fleet_file=Path(REPO / "simulators" / "fleets" / "demo.yaml"),
        manage_services=False,
    )
    db = Database.open(settings.sqlalchemy_url)
    crew, engineer, ids, other, bins, supervisor = _seed_store(db, now)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)
    yield Site(f"http://127.0.0.1:{port}", db, crew, engineer, ids, other, bins, supervisor)
    server.should_exit = True
    thread.join(timeout=10)
    db.dispose()
    influx._request("POST", "/query", data={"q": 'DROP DATABASE "t_browser_pages"'})
    influx.close()


@pytest.fixture
def page(browser, request: pytest.FixtureRequest) -> Iterator[object]:
    """A fresh context per test; console errors and failed requests are collected and must stay empty."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    pg.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    pg.on(
        "response",
        lambda r: errors.append(f"HTTP {r.status} {r.request.method} {r.url}") if r.status >= 400 else None,
    )
    pg.console_errors = errors
    yield pg
    ARTIFACTS.mkdir(exist_ok=True)
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in request.node.name)
    try:
        pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    finally:
        context.close()
