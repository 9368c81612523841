"""Ingest throughput: a bare paho subscriber vs the full ingester, same N messages, same run.

    .venv/bin/python bench/ingest.py --json [--messages 200000] [--workers N (default: CPUs, ≤ 4)]

Both consumers are measured the same way: their persistent session is created, the publisher (a separate
process) puts all N messages (QoS 1, realistic payloads of the four kinds) into the broker, then the consumer
connects and we time until (a) the bare subscriber has received N, (b) all N are queryable in InfluxDB.
So the figures are consumer limits, not the publisher's rate. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from facility.contract import SCHEMAS, AssetKind
from facility.services.influxd import InfluxServer
from facility.services.mosquitto import MosquittoServer
from facility.services.ports import free_port
from facility.settings import Settings
from ingest.influx import InfluxClient
from ingest.mqtt import topic_filter


def _publish_proc(port: int, n: int, seed: int, start_ms: int) -> None:
    import numpy as np

    from ingest.testkit import fleet, make_messages, publish

    msgs = make_messages(n, np.random.default_rng(seed), devices=fleet(44), start_ms=start_ms)
    publish("127.0.0.1", port, msgs, client_id=f"bench-pub-{seed}", timeout_s=600)


def publish_in_process(port: int, n: int, seed: int, start_ms: int) -> None:
    p = mp.get_context("spawn").Process(target=_publish_proc, args=(port, n, seed, start_ms))
    p.start()
    p.join()
    if p.exitcode != 0:
        raise RuntimeError(f"publisher failed with exit code {p.exitcode}")


def _connect_props() -> Properties:
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    props.ReceiveMaximum = 50_000
    return props


def bare_session(port: int, client_id: str, subscribe: bool) -> mqtt.Client:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    done = threading.Event()

    def on_connect(client, userdata, flags, rc, props) -> None:
        if subscribe:
            client.subscribe(topic_filter(None), qos=1)
        done.set()

    c.on_connect = on_connect
    c.on_subscribe = lambda *a: done.set()
    c.connect("127.0.0.1", port, clean_start=False, properties=_connect_props())
    return c


def measure_bare(port: int, n: int, client_id: str) -> float:
    c = bare_session(port, client_id, subscribe=True)
    c.loop_start()
    time.sleep(0.5)
    c.disconnect()
    c.loop_stop()
    publish_in_process(port, n, seed=1, start_ms=int(time.time() * 1000) - 3 * 24 * 3600 * 1000)
    got = 0
    done = threading.Event()

    def on_message(client, userdata, msg) -> None:
        nonlocal got
        got += 1
        if got >= n:
            done.set()

    c = bare_session(port, client_id, subscribe=False)
    c.on_message = on_message
    t0 = time.perf_counter()
    c.loop_start()
    done.wait(600)
    elapsed = time.perf_counter() - t0
    c.unsubscribe(topic_filter(None))  # the session must not keep collecting the next phases' messages
    time.sleep(0.2)
    c.disconnect()
    c.loop_stop()
    if got < n:
        raise RuntimeError(f"bare subscriber received only {got} of {n}")
    return n / elapsed


def count_stored(influx: InfluxClient) -> tuple[int, int]:
    """(points, distinct (device, seq)) over the four telemetry measurements."""
    total = distinct = 0
    for kind in AssetKind:
        field = SCHEMAS[kind].required[0]
        for r in influx.records(
            f'SELECT count("{field}") AS n, count(distinct("seq")) AS d FROM "{kind.value}" GROUP BY asset'
        ):
            total += int(r["n"])
            distinct += int(r["d"])
    return total, distinct


def measure_ingest(mq: MosquittoServer, influxd: InfluxServer, n: int, workers: int, var: Path) -> dict:
    import subprocess

    settings = Settings(
        var_dir=var,
        mqtt_port=mq.port,
        influx_url=influxd.url,
        influx_db="bench",
        metrics_port=0,
        ingest_share_group="bench" if workers > 1 else None,
    )
    env = {
        **os.environ,
        "FACILITY_VAR_DIR": str(var),
        "FACILITY_MQTT_PORT": str(mq.port),
        "FACILITY_INFLUX_URL": influxd.url,
        "FACILITY_INFLUX_DB": "bench",
        "FACILITY_METRICS_PORT": "0",
    }
    repo = Path(__file__).resolve().parent.parent
    var.mkdir(parents=True, exist_ok=True)

    def start_workers() -> list[subprocess.Popen[bytes]]:
        procs = []
        for i in range(workers):
            args = [sys.executable, "-m", "ingest", "--client-id", f"bench-ingest-{i}"]
            if workers > 1:
                args += ["--share-group", "bench"]
            with open(var / f"w{i}.log", "ab") as log:
                procs.append(subprocess.Popen(args, cwd=repo, env=env, stdout=subprocess.DEVNULL, stderr=log))
        return procs

    influx = InfluxClient(settings.influx_url, "bench")
    influx.create_database()
    # create the sessions, then stop the workers so the broker queues all N for them
    procs = start_workers()
    deadline = time.monotonic() + 120  # start-up migrates the store first: wait for each session
    while time.monotonic() < deadline and not all(
        b"connected" in (var / f"w{i}.log").read_bytes() for i in range(workers)
    ):
        time.sleep(0.1)
    time.sleep(0.5)
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait(30)
    publish_in_process(mq.port, n, seed=2, start_ms=int(time.time() * 1000) - 2 * 24 * 3600 * 1000)
    log = var / "w0.log"
    offset = log.stat().st_size
    procs = start_workers()
    # time from the moment worker 0 is connected (like the bare subscriber), not from Python's start-up
    while b"connected" not in log.read_bytes()[offset:]:
        time.sleep(0.005)
    t0 = time.perf_counter()
    profiler = None
    if os.environ.get("BENCH_PROFILE"):  # py-spy samples of worker 0 (collapsed stacks), for profiling only
        out = os.environ["BENCH_PROFILE"]
        cmd = ["py-spy", "record", "--pid", str(procs[0].pid), "--format", "raw", "-r", "100", "-o", out]
        profiler = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stored = distinct = 0
    last_change, last_stored = time.perf_counter(), -1
    t_end = t0
    while True:
        time.sleep(0.25)
        stored, distinct = count_stored(influx)
        if stored != last_stored:
            last_stored, last_change = stored, time.perf_counter()
            t_end = last_change
        if stored >= n or time.perf_counter() - last_change > 30:
            break
    if profiler is not None:
        profiler.send_signal(signal.SIGINT)
        profiler.wait(30)
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait(30)
    influx.close()
    return {"stored": stored, "distinct": distinct, "ingest_msgs_per_s": stored / (t_end - t0)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=200_000)
    ap.add_argument(
        "--workers",
        type=int,
        default=min(4, os.cpu_count() or 1),
        help="ingest worker processes on a shared subscription (default: one per CPU, at most 4)",
    )
    ap.add_argument("--broker-inflight", type=int, default=1000, help="mosquitto max_inflight_messages")
    ap.add_argument("--json", action="store_true", help="print one JSON object (the only output)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    mq = MosquittoServer(
        tmp / "mosquitto", free_port(), persistence=False, max_inflight_messages=args.broker_inflight
    )
    influxd = InfluxServer(tmp / "influxd", free_port())
    mq.start()
    influxd.start()
    try:
        # bare before and after the ingester, averaged: the machine's load drifts during a run
        bare_runs = [measure_bare(mq.port, args.messages, "bench-bare-1")]
        ing = measure_ingest(mq, influxd, args.messages, args.workers, tmp / "var")
        bare_runs.append(measure_bare(mq.port, args.messages, "bench-bare-2"))
        bare = sum(bare_runs) / len(bare_runs)
    finally:
        mq.stop()
        influxd.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    result = {
        "messages": args.messages,
        "stored": ing["stored"],
        "lost": args.messages - ing["distinct"],
        "duplicates_stored": ing["stored"] - ing["distinct"],
        "bare_msgs_per_s": round(bare),
        "ingest_msgs_per_s": round(ing["ingest_msgs_per_s"]),
        "ratio": round(ing["ingest_msgs_per_s"] / bare, 3),
        "workers": args.workers,
        "cpu_count": os.cpu_count(),
        "bare_runs_msgs_per_s": [round(b) for b in bare_runs],
        "loadavg_1m_at_end": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
