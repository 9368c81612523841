"""`make demo`: everything on one machine, with six months of history, until Ctrl-C.

1. mosquitto and influxd start as child processes (data under var/services/);
2. the relational store is migrated and the fleet file loaded; demo crews, an engineer and API tokens exist;
3. the ingester, the maintenance listener and the API start;
4. six months of simulated history go into InfluxDB in bulk, and its faults become work orders that the
   demo crews handled (acknowledged, started and resolved at plausible times);
5. the same simulators carry on live, publishing over MQTT in real time; orders resolved through the API
   repair the simulated asset (the crews' work is what brings an asset back);
6. the worker (``facility worker``'s jobs, in a thread) computes forecasts, preventive orders, ratings and
   the dashboards' export from that history, and again on its schedule.
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
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from facility.cli import UserError
from facility.contract import Event, EventType, Message
from facility.fleet import Fleet
from facility.settings import Settings
from facility.stack import LocalStack, StackError
from maintenance.db import Database
from runtime.bootstrap import App
from simulators.fleetsim import FleetSimulator

log = logging.getLogger("runtime.demo")

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
    #: (name, role, password) of the people who sign in at /login (maintenance.people.demo_people)
    people: list[tuple[str, str, str]] = field(default_factory=list)


def seed_people(db: Database, fleet: Fleet, now: dt.datetime, people_file: Path | None = None) -> DemoTokens:
    """Demo crews, an engineer on duty per estate, API tokens (printed; with ``people_file``, kept in clear in
    ``demo-tokens.json`` next to it, mode 600, and reused by the next start) and the people who sign in."""
    from maintenance.models import Crew, CrewMember, Engineer
    from maintenance.tokens import Role, authenticate, create_token, revoke

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
        # a restart keeps the tokens printed before (open pages and bookmarks keep working): they are kept in
        # var/demo-tokens.json (mode 600) next to the people's passwords; one that no longer signs in (revoked,
        # or another store) is replaced
        tokens_file = people_file.with_name("demo-tokens.json") if people_file is not None else None
        kept: dict[str, str] = {}
        if tokens_file is not None and tokens_file.exists():
            try:
                kept = {str(k): str(v) for k, v in json.loads(tokens_file.read_text()).items()}
            except (ValueError, AttributeError):
                kept = {}

        def token(name: str, role: Role, crew_id: str | None = None) -> str:
            old = kept.get(name)
            who = authenticate(s, old) if old else None
            if old and who is not None and who.name == name and who.role is role and who.crew_id == crew_id:
                return old
            revoke(s, name, now)
            kept[name] = create_token(s, name, role, now, crew_id=crew_id)
            return kept[name]

        tokens.admin = token("demo-admin", Role.ADMIN)
        tokens.engineer = token("demo-engineer", Role.ENGINEER)
        tokens.supervisor = token("demo-supervisor", Role.SUPERVISOR)
        for cid, *_ in DEMO_CREWS:
            tokens.crews[cid] = token(f"demo-{cid}", Role.CREW, cid)
        if tokens_file is not None:
            tokens_file.parent.mkdir(parents=True, exist_ok=True)
            tokens_file.touch(mode=0o600)
            tokens_file.write_text(json.dumps(kept, indent=1))
        if people_file is not None:  # people keep their passwords (and sessions) across restarts
            from maintenance.people import demo_people

            tokens.people = demo_people(s, [c[0] for c in DEMO_CREWS], now, people_file)
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


def run_demo(settings: Settings, history_days: int = 180, seed: int = 7) -> int:
    from facility.services.dynsec import AccountError
    from ingest.devices import provision_local
    from ingest.service import Ingester
    from maintenance.service import MaintenanceService
    from runtime.api import serve_in_thread
    from runtime.bootstrap import bootstrap
    from runtime.worker import Worker, serve_metrics
    from simulators.history import generate_history
    from simulators.live import SimClock, run_live
    from simulators.publisher import MqttPublisher
    from simulators.service import broker_config, load_history

    settings.var_dir.mkdir(parents=True, exist_ok=True)
    app = bootstrap(settings)
    fleet = demo_registry(app)
    app.close()  # the demo's processes open their own store connections below
    stack = LocalStack(settings)
    try:
        stack.start()
    except StackError as exc:
        raise UserError(str(exc)) from None
    # anonymous access is off (B): the stack's broker made every service's account; every device gets its own
    # through the broker's account interface (dynamic-security plugin), with a fresh password for the simulators
    try:
        creds = {**stack.credentials, **provision_local(stack.broker_info, [a.ref for a in fleet.assets])}
    except AccountError as exc:
        stack.stop()
        raise UserError(str(exc)) from None

    def account(name: str) -> Settings:
        return settings.model_copy(update={"mqtt_username": name, "mqtt_password": creds[name]})

    stop = threading.Event()
    # Ctrl-C (SIGINT) and SIGTERM end the run at a clean point: the main loop sees ``stop`` and cleans up
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    cleanups: list[Callable[[], object]] = [stack.stop]
    try:
        maint = MaintenanceService(account("maintenance"))
        maint.start()
        cleanups.append(maint.stop)
        tokens = seed_people(maint.db, fleet, dt.datetime.now(dt.UTC), settings.var_dir / "demo-people.json")
        ingester = Ingester(account("ingest"))
        ingester.start()
        cleanups.append(ingester.stop)
        api_app = bootstrap(account("api"))
        server, api_thread = serve_in_thread(api_app)
        cleanups.append(api_app.close)
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
            events: list[Message] = [m for m in history.messages() if isinstance(m, Event)]
            n = backfill_orders(maint.db, events, seed)
            log.info("history: %d fault/recovery events applied to work orders", n)
            # alarms (issue 13, D): the history's alarms with their repeat counts, and the orders their rules
            # open (low pressure 3 times in 24 h → the water crew); nobody is notified of the past
            from maintenance.alarms.engine import backfill_alarms

            log.info("history: %d alarm signals applied", backfill_alarms(maint.db, events))
            marker.write_text(
                json.dumps({"end": dt.datetime.fromtimestamp(history.end_ms / 1000, dt.UTC).isoformat()})
            )
        if stop.is_set():
            return 0
        # the same jobs as `facility worker`, in a thread of this process
        worker_app = bootstrap(account("worker"), db=maint.db)
        worker = Worker(worker_app, holder="demo")
        metrics_line = ""
        if settings.worker_metrics_port:  # the jobs' metrics, as `facility worker` serves them
            try:
                serve_metrics(worker_app, settings.worker_metrics_port)
                metrics_line = (
                    f"\n  Job metrics        http://{settings.api_host}:{settings.worker_metrics_port}/metrics"
                    "   (also GET /api/v1/jobs)"
                )
            except OSError as exc:
                log.warning("job metrics not served: port %s: %s", settings.worker_metrics_port, exc)
        analytics = threading.Thread(target=worker.run, args=(stop,), name="worker", daemon=True)
        analytics.start()
        # training is atomic (a model version appears whole or not at all): a short wait is enough
        cleanups.append(lambda: analytics.join(3))
        cleanups.append(worker_app.close)

        base = f"http://{settings.api_host}:{settings.api_port}"
        print(
            f"""
