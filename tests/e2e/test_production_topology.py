"""The product run as it is deployed: each application service of docker-compose.yml runs its own command with
its own environment as a separate process, the compose hosts mapped to local servers — the dynamic-security
broker (``dynsec_broker``), influxd, PostgreSQL — and ``FACILITY_MANAGE_SERVICES=false`` as in compose.

Checked with values: a fault from a device becomes an order assigned to the crew and notified on its topic;
two ingest workers store every reading while a device that tries the ingester's client id is refused; a
``kill -9`` of the maintenance service in the middle of a burst of faults loses none of them (each is an
order or a dead letter once the service is back); the worker reports its jobs on ``GET /api/v1/jobs`` and its
``/metrics``; the API restarted (a fresh container: no files of the old one) serves the same orders, ratings
ledger and external indicators from the store.

The preventive loop: 150 simulated days of eight smart bins are written to InfluxDB and a survival model is
trained on them in a thread of the test while the services start (C's ``train_model`` into the models volume the
worker and the API share; the worker's ``retrain`` job, ~25 s on this machine, is scheduled for tomorrow). Then
the worker's ``forecast-plan`` job, made due in the store's schedule as ``facility worker --once`` does, proposes
preventive orders; the riskiest bin's proposal is approved over the API, resolved by the bin crew's token, and the
next ``forecast-plan`` run does not propose it again while the API's P(fail within 30 d) for it is lower.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
import sqlalchemy as sa
import yaml

from facility.contract import AssetKind, AssetRef, Channel, EventType, encode_event, encode_reading
from facility.services.dynsec import AccountError, AccountSpec, DynsecBroker
from facility.services.ports import free_port
from ingest.broker_accounts import DynsecAccounts
from ingest.influx import InfluxClient
from maintenance.db import Database
from maintenance.models import Crew, Order
from maintenance.tokens import Role, create_token
from tests.conftest import REPO, _pg_execute

pytestmark = pytest.mark.e2e

COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
ESTATE, BUILDING = "topo", "b1"
LIFTS = [AssetRef(ESTATE, BUILDING, AssetKind.ELEVATOR, f"topo-b1-el{i}") for i in range(1, 25)]
PUMP = AssetRef(ESTATE, BUILDING, AssetKind.WATER_PUMP, "topo-b1-wp1")
#: the preventive loop's assets: eight bins with a simulated history (ids topo-b1-sb1 … sb8)
BINS_FLEET = f"""
estates:
  - id: {ESTATE}
    group: old
    company: pc-topo
    installed: 2012-01-01
    buildings:
      - {{id: {BUILDING}, floors: 18, counts: {{smart_bin: 8}}}}
"""
FACILITY = shutil.which("facility", path=str(Path(sys.executable).parent)) or "facility"


def _secret(name: str, secrets_: dict[str, str]) -> str:
    if name not in secrets_:
        secrets_[name] = secrets.token_urlsafe(12)
    return secrets_[name]


def resolve(value: Any, secrets_: dict[str, str]) -> str:
    """Compose's interpolation: ``${VAR:?msg}`` → a secret of the test, ``${VAR:-default}`` → the default."""

    def one(m: re.Match[str]) -> str:
        name, op, arg = m.group(1), m.group(2), m.group(3)
        if op == ":-":
            return arg
        return _secret(name, secrets_)

    return re.sub(r"\$\{(\w+)(:[?-])?([^}]*)\}", one, str(value))


