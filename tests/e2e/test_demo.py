"""`facility demo` as a user runs it: every demo asset has a recent reading within 60 s, the overview link
works with its token, and Ctrl-C stops everything, the child servers included."""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt_client
import pytest

from facility.fleet import load_fleet
from facility.services.ports import free_port, port_open

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]


def test_demo_serves_every_asset_with_a_recent_reading_and_stops_cleanly(tmp_path: Path) -> None:
    mqtt, influx, api, jobs = free_port(), free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "FACILITY_VAR_DIR": str(tmp_path / "var"),
        "FACILITY_MQTT_PORT": str(mqtt),
        "FACILITY_INFLUX_URL": f"http://127.0.0.1:{influx}",
        "FACILITY_API_PORT": str(api),
        "FACILITY_METRICS_PORT": "0",
        "FACILITY_WORKER_METRICS_PORT": str(jobs),
    }
    log = tmp_path / "demo.log"
    started = time.monotonic()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "runtime.cli", "demo", "--history-days", "30"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        expected = {a.id for a in load_fleet(REPO / "simulators/fleets/demo.yaml").assets}
        recent: set[str] = set()
        token = ""
        while time.monotonic() - started < 60 and recent != expected:
            time.sleep(1)
            assert proc.poll() is None, log.read_text()[-3000:]
            found = re.search(r"Overview page\s+(\S+)\?token=(\S+)", log.read_text())
            if not found:
                continue
            token = found.group(2)
            r = httpx.get(
                f"http://127.0.0.1:{api}/api/v1/assets", headers={"Authorization": f"Bearer {token}"}
            )
            now = dt.datetime.now(dt.UTC)
            recent = {
                a["id"]
                for a in r.json()
                if a["latest"]
                and now - dt.datetime.fromisoformat(a["latest"]["ts"]) < dt.timedelta(seconds=60)
            }
        assert recent == expected, f"after {time.monotonic() - started:.0f} s: {sorted(expected - recent)}"
        assert httpx.get(f"http://127.0.0.1:{api}/?token={token}").status_code == 200
        # the worker's job metrics, where the demo says (H2 #15)
        assert f"Job metrics        http://127.0.0.1:{jobs}/metrics" in log.read_text()
        metrics = httpx.get(f"http://127.0.0.1:{jobs}/metrics")
        assert metrics.status_code == 200 and 'facility_job_runs_total{job="forecast-plan"}' in metrics.text
        anonymous = mqtt_client.Client(mqtt_client.CallbackAPIVersion.VERSION2, protocol=mqtt_client.MQTTv5)
        anonymous.connect("127.0.0.1", mqtt)
        refused: list[str] = []
        anonymous.on_connect = lambda _c, _u, _f, rc, _p: refused.append(str(rc))
        deadline = time.monotonic() + 10
        while not refused and time.monotonic() < deadline:
            anonymous.loop(0.2)
        assert refused == ["Not authorized"], "the demo broker must refuse anonymous clients"
    finally:
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(60)
    assert rc == 0, log.read_text()[-3000:]
    assert not port_open("127.0.0.1", mqtt) and not port_open("127.0.0.1", influx)
