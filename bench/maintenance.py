"""Maintenance store throughput: fault/recovery events through ``handle_event`` (one transaction each, as the
MQTT listener does), the SLA check and the two read queries, on SQLite and on a PostgreSQL database.

    .venv/bin/python bench/maintenance.py [--faults 1000] [--pg postgresql+psycopg://postgres@127.0.0.1:5432]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import secrets
import sys
import tempfile
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from facility.contract import Event, EventType
from facility.fleet import load_fleet
from maintenance import queries
from maintenance.db import Database
from maintenance.escalation import check_sla
from maintenance.handler import handle_event
from maintenance.models import Crew
from maintenance.registry import load_fleet as load_into
from maintenance.sla import default_targets

REPO = Path(__file__).resolve().parent.parent
T0 = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)


def run(url: str, faults: int) -> dict[str, float]:
    t = time.perf_counter()
    db = Database.open(url)
    migrate_s = time.perf_counter() - t
    fleet = load_fleet(REPO / "simulators/fleets/demo.yaml")
    with db.transaction() as s:
        load_into(s, fleet)
        estates = [e.id for e in fleet.estates]
        for kind in ("elevator", "fire_alarm", "water_pump", "smart_bin"):
            s.add(Crew(id=f"crew-{kind}", name=kind, skills=[kind], estates=estates))
    from facility.contract import SCHEMAS

    events = []
    for i in range(faults):
        a = fleet.assets[i % len(fleet.assets)]
        code = SCHEMAS[a.kind].fault_codes[i % 2]
        at = int((T0 + dt.timedelta(minutes=10 * i)).timestamp() * 1000)
        events += [
            Event(a.ref, at, EventType.FAULT, code),
            Event(a.ref, at + 60_000, EventType.RECOVERY, code),
        ]
    t = time.perf_counter()
    for e in events:
        with db.transaction() as s:
            handle_event(s, e, T0)
    handle_s = time.perf_counter() - t
    t = time.perf_counter()
    with db.transaction() as s:
        n_esc = len(check_sla(s, T0 + dt.timedelta(days=60), default_targets()))
    sla_s = time.perf_counter() - t
    t = time.perf_counter()
    with db.transaction() as s:
        n_orders = len(queries.orders(s, T0, T0 + dt.timedelta(days=60)))
        n_int = len(queries.state_intervals(s, T0, T0 + dt.timedelta(days=60)))
    query_s = time.perf_counter() - t
    db.dispose()
    return {
        "migrate_s": round(migrate_s, 3),
        "events": len(events),
        "events_per_s": round(len(events) / handle_s, 1),
        "sla_check_s": round(sla_s, 3),
        "escalations": n_esc,
        "queries_s": round(query_s, 3),
        "orders": n_orders,
        "intervals": n_int,
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--faults", type=int, default=1000)
    p.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432")
    args = p.parse_args()
    out: dict[str, object] = {"faults": args.faults}
    with tempfile.TemporaryDirectory() as d:
        out["sqlite"] = run(f"sqlite:///{d}/bench.db", args.faults)
    name = f"bench_maint_{secrets.token_hex(4)}"
    admin = args.pg.replace("postgresql+psycopg", "postgresql") + "/postgres"
    try:
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        out["postgresql"] = f"skipped: {exc}".strip()
    else:
        try:
            out["postgresql"] = run(f"{args.pg}/{name}", args.faults)
        finally:
            with psycopg.connect(admin, autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(json.dumps(out))


if __name__ == "__main__":
    main()
