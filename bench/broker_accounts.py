"""Broker accounts on mosquitto's dynamic-security plugin: bulk provisioning, a single change, revocation.

    .venv/bin/python bench/broker_accounts.py [--devices 1000]

Starts a dynsec broker as the local stack does (SecureBroker) in a temp dir, then times: ``sync`` of N new
device accounts (the plugin saves its JSON file after every command, so this grows as N²), a second ``sync``
that finds them all, one ``add``, one ``rotate``, and ``revoke`` of a connected device until the broker has
disconnected it. For comparison, one `facility devices list` as a CLI process (interpreter start, imports,
store migration check). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from facility.contract import AssetKind, AssetRef
from facility.services.broker import SecureBroker
from facility.services.dynsec import AccountSpec
from facility.services.ports import free_port
from ingest.broker_accounts import DynsecAccounts


def _timed(fn: object) -> float:
    t = time.perf_counter()
    fn()  # type: ignore[operator]
    return round(time.perf_counter() - t, 3)


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (load on a shared machine inflates wall time, not this)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", type=int, default=1000)
    n = ap.parse_args().devices
    kinds = list(AssetKind)
    specs = [AccountSpec.device(AssetRef("E1", f"B{i % 20}", kinds[i % 4], f"dev-{i:05d}")) for i in range(n)]
    with tempfile.TemporaryDirectory() as d:
        broker = SecureBroker(Path(d), free_port())
        broker.start()
        try:
            info = broker.info
            out: dict[str, object] = {"devices": n, "cpus": os.cpu_count()}
            with DynsecAccounts.for_broker(info) as acc:
                assert broker.server.proc is not None
                cpu0 = _cpu_s(broker.server.proc.pid)
                out["sync_new_s"] = _timed(lambda: acc.sync(specs))
                out["sync_new_broker_cpu_s"] = round(_cpu_s(broker.server.proc.pid) - cpu0, 3)
                out["sync_again_s"] = _timed(lambda: acc.sync(specs))
                extra = AccountSpec.device(AssetRef("E2", "B1", AssetKind.ELEVATOR, "extra-1"))
                out["add_one_s"] = _timed(lambda: acc.add(extra, "pw-1"))
                out["rotate_one_s"] = _timed(lambda: acc.rotate("extra-1", "pw-2"))
                gone = threading.Event()
                c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="extra-1", protocol=mqtt.MQTTv5)
                c.username_pw_set("extra-1", "pw-2")
                c.on_disconnect = lambda *a: gone.set()
                connected = threading.Event()
                c.on_connect = lambda *a: connected.set()
                c.reconnect_delay_set(60, 60)
                c.connect(info.host, info.port)
                c.loop_start()
                connected.wait(10)
                t = time.perf_counter()
                acc.revoke("extra-1")
                gone.wait(10)
                out["revoke_until_disconnected_s"] = round(time.perf_counter() - t, 3)
                c.loop_stop()
                out["accounts_on_broker"] = len(acc.list())
            out["plugin_file_bytes"] = broker.config_file.stat().st_size
            env = {
                **os.environ,
                "FACILITY_VAR_DIR": d,
                "FACILITY_MQTT_PORT": str(info.port),
                "FACILITY_MQTT_ADMIN_PASSWORD": info.admin[1],
            }
            cli = [sys.executable, "-m", "runtime.cli", "devices", "list"]
            out["cli_process_s"] = _timed(
                lambda: subprocess.run(
                    cli, env=env, check=True, capture_output=True, cwd=Path(__file__).parent.parent
                )
            )
        finally:
            broker.stop()
    out["load_avg_1m"] = os.getloadavg()[0]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
