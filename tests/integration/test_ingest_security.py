"""Device accounts and ACL on a real mosquitto: anonymous off, each device confined to its own topics,
revocation, and the ingester reading over a TLS listener with a CA made here."""

from __future__ import annotations

import ssl
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt
import pytest

from facility.contract import AssetKind, AssetRef, Channel, encode_reading
from facility.services.broker import SecureBroker
from facility.services.dynsec import AccountSpec, DynsecBroker
from facility.services.mosquitto import MosquittoServer
from facility.services.ports import free_port
from facility.settings import Settings
from ingest.broker_accounts import DynsecAccounts
from ingest.influx import InfluxClient
from ingest.security import verify_password
from ingest.service import Ingester
from ingest.testkit import stored_points, wait_for_points
from tests.security.test_broker import Peer

pytestmark = pytest.mark.integration

DEV_A = AssetRef("E1", "B1", AssetKind.ELEVATOR, "lift-a")
DEV_B = AssetRef("E1", "B2", AssetKind.WATER_PUMP, "pump-b")


def make_ca(d: Path) -> tuple[Path, Path, Path]:
    """A self-signed CA and a server certificate for 127.0.0.1 signed by it (openssl CLI)."""

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca",
        "-keyout", "ca.key", "-out", "ca.crt")  # fmt: skip
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key",
        "-out", "server.csr")  # fmt: skip
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "2", "-extfile", "ext.cnf", "-out", "server.crt")  # fmt: skip
    return d / "ca.crt", d / "server.crt", d / "server.key"


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[tuple[MosquittoServer, DynsecAccounts, dict[str, str]]]:
    """A dynsec broker (as the local stack runs it) with a TLS listener, two devices and the ingest account."""
    (tmp_path / "tls").mkdir()
    broker = SecureBroker(
        tmp_path / "mq", free_port(), tls_port=free_port(), tls_files=make_ca(tmp_path / "tls")
    )
    broker.start()
    accounts = DynsecAccounts.for_broker(broker.info)
    passwords = {"ingest": broker.credentials["ingest"]}
    for ref in (DEV_A, DEV_B):
        passwords[ref.asset] = "pw-" + ref.asset
        accounts.add(AccountSpec.device(ref), passwords[ref.asset])
    yield broker.server, accounts, passwords
    accounts.close()
    broker.stop()


class Device:
    """A device client that records the broker's PUBACK reason code for each publish."""

    def __init__(self, port: int, username: str | None, password: str | None) -> None:
        self.acks: dict[int, int] = {}
        self.connect_rc: int | None = None
        self.done = threading.Event()
        c = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=username or "anonymous", protocol=mqtt.MQTTv5
        )
        if username:
            c.username_pw_set(username, password)
        c.on_connect = self._on_connect
        c.on_publish = lambda cl, ud, mid, rc, props: self.acks.__setitem__(mid, rc.value)
        self.c = c
        c.connect("127.0.0.1", port)
        c.loop_start()
        self.done.wait(10)

    def _on_connect(self, client, userdata, flags, rc, props) -> None:
        self.connect_rc = rc.value
        self.done.set()

    def publish(self, topic: str, payload: bytes) -> int:
        info = self.c.publish(topic, payload, qos=1)
        assert info.rc == mqtt.MQTT_ERR_SUCCESS
        deadline = time.monotonic() + 10
        while info.mid not in self.acks and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.acks[info.mid]

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def test_password_hash_is_what_mosquitto_writes() -> None:
    line = "$7$101$j1luNFFePiJlVQWO$Z76QMguZBy7BXE7K6OinNGzyVRXUL8hffmOLGBcZKzFAdePSFgmnwHD4TtECIXzQPZeqkME9tylHdLXq30P3Uw=="
    assert verify_password("secret", line)  # produced by `mosquitto_passwd -b ... alice secret`
    assert not verify_password("Secret", line)


