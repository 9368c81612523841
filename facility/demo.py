"""`make demo`: everything on one machine, with six months of history, until Ctrl-C.

1. mosquitto and influxd start as child processes (data under var/services/);
2. the relational store is migrated and the fleet file loaded; demo crews, an engineer and API tokens exist;
3. the ingester, the maintenance listener and the API start;
4. six months of simulated history go into InfluxDB in bulk, and its faults become work orders that the
   demo crews handled (acknowledged, started and resolved at plausible times);
5. the same simulators carry on live, publishing over MQTT in real time; orders resolved through the API
   repair the simulated asset (the crews' work is what brings an asset back);
6. forecasts, preventive orders and ratings are computed from that history, and again every few minutes.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import queue
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import sqlalchemy as sa

from facility.contract import Event, EventType, Message
from facility.fleet import Fleet, load_fleet
from facility.settings import Settings
from facility.stack import LocalStack, StackError
from maintenance.db import Database
from simulators.fleetsim import FleetSimulator

log = logging.getLogger("facility.demo")

#: median time from a failure to its repair in the demo's history (lognormal spread around it): most faults
#: are fixed within the 24-hour target, some are not
HISTORY_REPAIR_S = 10 * 3600.0

DEMO_CREWS = (
    # id, name, skills, estates, hours
    ("crew-lift", "电梯班组 Lift crew", ["elevator"], ["lvyuan", "jinhu", "anning"], (0, 24)),
    ("crew-fire", "消防班组 Fire-safety crew", ["fire_alarm"], ["lvyuan", "jinhu", "anning"], (0, 24)),
    ("crew-water", "给排水班组 Water crew", ["water_pump"], ["lvyuan", "jinhu", "anning"], (7, 22)),
    ("crew-env", "环境班组 Environment crew", ["smart_bin"], ["lvyuan", "jinhu", "anning"], (6, 20)),
)


@dataclass
class DemoTokens:
    admin: str = ""
    engineer: str = ""
    supervisor: str = ""
    crews: dict[str, str] = field(default_factory=dict)


def seed_people(db: Database, fleet: Fleet, now: dt.datetime) -> DemoTokens:
    """Demo crews, an engineer on duty per estate, and fresh API tokens (printed, never stored in clear)."""
    from maintenance.models import Crew, CrewMember, Engineer
    from maintenance.tokens import Role, create_token, revoke

    tokens = DemoTokens()
    with db.transaction() as s:
        estates = [e.id for e in fleet.estates]
        for cid, name, skills, _, (h0, h1) in DEMO_CREWS:
            if s.get(Crew, cid) is None:
                crew = Crew(id=cid, name=name, skills=skills, estates=estates, hours_start=h0, hours_end=h1)
                crew.members.append(CrewMember(name=f"{cid} member 1", phone=""))
                crew.members.append(CrewMember(name=f"{cid} member 2", phone=""))
                s.add(crew)
        for e in fleet.estates:
            if s.get(Engineer, f"eng-{e.id}") is None:
                s.add(Engineer(id=f"eng-{e.id}", name=f"Engineer on duty, {e.name}", estates=[e.id]))
        for name in ("demo-admin", "demo-engineer", "demo-supervisor", *(f"demo-{c[0]}" for c in DEMO_CREWS)):
            revoke(s, name, now)
        tokens.admin = create_token(s, "demo-admin", Role.ADMIN, now)
        tokens.engineer = create_token(s, "demo-engineer", Role.ENGINEER, now)
        tokens.supervisor = create_token(s, "demo-supervisor", Role.SUPERVISOR, now)
        for cid, *_ in DEMO_CREWS:
            tokens.crews[cid] = create_token(s, f"demo-{cid}", Role.CREW, now, crew_id=cid)
    return tokens


def backfill_orders(db: Database, messages: list[Message], seed: int) -> int:
    """Turn history's fault/recovery events into work orders that crews handled at plausible times.

    Response times are drawn (gamma, mean 6 minutes) so that most orders meet the response target and some
    do not; an order is resolved when its asset recovered, verified and closed ten hours later, and most
    residents are called back the next day with a 3-5 rating.
    """
    from maintenance.domain import OrderState
    from maintenance.handler import handle_event
    from maintenance.models import Order
    from maintenance.orders import follow_up, transition

    rng = np.random.default_rng(seed)
    handled = 0
    for msg in messages:
        if not isinstance(msg, Event) or msg.type not in (EventType.FAULT, EventType.RECOVERY):
            continue
        at = dt.datetime.fromtimestamp(msg.ts_ms / 1000, dt.UTC)
        with db.transaction() as s:
            outcome = handle_event(s, msg, at)
            if outcome.order_id is None:
                continue
            order = s.get(Order, outcome.order_id)
            if order is None:
                continue
            if msg.type is EventType.FAULT and order.state == OrderState.ASSIGNED.value:
                ack = at + dt.timedelta(minutes=float(rng.gamma(2.0, 3.0)))
                transition(s, order, OrderState.ACKNOWLEDGED, f"crew:{order.crew_id}", ack)
                start = ack + dt.timedelta(minutes=float(rng.gamma(2.0, 10.0)))
                transition(s, order, OrderState.IN_PROGRESS, f"crew:{order.crew_id}", start)
            elif msg.type is EventType.RECOVERY and order.state == OrderState.IN_PROGRESS.value:
                actor = f"crew:{order.crew_id}"
                transition(s, order, OrderState.RESOLVED, actor, at, "repaired")
                transition(s, order, OrderState.VERIFIED, "engineer:demo", at + dt.timedelta(hours=10))
                transition(
                    s, order, OrderState.CLOSED, "engineer:demo", at + dt.timedelta(hours=10, minutes=5)
                )
                if rng.random() < 0.85:  # the service desk calls most residents back (回访)
                    rating = int(rng.choice([3, 4, 5, 5, 5]))
                    follow_up(s, order, at + dt.timedelta(days=1), "resident called back", rating)
            handled += 1
    return handled


class RepairHook:
    """Orders resolved in the store repair the simulated asset, inside the simulation thread."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.requests: queue.Queue[tuple[str, bool]] = queue.Queue()
        self._seen: set[int] = set()
        self._since = dt.datetime.now(dt.UTC)

    def poll(self) -> None:
        from maintenance.models import Order, Transition

        # orders resolved since the demo started (history's orders were resolved in the past)
        with self.db.transaction() as s:
            rows = s.execute(
                sa.select(Order.id, Order.asset_id, Order.type)
                .join(Transition, Transition.order_id == Order.id)
                .where(Transition.to_state == "resolved", Transition.at >= self._since)
            ).all()
        for order_id, asset_id, otype in rows:
            if order_id not in self._seen:
                self._seen.add(order_id)
                self.requests.put((asset_id, otype in ("preventive", "inspection")))

    def wrap(
        self, fleet_sim: FleetSimulator, sink: Callable[[list[Message]], object]
    ) -> Callable[[list[Message]], object]:

        def sink_with_repairs(msgs: list[Message]) -> object:
            while True:
                try:
                    asset_id, preventive = self.requests.get_nowait()
                except queue.Empty:
                    break
                fleet_sim.repair(asset_id, fleet_sim.t_ms, preventive)
            return sink(msgs)

        return sink_with_repairs


