"""Alarm rules on the MQTT stream: ingest throughput with and without the alarm engine, in the same run.

    .venv/bin/python bench/alarms.py --json [--messages 200000] [--workers N (default: CPUs, ≤ 4)]

Run 1 is bench/ingest.py's measurement (N messages queued for the ingester's persistent session, then timed
until all are queryable in InfluxDB). Run 2 repeats it while the alarm engine (the maintenance service's
AlarmConsumer + AlarmEngine, in its own process, its own non-shared subscription) evaluates every rule of
every message: its session is created before the publish and it reconnects when the ingest workers do, so
it drains the same N messages at the same time — the worst case for ingest, both competing for the cores. The payloads are random over each
field's whole range, so thresholds, rates and hysteresis fire far more often than on a real fleet. Prints one
JSON object: both ingest rates, their ratio, the engine's own rate, the alarms raised.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bench.ingest
from bench.ingest import measure_bare, measure_ingest
from facility.services.influxd import InfluxServer
from facility.services.mosquitto import MosquittoServer
from facility.services.ports import free_port

DEVICES = 44


def _registry(db_url: str) -> None:
    """The bench fleet (ingest.testkit.fleet) as assets, so the engine evaluates every message."""
    from ingest.testkit import fleet
    from maintenance.db import Database
    from maintenance.models import Asset, Building, Company, Estate

    db = Database.open(db_url)
    refs = fleet(DEVICES)
    with db.transaction() as s:
        s.add(Company(id="c1", name="C1"))
        s.add(Estate(id="E1", name="E1", group="old", company_id="c1"))
        buildings = {}
        for code in sorted({r.building for r in refs}):
            b = Building(estate_id="E1", code=code, name=code, floors=10)
            s.add(b)
            s.flush()
            buildings[code] = b.id
        for r in refs:
            s.add(
                Asset(
                    id=r.asset, kind=r.kind.value, estate_id="E1", building_id=buildings[r.building],
                    model="m", installed=dt.date(2015, 1, 1), criticality=3,
                )
            )  # fmt: skip
    db.dispose()


def _engine_proc(port: int, db_url: str, n: int, out: str, ready: str, go: str) -> None:
    """Create the engine's persistent session, disconnect (the broker queues the N messages for it), then on
    ``go`` (the publish is done) reconnect and drain them while the ingester drains its own copy."""
    from facility.mqtt import BrokerConfig
    from maintenance.alarms.engine import AlarmConsumer, AlarmEngine
    from maintenance.db import Database

    db = Database.open(db_url, run_migrations=False)
    engine = AlarmEngine(db, rules_ttl_s=1e9)
    seen = {"messages": 0, "signals": 0, "last": 0.0}
    handle = engine.handle

    def counting(messages):
        messages = list(messages)
        k = handle(messages)
        seen["messages"] += len(messages)
        seen["signals"] += k
        seen["last"] = time.perf_counter()
        return k

    engine.handle = counting  # type: ignore[method-assign]
    clock = lambda: dt.datetime.now(dt.UTC)  # noqa: E731
    first = AlarmConsumer(engine, BrokerConfig(port=port), "bench-alarms", clock)
    first.start()
    first.subscribed.wait(30)
    first.stop()
    Path(ready).write_text("ok")
    while not Path(go).exists():
        time.sleep(0.01)
    consumer = AlarmConsumer(engine, BrokerConfig(port=port), "bench-alarms", clock)
    t0 = time.perf_counter()
    consumer.start()
    idle_since = time.perf_counter()
    while seen["messages"] < n and time.perf_counter() - idle_since < 60:
        before = seen["messages"]
        time.sleep(0.25)
        if seen["messages"] != before:
            idle_since = time.perf_counter()
    consumer.stop()
    span = max(seen["last"] - t0, 1e-9)
    Path(out).write_text(
        json.dumps(
            {
                "messages": seen["messages"],
                "signals": seen["signals"],
                "msgs_per_s": seen["messages"] / span,
                "drain_s": span,
            }
        )
    )
    db.dispose()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=200_000)
    ap.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-alarms-"))
    mq = MosquittoServer(tmp / "mosquitto", free_port(), persistence=False, max_inflight_messages=1000)
    influxd = InfluxServer(tmp / "influxd", free_port())
    mq.start()
    influxd.start()
    db_url = f"sqlite:///{tmp / 'store.db'}"
    _registry(db_url)
    try:
        bare = measure_bare(mq.port, args.messages, "bench-bare-1")
        without = measure_ingest(mq, influxd, args.messages, args.workers, tmp / "var1")
        # a fresh database for the second run (measure_ingest counts what "bench" holds)
        from ingest.influx import InfluxClient

        InfluxClient(influxd.url, "bench")._request("POST", "/query", data={"q": 'DROP DATABASE "bench"'})
        ready, go, out = tmp / "engine-ready", tmp / "engine-go", tmp / "engine.json"
        proc = mp.get_context("spawn").Process(
            target=_engine_proc, args=(mq.port, db_url, args.messages, str(out), str(ready), str(go))
        )
        proc.start()
        while not ready.exists():
            time.sleep(0.05)
        publish = bench.ingest.publish_in_process

        def publish_then_go(*a: object, **kw: object) -> None:
            publish(*a, **kw)  # type: ignore[arg-type]
            go.write_text("go")  # the engine reconnects as the ingest workers do

        bench.ingest.publish_in_process = publish_then_go
        with_rules = measure_ingest(mq, influxd, args.messages, args.workers, tmp / "var2")
        bench.ingest.publish_in_process = publish
        proc.join(600)
        engine = json.loads(out.read_text()) if out.exists() else {}
        from maintenance.alarms.models import AlarmRow
        from maintenance.db import Database

        db = Database.open(db_url, run_migrations=False)
        import sqlalchemy as sa

        with db.transaction() as s:
            alarms = s.scalar(sa.select(sa.func.count()).select_from(AlarmRow))
        db.dispose()
    finally:
        mq.stop()
        influxd.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    result = {
        "messages": args.messages,
        "workers": args.workers,
        "bare_msgs_per_s": round(bare),
        "ingest_msgs_per_s_without_rules": round(without["ingest_msgs_per_s"]),
        "ingest_msgs_per_s_with_rules": round(with_rules["ingest_msgs_per_s"]),
        "with_over_without": round(
            with_rules["ingest_msgs_per_s"] / max(without["ingest_msgs_per_s"], 1e-9), 3
        ),
        "stored_without_rules": without["stored"],
        "ratio_to_bare_with_rules": round(with_rules["ingest_msgs_per_s"] / bare, 3),
        "stored_with_rules": with_rules["stored"],
        "engine_messages": engine.get("messages"),
        "engine_msgs_per_s": round(engine.get("msgs_per_s", 0)),
        "engine_signals": engine.get("signals"),
        "engine_drain_s": round(engine.get("drain_s", 0), 1),
        "alarms_rows": alarms,
        "cpu_count": os.cpu_count(),
        "loadavg_1m_at_end": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