class Topology:
    """Starts compose's application services as processes; ``hosts`` maps compose's host names to ours."""

    def __init__(
        self, root: Path, broker: DynsecBroker, influx_url: str, influx_db: str, pg_url: str
    ) -> None:
        self.root, self.broker = root, broker
        self.influx_url, self.influx_db, self.pg_url = influx_url, influx_db, pg_url
        self.secrets: dict[str, str] = {}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.envs: dict[str, dict[str, str]] = {}
        self.api_port = free_port()
        #: compose's volumes shared by services: the models volume of the worker and the API
        self.models = root / "volumes" / "models"

    def env(self, service: str, fresh: bool = False) -> dict[str, str]:
        spec = SERVICES[service]
        env = {k: resolve(v, self.secrets) for k, v in spec["environment"].items()}
        assert env["FACILITY_MANAGE_SERVICES"] == "false", service
        # hosts of the compose network → the local servers
        assert env["FACILITY_MQTT_HOST"] == "mosquitto" and env["FACILITY_MQTT_PORT"] == "1883"
        env["FACILITY_MQTT_HOST"], env["FACILITY_MQTT_PORT"] = self.broker.host, str(self.broker.port)
        assert env["FACILITY_INFLUX_URL"] == "http://influxdb:8086"
        env["FACILITY_INFLUX_URL"] = self.influx_url
        env["FACILITY_INFLUX_DB"] = self.influx_db
        url = sa.make_url(env["FACILITY_DATABASE_URL"])
        assert (url.host, url.port, url.database) == ("postgres", 5432, "facility")
        env["FACILITY_DATABASE_URL"] = self.pg_url
        # each service is its own container: its own /app/var (Dockerfile), the shared volumes mounted in it
        var = self.root / "containers" / f"{service}-{secrets.token_hex(2) if fresh else 'var'}"
        var.mkdir(parents=True, exist_ok=True)
        for volume in spec.get("volumes", []):
            target = volume.split(":")[1]
            if target == "/app/var/models":
                self.models.mkdir(parents=True, exist_ok=True)
                if not (var / "models").exists():
                    (var / "models").symlink_to(self.models)
        env["FACILITY_VAR_DIR"] = str(var)
        env["FACILITY_API_HOST"], env["FACILITY_API_PORT"] = "127.0.0.1", str(self.api_port)
        env["FACILITY_METRICS_PORT"] = str(free_port())  # ingest worker i listens on +i
        env["FACILITY_WORKER_METRICS_PORT"] = str(free_port())
        env["FACILITY_RATING_SCHEME_FILE"] = str(self.scheme())
        return env

    def scheme(self) -> Path:
        """The built-in scheme without its minimum exposure: this district has a handful of assets and a week
        of the month, far below the 24 asset-months a rate needs before it is scored, and the ledger part of
        the test needs a month with a score to publish."""
        path = self.root / "scheme.yaml"
        if not path.exists():
            text = (Path(__file__).resolve().parents[2] / "evaluation/schemes/default.yaml").read_text()
            changed = re.sub(r"credibility_asset_months: *\d+", "credibility_asset_months: 0", text)
            assert changed != text, "the built-in scheme no longer sets credibility_asset_months"
            path.write_text(changed)
        return path

    def run(
        self, service: str, extra_env: dict[str, str] | None = None, fresh: bool = False, name: str = ""
    ) -> None:
        """Start ``service``'s compose command (the image's entry point is ``facility``) as ``name``."""
        name = name or service
        spec = SERVICES[service]
        assert "entrypoint" not in spec, f"{service} runs a shell, not a facility command"
        env = {k: v for k, v in os.environ.items() if not k.startswith("FACILITY_")}
        env |= self.env(service, fresh) | (extra_env or {})
        self.envs[name] = env
        log = (self.root / f"{name}.log").open("ab")
        cwd = Path(env["FACILITY_VAR_DIR"]).parent  # not the repository: no .env of a developer is read
        # its own process group, as a container: stopping it stops what it started (the ingest workers)
        self.procs[name] = subprocess.Popen(
            [FACILITY, *spec["command"]],
            env=env,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log(self, service: str) -> str:
        return (self.root / f"{service}.log").read_text(errors="replace")

    def wait_log(self, service: str, pattern: str, count: int = 1, timeout_s: float = 40.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if len(re.findall(pattern, self.log(service))) >= count:
                return
            proc = self.procs[service]
            assert proc.poll() is None, f"{service} exited {proc.returncode}:\n{self.log(service)[-3000:]}"
            time.sleep(0.1)
        raise AssertionError(f"{service}: no {pattern!r} within {timeout_s} s:\n{self.log(service)[-3000:]}")

    def kill(self, service: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(service)
        os.killpg(proc.pid, sig)
        proc.wait(30)

    def stop_all(self) -> None:
        """SIGTERM to each container's processes, SIGKILL to what is left after 10 s."""
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        self.procs.clear()


def train_bins(influx_url: str, influx_db: str, models: Path, bins_yaml: Path, now: dt.datetime) -> Any:
    """150 days of the bins' simulated history in InfluxDB, ending now, and a bin model trained on it into the
    models volume (as the worker's retrain job would, with one candidate model to keep the test short)."""
    from facility.fleet import load_fleet
    from ingest.lineprotocol import to_lines
    from predict.features import spec_for_kind
    from predict.influx_training import training_data_influx
    from predict.models import CoxPH
    from predict.registry import ModelRegistry
    from predict.train import train_model
    from simulators.history import generate_history

    end_ms = int(now.timestamp() * 1000)
    history = generate_history(
        load_fleet(bins_yaml), seed=7, end_ms=end_ms, days=150, step_s=3600, health_every_s=0
    )
    with InfluxClient(influx_url, influx_db) as influx:
        influx.create_database()
        influx.write(to_lines(list(history.messages())))
        spec = spec_for_kind(AssetKind.SMART_BIN, window_days=7, buckets=7)
        data = training_data_influx(influx, AssetKind.SMART_BIN, history.start_ms, end_ms, spec, step_days=4)
    models.mkdir(parents=True, exist_ok=True)
    return train_model(
        data,
        AssetKind.SMART_BIN.value,
        ModelRegistry(models),
        now,
        splits=0,
        candidates={"cox_ridge": CoxPH(penalizer=0.1)},
        features_spec={"source": "telemetry", "mode": "landmark", "window": 7.0, "buckets": 7, "step": 4.0},
    )


def mqtt_client(broker: DynsecBroker, login: tuple[str, str], client_id: str) -> tuple[mqtt.Client, Any]:
    """A connected MQTT 5 client; returns it and the CONNACK reason."""
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    c.username_pw_set(*login)
    got: list[Any] = []
    c.on_connect = lambda cl, u, f, rc, p: got.append(rc)
    c.connect(broker.host, broker.port)
    c.loop_start()
    deadline = time.monotonic() + 10
    while not got and time.monotonic() < deadline:
        time.sleep(0.02)
    return c, got[0] if got else None


def wait_for(cond: Any, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


@pytest.fixture
def topology(
    tmp_path: Path, dynsec_broker: DynsecBroker, influx_server: Any, pg_server: str
) -> Iterator[tuple[Topology, Database]]:
    name = f"t_topo_{secrets.token_hex(4)}"
    _pg_execute(pg_server, f'CREATE DATABASE "{name}"')
    influx_db = f"t_topo_{secrets.token_hex(3)}"
    topo = Topology(tmp_path, dynsec_broker, influx_server.url, influx_db, f"{pg_server}/{name}")
    db: Database | None = None
    try:
        # compose's one-shot migrate service, then what the operator does once: the registry, a crew, tokens
        topo.run("migrate")
        assert topo.procs["migrate"].wait(60) == 0, topo.log("migrate")
        db = Database.open(topo.pg_url, run_migrations=False)
        yield topo, db
    finally:
        topo.stop_all()
        # the session's broker is shared: give back the service passwords the test rotated
        with DynsecAccounts.for_broker(dynsec_broker) as accounts:
            for user in ("app", "ingest"):
                if user in dynsec_broker.credentials:
                    accounts.rotate(user, dynsec_broker.credentials[user])
        if db is not None:
            db.dispose()
        _pg_execute(pg_server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_production_topology(topology: tuple[Topology, Database], tmp_path: Path) -> None:
    global _T0
    _T0 = time.monotonic()
    topo, db = topology
    broker = topo.broker
    now = dt.datetime.now(dt.UTC)
    csv = ["asset_id,kind,estate,group,company,building,model,installed,criticality"]
    csv += [f"{r.asset},{r.kind.value},{ESTATE},old,pc-topo,{BUILDING},lift-1,2015-01-01,4" for r in LIFTS]
    csv += [f"{PUMP.asset},water_pump,{ESTATE},old,pc-topo,{BUILDING},pump-1,2015-01-01,4"]
    from facility.fleet import load_fleet

    bins_yaml = tmp_path / "bins.yaml"
    bins_yaml.write_text(BINS_FLEET)
    bins = load_fleet(bins_yaml).assets
    csv += [
        f"{a.id},smart_bin,{ESTATE},old,pc-topo,{BUILDING},{a.model},{a.installed},{a.criticality}"
        for a in bins
    ]
    fleet = tmp_path / "fleet.csv"
    fleet.write_text("\n".join(csv) + "\n")
    from maintenance.registry import import_file
    from runtime import jobstore

    # the bins' history and model, in a thread while the services start (the test process is idle meanwhile)
    trainer = ThreadPoolExecutor(1, thread_name_prefix="train-bins")
    bin_model: Future[Any] = trainer.submit(
        train_bins, topo.influx_url, topo.influx_db, topo.models, bins_yaml, now
    )
    trainer.shutdown(wait=False)
    with db.transaction() as s:
        assert import_file(s, fleet.name, fleet.read_text()) == len(LIFTS) + 1 + len(bins)
        s.add(
            Crew(id="lift", name="Lift crew", skills=["elevator"], estates=[ESTATE], timezone="Asia/Shanghai")
        )
        s.add(Crew(id="water", name="Water crew", skills=["water_pump"], estates=[ESTATE]))
        s.add(Crew(id="bins", name="Bin crew", skills=["smart_bin"], estates=[ESTATE]))
        engineer = create_token(s, "eng", Role.ENGINEER, now)
        supervisor = create_token(s, "sup", Role.SUPERVISOR, now)
        bin_crew = create_token(s, "bin-crew", Role.CREW, now, crew_id="bins")
        # retraining ran recently (another worker): due tomorrow; forecast-plan runs when the test makes it due
        jobstore.ensure_rows(s, ["retrain", "forecast-plan"])
        for job in ("retrain", "forecast-plan"):
            jobstore.make_due(s, job, now + dt.timedelta(days=1))
    # the broker's accounts as compose's mosquitto-init makes them (app, ingest) plus one per device
    app_password = _secret("MQTT_APP_PASSWORD", topo.secrets)
    ingest_password = _secret("MQTT_INGEST_PASSWORD", topo.secrets)
    device_passwords = {r.asset: secrets.token_urlsafe(10) for r in [*LIFTS, PUMP]}
    with DynsecAccounts.for_broker(broker) as accounts:
        for user, role, password in (("app", "app", app_password), ("ingest", "ingest", ingest_password)):
            try:
                accounts.add(AccountSpec.service(user, role), password)
            except AccountError:
                accounts.rotate(user, password)
        accounts.sync([AccountSpec.device(r) for r in [*LIFTS, PUMP]])
        for user, password in device_passwords.items():
            accounts.rotate(user, password)

    # the application services, each its own process; the ingester as two workers sharing the stream
    fast = '{"outbox": 1, "sla": 2, "dashboards": 3600, "features": 3600, "retrain": 3600, "forecast-plan": 3600, "ratings": 3600}'
    assert SERVICES["ingester"]["command"] == ["ingest", "--workers", "2"]
    topo.run("ingester")
    topo.run("maintenance")
    topo.run("api")
    api = httpx.Client(
        base_url=f"http://127.0.0.1:{topo.api_port}",
        headers={"Authorization": f"Bearer {engineer}"},
        timeout=15,
    )
    mark("started")
    wait_for(lambda: _ok(api, "/api/v1/jobs"), 60, "the API")
    mark("api up")
    topo.run("worker", {"FACILITY_WORKER_INTERVALS": fast})
    topo.wait_log("maintenance", r"MQTT \S+ connected")
    topo.wait_log("ingester", r"MQTT facility-ingest-\d connected", count=2)

    mark("consumers connected")
    influx = InfluxClient(topo.influx_url, topo.influx_db)
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    # 0. the ratings ledger and external indicators are kept by the store: publish the month now, and start
    # the API's replacement (a fresh container: no files of the old one) to read them back at the end
    period = f"{now:%Y-%m}"
    sup = {"Authorization": f"Bearer {supervisor}"}
    # the month's history of every asset, as `facility history` would have loaded it, so the month has scores
    from evaluation.testing import reading_lines
    from maintenance.registry import read_fleet

    with db.transaction() as s:
        assets = [a for a in read_fleet(s).assets if a.kind is AssetKind.ELEVATOR]
    influx.write(reading_lines(assets, month_start, now, dt.timedelta(hours=1)))
    # and the month's resident survey and 12345 hotline figures (external indicators, kept in the store)
    external = [
        {"estate": ESTATE, "month": period, "indicator": "resident_satisfaction", "value": 0.8, "count": 40},
        {"estate": ESTATE, "month": period, "indicator": "hotline_handled_rate", "value": 0.9, "count": 10},
    ]
    assert api.post("/api/v1/ratings/external", json=external, headers=sup).status_code == 201
    r = api.post("/api/v1/ratings/publish", json={"period": period, "provisional": True}, headers=sup)
    assert r.status_code == 201, r.text
    ledger = _json_as(api, "/api/v1/ratings/ledger", sup)
    assert len(ledger) == 1 and ledger[0]["period"] == period
    api2_port = free_port()
    topo.run("api", {"FACILITY_API_PORT": str(api2_port)}, fresh=True, name="api-2")
    mark("ledger published")
    # 1. a fault → an order assigned to the lift crew and notified on its topic
    crew_sub, rc = mqtt_client(broker, ("app", app_password), f"topo-watch-{secrets.token_hex(3)}")
    assert not rc.is_failure, rc
    notices: list[bytes] = []
    crew_sub.on_message = lambda c, u, m: notices.append(m.payload)
    crew_sub.subscribe("facility/crews/lift/orders", qos=1)
    lift = LIFTS[0]
    dev, rc = mqtt_client(broker, (lift.asset, device_passwords[lift.asset]), lift.asset)
    assert not rc.is_failure, rc
    t_ms = int(time.time() * 1000)
    assert (
        dev.publish(lift.topic(Channel.EVENT), encode_event(EventType.FAULT, "entrapment", t_ms, 1), qos=1).rc
        == 0
    )
    orders = wait_for(
        lambda: [o for o in _json(api, "/api/v1/orders") if o["asset_id"] == lift.asset], 20, "an order"
    )
    assert (orders[0]["crew_id"], orders[0]["state"], orders[0]["priority"]) == ("lift", "assigned", "p1")
    wait_for(lambda: notices, 15, "the crew's notification")
    notice = json.loads(notices[0])
    assert (notice["order"], notice["asset"], notice["crew"]) == (orders[0]["id"], lift.asset, "lift")
    assert (notice["fault_code"], notice["priority"]) == ("entrapment", "p1")

    mark("fault → order")
    # 2. a device trying the ingester's client id is refused; both ingest workers keep storing every reading
    thief, rc = mqtt_client(broker, (PUMP.asset, device_passwords[PUMP.asset]), "facility-ingest")
    assert rc is not None and rc.is_failure, rc
    thief.loop_stop()
    pump, rc = mqtt_client(broker, (PUMP.asset, device_passwords[PUMP.asset]), PUMP.asset)
    assert not rc.is_failure
    # a reading every 15 minutes since the month began (what the month's rating observes)
    base = int(month_start.timestamp() * 1000)
    n = min(2000, int((now - month_start).total_seconds() // 900))
    for i in range(n):
        info = pump.publish(
            PUMP.topic(Channel.TELEMETRY),
            encode_reading({"outlet_pressure_mpa": 0.4}, base + i * 900_000, i),
            qos=1,
        )
        assert info.rc == 0
    stored = wait_for(lambda: _count(influx, PUMP.asset) == n, 30, f"{n} readings in InfluxDB")
    assert stored

    mark("readings stored")
    # 3. kill -9 of the maintenance service in the middle of a burst of faults: none is lost
    burst = LIFTS[1:21]
    devices = [mqtt_client(broker, (r.asset, device_passwords[r.asset]), r.asset)[0] for r in burst]
    for i, (ref, client) in enumerate(zip(burst, devices, strict=True)):
        info = client.publish(
            ref.topic(Channel.EVENT),
            encode_event(EventType.FAULT, "door_fault", int(time.time() * 1000), 1),
            qos=1,
        )
        info.wait_for_publish(5)
        if i == 7:
            topo.kill("maintenance")  # SIGKILL: no clean-up, no acknowledgement of what was in hand
    topo.run("maintenance")

    def accounted() -> bool:
        with db.transaction() as s:
            assets = set(
                s.scalars(sa.select(Order.asset_id).where(Order.asset_id.in_([r.asset for r in burst])))
            )
            dead = s.scalar(sa.text("SELECT count(*) FROM dead_letters WHERE source = 'maintenance'")) or 0
        return len(assets) + dead >= len(burst) and len(assets) == len(burst) - dead

    wait_for(accounted, 30, "every fault of the burst as an order or a dead letter")

    mark("burst accounted")

    # 4. the worker's jobs are on GET /api/v1/jobs
    def first_runs() -> dict[str, Any]:
        done = {j["name"]: j for j in _json(api, "/api/v1/jobs") if j["runs"] >= 1}
        return done if {"sla", "outbox"} <= set(done) else {}  # both, not whichever finished first

    ran = wait_for(first_runs, 30, "the worker's first runs of sla and outbox")
    assert {"sla", "outbox"} <= set(ran), ran
    assert all(ran[n]["failures"] == 0 and ran[n]["error"] is None for n in ("sla", "outbox")), ran
    assert {j["name"] for j in _json(api, "/api/v1/jobs")} >= {
        "features",
        "retrain",
        "forecast-plan",
        "ratings",
    }
    metrics = httpx.get(
        f"http://127.0.0.1:{topo.envs['worker']['FACILITY_WORKER_METRICS_PORT']}/metrics"
    ).text
    runs = re.search(r'^facility_job_runs_total\{job="sla"\} (\S+)$', metrics, re.M)
    assert runs and float(runs.group(1)) >= 1, metrics[:2000]
    assert re.search(r'^facility_job_last_outcome\{job="sla",outcome="ok"\} 1\.0$', metrics, re.M)

    mark("jobs")
    # 6. the preventive loop: the worker's forecast-plan proposes, the engineer approves, the bin crew resolves
    ready = bin_model.done()
    meta = bin_model.result(timeout=120)
    assert meta.kind == "smart_bin"
    mark(f"bin model trained ({'ready before' if ready else 'waited for'})")
    first = run_forecast_plan(api, db)
    proposals = [o for o in _json(api, "/api/v1/orders") if o["kind"] == "smart_bin"]
    assert proposals and all(o["state"] == "created" for o in proposals), (first, proposals)
    assert f"{len(proposals)} preventive orders proposed" in first["detail"], first
    forecasts = {o["asset_id"]: _json(api, f"/api/v1/assets/{o['asset_id']}/forecast") for o in proposals}
    top = max(proposals, key=lambda o: forecasts[o["asset_id"]]["risk"])
    before = forecasts[top["asset_id"]]
    assert before["model_version"] == meta.version and before["down"] is None, before
    r = api.post(f"/api/v1/orders/{top['id']}/approve", json={"crew_id": "bins"})
    assert r.status_code == 200 and r.json()["state"] == "assigned", r.text
    crew = {"Authorization": f"Bearer {bin_crew}"}
    for state in ("acknowledged", "in_progress", "resolved"):
        r = api.post(f"/api/v1/orders/{top['id']}/transitions", json={"to": state}, headers=crew)
        assert r.status_code == 200 and r.json()["state"] == state, r.text
    second = run_forecast_plan(api, db)
    again = [
        o for o in _json(api, "/api/v1/orders") if o["asset_id"] == top["asset_id"] and o["id"] != top["id"]
    ]
    assert again == [], second  # the visit renewed it: no new proposal for the bin
    after = _json(api, f"/api/v1/assets/{top['asset_id']}/forecast")
    assert after["p_fail_30d"] < before["p_fail_30d"], (before, after)
    mark(
        f"preventive loop: {len(proposals)} proposals; {top['asset_id']} P(fail 30 d) "
        f"{before['p_fail_30d']:.3f} → {after['p_fail_30d']:.3f}"
    )
    # 5. the old API stops; its replacement serves the same orders (those of the burst too) and ledger
    before = sorted(o["id"] for o in _json(api, "/api/v1/orders"))
    topo.kill("api", signal.SIGTERM)
    api.base_url = httpx.URL(f"http://127.0.0.1:{api2_port}")
    wait_for(lambda: _ok(api, "/api/v1/jobs"), 60, "the restarted API")
    assert sorted(o["id"] for o in _json(api, "/api/v1/orders")) == before
    assert _json_as(api, "/api/v1/ratings/ledger", sup) == ledger
    assert _json_as(api, "/api/v1/ratings/ledger/verify", sup)["ok"] is True
    influx.close()
    mark("api restarted")
    for c in [dev, pump, crew_sub, *devices]:
        c.disconnect()
    for c in [dev, pump, crew_sub, *devices]:
        c.loop_stop()
    mark("clients closed")


_T0 = time.monotonic()


def mark(what: str) -> None:
    print(f"{time.monotonic() - _T0:6.1f} s  {what}", flush=True)


def run_forecast_plan(api: httpx.Client, db: Database) -> dict[str, Any]:
    """Make the worker's forecast-plan job due now in the store's schedule (as `facility worker --once` does);
    the running worker takes it within its poll. Returns the job's row of GET /api/v1/jobs after the run."""
    from runtime import jobstore

    def job() -> dict[str, Any]:
        return next(j for j in _json(api, "/api/v1/jobs") if j["name"] == "forecast-plan")

    runs = job()["runs"]
    with db.transaction() as s:
        jobstore.make_due(s, "forecast-plan", dt.datetime.now(dt.UTC))
    done = wait_for(lambda: (j := job())["runs"] > runs and j, 60, "the worker's forecast-plan run")
    assert done["outcome"] == "ok" and done["error"] is None, done
    return dict(done)


def _ok(api: httpx.Client, path: str) -> bool:
    try:
        return api.get(path).status_code == 200
    except httpx.HTTPError:
        return False


def _json(api: httpx.Client, path: str) -> Any:
    r = api.get(path)
    assert r.status_code == 200, r.text
    return r.json()


def _json_as(api: httpx.Client, path: str, headers: dict[str, str]) -> Any:
    r = api.get(path, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def _count(influx: Any, asset: str) -> int:
    rows = influx.records(f"SELECT count(outlet_pressure_mpa) FROM water_pump WHERE asset = '{asset}'")
    return int(rows[0]["count"]) if rows else 0