def test_rogue_publish_is_refused_and_only_own_topic_is_stored(
    tmp_path: Path, secured: tuple[MosquittoServer, DynsecAccounts, dict[str, str]], influx: InfluxClient
) -> None:
    server, reg, pw = secured
    (ca, _, _) = server.tls_files  # type: ignore[misc]
    settings = Settings(
        var_dir=tmp_path / "var", mqtt_host="127.0.0.1", mqtt_port=int(server.tls_port or 0), mqtt_tls=True,
        mqtt_ca_file=ca, mqtt_username="ingest", mqtt_password=pw["ingest"], influx_url=influx.url,
        influx_db=influx.database, metrics_port=0, ingest_client_id="t-secure", batch_interval_s=0.1,
    )  # fmt: skip
    ing = Ingester(settings)
    ing.start()
    try:
        deadline = time.monotonic() + 15
        while not ing.mqtt.connected and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ing.mqtt.connected, "the ingester could not connect over TLS with its account"

        assert Device(server.port, None, None).connect_rc == 135  # anonymous: not authorized
        assert Device(server.port, "lift-a", "wrong").connect_rc in (134, 135)  # bad user name or password

        a = Device(server.port, "lift-a", pw["lift-a"])
        assert a.connect_rc == 0
        now = int(time.time() * 1000)
        rng = np.random.default_rng(0)
        own = [(now - 10_000 + i, {"motor_current_a": float(rng.uniform(1, 50)), "vibration_mm_s": 1.5})
               for i in range(20)]  # fmt: skip
        for seq, (ts, values) in enumerate(own):
            assert a.publish(DEV_A.topic(Channel.TELEMETRY), encode_reading(values, ts, seq)) == 0
        rogue = a.publish(
            DEV_B.topic(Channel.TELEMETRY), encode_reading({"outlet_pressure_mpa": 0.3}, now, 99)
        )
        assert rogue == 135  # PUBACK "not authorized": the ACL refused it
        a.close()

        points = wait_for_points(influx, len(own), timeout_s=30)
        time.sleep(0.5)  # let anything that wrongly got through arrive too
        points = stored_points(influx)
        expected = [("elevator", "lift-a", ts, tuple(sorted(v.items()))) for ts, v in own]
        assert Counter(points) == Counter(expected)

        # revoke: at once, on the running broker
        reg.revoke("lift-a")
        assert Device(server.port, "lift-a", pw["lift-a"]).connect_rc == 135
        assert Device(server.port, "pump-b", pw["pump-b"]).connect_rc == 0
    finally:
        ing.stop()


def test_tls_listener_refuses_an_unknown_ca(
    secured: tuple[MosquittoServer, DynsecAccounts, dict[str, str]],
) -> None:
    server, _, pw = secured
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="no-ca", protocol=mqtt.MQTTv5)
    c.username_pw_set("pump-b", pw["pump-b"])
    c.tls_set_context(ssl.create_default_context())  # system CAs only: our test CA is unknown
    with pytest.raises(ssl.SSLCertVerificationError):
        c.connect("127.0.0.1", server.tls_port)  # type: ignore[arg-type]


# --------------------------------------------------------------- `facility devices` on a dynsec broker


