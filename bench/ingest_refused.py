"""Refused lines take the fast path: how fast the ingester drains a flood of lines InfluxDB refuses, against
the same number of valid ones, same run.

    .venv/bin/python bench/ingest_refused.py --json [--messages 5000] [--bisect]

A private mosquitto and influxd; the ingester's session is created, N messages are queued in the broker, then
one in-process ingester drains them and we time until all N are acknowledged. "refused": every telemetry
field the messages carry already exists in InfluxDB with another type (a field type conflict), so InfluxDB
refuses every line and each becomes a dead letter ``rejected_by_store`` (or, beyond the per-device rate, a
counted one). ``--bisect`` measures the old path (halving the batch until each refused line is isolated) for
comparison. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import ingest.service as service
from facility.contract import SCHEMAS
from facility.services.influxd import InfluxServer
from facility.services.mosquitto import MosquittoServer
from facility.services.ports import free_port
from facility.settings import Settings
from ingest.influx import InfluxClient
from ingest.lineprotocol import escape_tag
from ingest.refusals import write_splitting
from ingest.testkit import fleet, make_messages, publish


def drain(settings: Settings, client_id: str, msgs: list, timeout_s: float = 600) -> dict:
    first = service.Ingester(settings, client_id=client_id)
    first.start()  # creates the persistent session, so the broker queues the messages for it
    while not first.mqtt.connected:
        time.sleep(0.01)
    time.sleep(0.3)
    first.stop()
    publish(settings.mqtt_host, settings.mqtt_port, msgs, client_id=f"{client_id}-pub", timeout_s=600)
    ing = service.Ingester(settings, client_id=client_id)
    ing.start()
    while not ing.mqtt.connected:
        time.sleep(0.001)
    t0 = time.perf_counter()
    deadline = t0 + timeout_s
    while ing.metrics.n_acked < len(msgs) and time.perf_counter() < deadline:
        time.sleep(0.005)
    elapsed = time.perf_counter() - t0
    snap = ing.snapshot()
    ing.stop()
    return {"msgs_per_s": round(len(msgs) / elapsed), "seconds": round(elapsed, 2), **snap}


def conflict_every_field(influx: InfluxClient, ts_ms: int) -> None:
    """Each telemetry field as a string, so our float/integer lines conflict with it."""
    lines = []
    for kind, schema in SCHEMAS.items():
        fields = ",".join(f'{f.name}="x"' for f in schema.fields) + ',seq="x"'
        lines.append(f"{escape_tag(kind.value)},estate=seed,building=seed,asset=seed {fields} {ts_ms}")
    influx.write(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=5000)
    ap.add_argument("--bisect", action="store_true", help="the old path: bisect each refused batch")
    ap.add_argument("--json", action="store_true", help="print one JSON object (the only output)")
    args = ap.parse_args()
    if args.bisect:
        service.write_checked = lambda writer, lines, refusals=None: write_splitting(writer, lines)  # type: ignore[assignment]
    tmp = Path(tempfile.mkdtemp(prefix="bench-refused-"))
    mq = MosquittoServer(tmp / "mosquitto", free_port(), persistence=False)
    influxd = InfluxServer(tmp / "influxd", free_port())
    mq.start()
    influxd.start()
    try:
        now = int(time.time() * 1000)
        results = {}
        for name in ("valid", "refused"):
            db = f"bench_{name}"
            settings = Settings(
                var_dir=tmp / name,
                mqtt_port=mq.port,
                influx_url=influxd.url,
                influx_db=db,
                metrics_port=0,
            )
            influx = InfluxClient(influxd.url, db)
            influx.create_database()
            if name == "refused":
                conflict_every_field(influx, now - 120_000)
            msgs = make_messages(
                args.messages, np.random.default_rng(7), devices=fleet(44), start_ms=now - 60_000
            )
            results[name] = drain(settings, f"bench-{name}", msgs)
            influx.close()
    finally:
        mq.stop()
        influxd.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    v, r = results["valid"], results["refused"]
    out = {
        "messages": args.messages,
        "path": "bisect" if args.bisect else "read the refusal",
        "valid_msgs_per_s": v["msgs_per_s"],
        "refused_msgs_per_s": r["msgs_per_s"],
        "ratio": round(r["msgs_per_s"] / v["msgs_per_s"], 3),
        "valid_stored": v["stored"],
        "refused_dead_letters": r["dead_letters"],
        "refused_acked": r["acked"],
        "cpu_count": os.cpu_count(),
        "loadavg_1m_at_end": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(out) if args.json else json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