def _serve_api(settings: Settings) -> tuple[object, threading.Thread]:
    import uvicorn

    from api.app import create_app

    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings), host=settings.api_host, port=settings.api_port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, name="api", daemon=True)
    thread.start()
    return server, thread


def run_demo(settings: Settings, history_days: int = 180, seed: int = 7) -> int:
    from facility.cli import UserError
    from ingest.security import broker_files, provision
    from ingest.service import Ingester
    from maintenance.service import MaintenanceService
    from simulators.history import generate_history
    from simulators.live import SimClock, run_live
    from simulators.publisher import MqttPublisher
    from simulators.service import broker_config, load_history

    settings.var_dir.mkdir(parents=True, exist_ok=True)
    fleet = load_fleet(settings.fleet_file)
    # anonymous access is off: every device and every service has its own account (fresh passwords)
    creds = provision(settings, [a.ref for a in fleet.assets])

    def account(name: str) -> Settings:
        return settings.model_copy(update={"mqtt_username": name, "mqtt_password": creds[name]})

    stack = LocalStack(settings, *broker_files(settings))
    try:
        stack.start()
    except StackError as exc:
        raise UserError(str(exc)) from None
    stop = threading.Event()
    # Ctrl-C (SIGINT) and SIGTERM end the run at a clean point: the main loop sees ``stop`` and cleans up
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    cleanups: list[Callable[[], object]] = [stack.stop]
    try:
        maint = MaintenanceService(account("maintenance"))
        maint.start()
        cleanups.append(maint.stop)
        tokens = seed_people(maint.db, fleet, dt.datetime.now(dt.UTC))
        ingester = Ingester(account("ingest"))
        ingester.start()
        cleanups.append(ingester.stop)
        server, api_thread = _serve_api(account("api"))
        cleanups.append(lambda: setattr(server, "should_exit", True))

        t0 = time.monotonic()
        marker = settings.var_dir / "demo-history.json"
        first_run = not marker.exists()
        if first_run:
            history = load_history(
                settings, fleet, days=history_days, step_s=900, seed=seed, repair_after_s=HISTORY_REPAIR_S
            )
            log.info("history written in %.1f s", time.monotonic() - t0)
        else:
            # var/ already holds a history and its orders: only the simulators' hidden state is rebuilt
            history = generate_history(
                fleet,
                seed=seed,
                end_ms=int(time.time() * 1000),
                days=history_days,
                step_s=900,
                repair_after_s=HISTORY_REPAIR_S,
            )
            log.info("history loaded by an earlier run (%s); delete var/ to start afresh", marker.read_text())
        if stop.is_set():
            return 0

        fleet_sim = FleetSimulator(
            fleet, seed, history.end_ms, auto_repair_after_s=None, simulators=history.simulators()
        )
        # one MQTT client per device, as real devices connect: each has its own last will (offline status)
        publisher = MqttPublisher(
            broker_config(settings),
            [a.ref for a in fleet.assets],
            per_device=True,
            credentials=lambda ref: (ref.asset, creds[ref.asset]),
        )
        publisher.start()
        cleanups.append(publisher.close)
        hook = RepairHook(maint.db)
        wall = time.time()
        live = threading.Thread(
            target=run_live,
            args=(
                fleet_sim,
                hook.wrap(fleet_sim, publisher.publish_many),
                SimClock(int(wall * 1000), wall, 1.0),
            ),
            kwargs={"step_s": 10.0, "stop": stop, "tick_s": 1.0},
            name="simulators",
            daemon=True,
        )
        live.start()
        cleanups.append(lambda: live.join(10))

        if first_run:
            n = backfill_orders(maint.db, [m for m in history.messages() if isinstance(m, Event)], seed)
            log.info("history: %d fault/recovery events applied to work orders", n)
            marker.write_text(
                json.dumps({"end": dt.datetime.fromtimestamp(history.end_ms / 1000, dt.UTC).isoformat()})
            )
        if stop.is_set():
            return 0
        analytics = threading.Thread(
            target=_analytics_loop, args=(settings, maint.db, stop), name="analytics", daemon=True
        )
        analytics.start()
        # training is atomic (a model version appears whole or not at all): a short wait is enough
        cleanups.append(lambda: analytics.join(3))

        base = f"http://{settings.api_host}:{settings.api_port}"
        print(
            f"""
Facility demo is running ({len(fleet.assets)} assets in {len(fleet.estates)} estates, {history_days} days of history).
  Overview page      {base}/?token={tokens.engineer}
  API (OpenAPI docs) {base}/docs
  Assets             {base}/api/v1/assets
  Ratings            {base}/ratings?token={tokens.supervisor}
  Crew page (phone)  {base}/crew?token={tokens.crews["crew-lift"]}
  Tokens (Bearer):   admin {tokens.admin}
                     engineer {tokens.engineer}
                     supervisor {tokens.supervisor}
Forecasts and preventive orders appear within about two minutes (models are trained first).
Ctrl-C stops everything.""",
            flush=True,
        )
        while not stop.wait(2.0):
            hook.poll()
            if not api_thread.is_alive():
                log.error("the API server stopped (port %s taken?)", settings.api_port)
                return 1
    except KeyboardInterrupt:
        pass
    finally:
        # a second Ctrl-C must not abort the clean-up and leave mosquitto and influxd running
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stop.set()
        print("\nstopping...", flush=True)
        for cleanup in reversed(cleanups):
            try:
                cleanup()
            except Exception:  # keep stopping the rest
                log.exception("while stopping")
    return 0