Facility demo is running ({len(fleet.assets)} assets in {len(fleet.estates)} estates, {history_days} days of history).
  Overview page      {base}/?token={tokens.engineer}
  API (OpenAPI docs) {base}/docs
  Assets             {base}/api/v1/assets
  Ratings            {base}/ratings?token={tokens.supervisor}
  Crew page (phone)  {base}/crew?token={tokens.crews["crew-lift"]}
  Sign in            {base}/login   {"   ".join(f"{n} / {pw}" for n, _, pw in tokens.people)}
  Tokens (Bearer):   admin {tokens.admin}
                     engineer {tokens.engineer}
                     supervisor {tokens.supervisor}{metrics_line}
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


def demo_registry(app: App) -> Fleet:
    """The registry's fleet; an empty registry (first run) is loaded from ``settings.fleet_file`` first."""
    from maintenance.registry import import_file, read_fleet

    with app.db.transaction() as s:
        fleet = read_fleet(s)
        if not fleet.assets:
            path = app.settings.fleet_file
            if not path.is_absolute() and not path.exists():  # the default, relative to the checkout
                path = Path(__file__).resolve().parents[1] / path
            try:
                text = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                raise UserError(f"fleet file {path} does not exist: set FACILITY_FLEET_FILE") from None
            n = import_file(s, path.name, text)
            log.info("registry loaded from %s: %d assets", path, n)
            fleet = read_fleet(s)
    return fleet