def test_devices_cli_acts_on_the_running_broker(
    dynsec_broker: DynsecBroker,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from facility.fleet import parse_fleet
    from ingest.account_store import records
    from maintenance.db import Database
    from maintenance.registry import load_fleet
    from runtime.cli import main

    db_url = f"sqlite:///{tmp_path / 'store.db'}"
    for k, v in {
        "FACILITY_VAR_DIR": str(tmp_path / "var"),
        "FACILITY_MQTT_PORT": str(dynsec_broker.port),
        "FACILITY_MQTT_ADMIN_PASSWORD": dynsec_broker.admin[1],
        "FACILITY_DATABASE_URL": db_url,
    }.items():
        monkeypatch.setenv(k, v)
    fleet = parse_fleet(
        {"estates": [{"id": "cli-e", "name": "CLI", "group": "old", "company": "pc-x", "company_name": "X",
                      "installed": "2020-01-01",
                      "buildings": [{"id": "b1", "floors": 5, "counts": {"elevator": 2, "water_pump": 1}}]}]}
    )  # fmt: skip
    db = Database.open(db_url)
    with db.transaction() as s:
        load_fleet(s, fleet)
    names = sorted(a.ref.asset for a in fleet.assets)
    out = tmp_path / "new.csv"

    assert main(["devices", "sync", "--out", str(out)]) == 0
    assert (
        capsys.readouterr().out
        == f"3 registry assets: 3 accounts created, 0 already there, 0 revoked; passwords in {out}\n"
    )
    rows = dict(line.split(",") for line in out.read_text().splitlines()[1:])
    assert sorted(rows) == names and oct(out.stat().st_mode & 0o777) == "0o600"
    assert main(["devices", "sync"]) == 0
    assert capsys.readouterr().out == "3 registry assets: 0 accounts created, 3 already there, 0 revoked\n"

    first, second = names[0], names[1]
    online = Peer(dynsec_broker, (first, rows[first]), first)
    online.c.reconnect_delay_set(60, 60)
    assert online.connack == 0
    assert main(["devices", "revoke", first]) == 0
    assert online.wait(lambda: online.disconnects == [152], timeout_s=5.0)  # disconnected by the broker
    assert Peer(dynsec_broker, (first, rows[first]), first).connack == 135

    capsys.readouterr()
    assert main(["devices", "rotate", second]) == 0
    new_pw = capsys.readouterr().out.splitlines()[1].removeprefix("password: ")
    assert Peer(dynsec_broker, (second, rows[second]), second).connack == 135
    assert Peer(dynsec_broker, (second, new_pw), second).connack == 0

    with db.transaction() as s:
        got = {
            r.username: (r.role, r.asset_id, r.client_id, r.active, r.rotated_at is not None)
            for r in records(s, True)
        }
    assert got == {
        first: ("device", first, first, False, False),
        second: ("device", second, second, True, True),
        names[2]: ("device", names[2], names[2], True, False),
    }
    assert main(["devices", "list", "--all"]) == 0
    listed = {line.split()[0]: line.split()[2] for line in capsys.readouterr().out.splitlines()}
    assert {n: listed[n] for n in names} == {first: "revoked", second: "active", names[2]: "active"}
    assert main(["devices", "add", "cli-e/b1/toaster/t1"]) == 2
    assert "unknown kind 'toaster'" in capsys.readouterr().err
    assert main(["devices", "add", "cli-e/b1/elevator/facility-ingest"]) == 2
    assert "reserved for services" in capsys.readouterr().err
    # H2 #12: a device whose asset is not (so) in the registry is refused unless --force, which warns
    assert main(["devices", "add", "cli-e/b1/elevator/cli-e-b1-el9"]) == 2
    err = capsys.readouterr().err
    assert (
        "asset 'cli-e-b1-el9' is not in the registry" in err and "register it first, or pass --force" in err
    )
    assert main(["devices", "add", "cli-e/b1/water_pump/cli-e-b1-el1"]) == 2
    err = capsys.readouterr().err
    assert "the registry has asset 'cli-e-b1-el1' as cli-e/b1/elevator/cli-e-b1-el1" in err
    assert main(["devices", "add", "--force", "cli-e/b1/elevator/cli-e-b1-el9"]) == 0
    got = capsys.readouterr()
    assert "warning: asset 'cli-e-b1-el9' is not in the registry" in got.err
    assert "username: cli-e-b1-el9" in got.out
    db.dispose()


def test_the_demo_provisions_its_devices_through_the_account_interface(dynsec_broker: DynsecBroker) -> None:
    """A second run (var/ kept) gets fresh passwords for the same accounts: the old ones stop working."""
    from ingest.devices import provision_local

    refs = [AssetRef("demo-e", "b1", AssetKind.SMART_BIN, f"demo-bin-{i}") for i in range(2)]
    first = provision_local(dynsec_broker, refs)
    second = provision_local(dynsec_broker, refs)
    assert sorted(first) == sorted(second) == ["demo-bin-0", "demo-bin-1"]
    assert all(first[u] != second[u] for u in first)
    assert Peer(dynsec_broker, ("demo-bin-0", first["demo-bin-0"]), "demo-bin-0").connack == 135
    ok = Peer(dynsec_broker, ("demo-bin-0", second["demo-bin-0"]), "demo-bin-0")
    assert ok.connack == 0 and ok.publish(refs[0].topic(Channel.TELEMETRY), b"{}") == 0
    ok.close()