def _analytics_steps() -> list[Callable[[Settings, Database], None]]:
    """Models → forecasts → preventive orders, then ratings and the dashboards' export."""
    from dashboards.snapshot import export_step

    return [predict_step, export_step]


#: a model older than this is retrained from the telemetry in InfluxDB
RETRAIN_AFTER = dt.timedelta(hours=6)
#: preventive jobs a crew can take a day
CREW_CAPACITY_PER_DAY = 3


def predict_step(settings: Settings, db: Database) -> None:
    """(Re)train a survival model per kind when stale, forecast every asset, and let the planner propose
    preventive orders (awaiting engineer approval) for the assets whose risk passes the kind's threshold."""
    from facility.contract import AssetKind
    from ingest.service import influx_client
    from maintenance.models import Crew
    from maintenance.preventive import create_preventive_orders, open_planned_assets
    from predict.jobs import train_from_telemetry
    from predict.planner import PlannerSettings, plan_work_orders, threshold_from_backtest
    from predict.registry import ModelRegistry
    from predict.repairs import order_log, repair_source
    from predict.service import ForecastService

    now = dt.datetime.now(dt.UTC)
    registry = ModelRegistry(settings.var_dir / "models")
    with influx_client(settings) as client:
        for kind in AssetKind:
            current = registry.current(kind.value)
            if current is not None and now - dt.datetime.fromisoformat(current.created) < RETRAIN_AFTER:
                continue
            try:
                meta = train_from_telemetry(
                    client, registry, kind, now, days=365, splits=0, repairs=order_log(db)
                )
                log.info("model for %s: %s (%s)", kind.value, meta.model, meta.version)
            except Exception as exc:  # the previous model (if any) stays in service
                log.warning("training %s failed, previous model kept: %s", kind.value, exc)
        # preventive orders resolved in the store send no recovery event: the store says when they ended
        service = ForecastService(settings, client, repairs=repair_source(db))
        try:
            forecasts = service.ranking(now)
        finally:
            service.close()
        thresholds = {}
        for kind_name in {f.kind for f in forecasts}:
            version = registry.current(kind_name)
            p = (version.threshold or {}).get("probability") if version else None
            if p:
                thresholds[kind_name] = threshold_from_backtest(float(p))
        cfg = PlannerSettings(kind_thresholds=thresholds)
        with db.transaction() as s:
            crews = list(s.scalars(sa.select(Crew).where(Crew.active.is_(True))))
            blocked = open_planned_assets(s)
            created: list[int] = []
            for kind_name in sorted({f.kind for f in forecasts}):
                capacity = {c.id: CREW_CAPACITY_PER_DAY for c in crews if kind_name in c.skills}
                ours = [f for f in forecasts if f.kind == kind_name]
                created += create_preventive_orders(
                    s, plan_work_orders(ours, blocked, capacity, now, cfg), now
                )
        log.info("forecasts for %d assets; %d preventive orders proposed", len(forecasts), len(created))


#: how often forecasts, preventive orders, ratings and the dashboards' figures are refreshed
ANALYTICS_EVERY_S = 300.0


def _analytics_loop(settings: Settings, db: Database, stop: threading.Event) -> None:
    """Train (the first round takes a minute or two), forecast, plan, rate and export, every 5 minutes."""
    while not stop.is_set():
        _run_analytics(settings, db)
        if stop.wait(ANALYTICS_EVERY_S):
            return


def _run_analytics(settings: Settings, db: Database) -> None:
    for step in _analytics_steps():
        t0 = time.monotonic()
        try:
            step(settings, db)
        except Exception:  # the demo keeps running; the log says what failed
            log.exception("analytics step %s failed", getattr(step, "__name__", step))
        else:
            log.info(
                "analytics step %s done in %.1f s", getattr(step, "__name__", step), time.monotonic() - t0
            )
