"""The local stack of `facility services` / `make demo`: real child servers, never an open broker,
supervised children, clear errors."""

from __future__ import annotations

import logging
import os
import signal
import time
from pathlib import Path

import pytest

from api.services.health import broker_reachable
from facility.services.dynsec import DynsecBroker
from facility.services.ports import free_port
from facility.settings import Settings
from facility.stack import LocalStack, StackError
from ingest.broker_accounts import DynsecAccounts
from ingest.influx import InfluxClient
from tests.integration.test_ingest_security import make_ca

pytestmark = pytest.mark.integration


def _settings(tmp_path: Path, **kw: object) -> Settings:
    return Settings(
        var_dir=tmp_path / "var",
        mqtt_port=free_port(),
        influx_url=f"http://127.0.0.1:{free_port()}",
        **kw,  # type: ignore[arg-type]
    )


def _as(settings: Settings, stack: LocalStack, user: str | None) -> Settings:
    password = stack.credentials[user] if user else None
    return settings.model_copy(update={"mqtt_username": user, "mqtt_password": password})


def test_the_broker_is_never_open_and_a_killed_child_comes_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Anonymous refused, service accounts provisioned over TLS and plain; kill -9 of each child restarts it
    (logged with the signal), and the broker keeps its accounts across the restart."""
    (tmp_path / "tls").mkdir()
    ca, cert, key = make_ca(tmp_path / "tls")
    tls_port = free_port()
    settings = _settings(
        tmp_path, mqtt_tls_port=tls_port, mqtt_ca_file=ca, mqtt_tls_certfile=cert, mqtt_tls_keyfile=key
    )
    stack = LocalStack(settings)
    stack.start()
    try:
        assert sorted(stack.credentials) == [
            "admin",
            "alarms",
            "api",
            "app",
            "ingest",
            "maintenance",
            "simulator",
            "worker",
        ]
        assert broker_reachable(settings) == (False, "Not authorized")
        assert broker_reachable(_as(settings, stack, "ingest")) == (True, "Success")
        over_tls = _as(settings, stack, "api").model_copy(update={"mqtt_port": tls_port, "mqtt_tls": True})
        assert broker_reachable(over_tls) == (True, "Success")

        caplog.set_level(logging.WARNING, logger="facility.services.process")
        killed = []
        for server in (stack.mosquitto, stack.influxd):
            assert server.proc is not None
            old = server.proc.pid
            killed.append(f"{server.name} (pid {old}) killed by signal SIGKILL")
            os.kill(old, signal.SIGKILL)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not (
                server.running() and server.proc and server.proc.pid != old
            ):
                time.sleep(0.1)
            assert server.restarts == ["killed by signal SIGKILL"]
            assert server.running() and server.proc is not None and server.proc.pid != old
        logged = [r.getMessage().split(";")[0] for r in caplog.records if "restarting in" in r.getMessage()]
        assert logged == killed
        deadline = time.monotonic() + 10
        while broker_reachable(_as(settings, stack, "ingest"))[0] is False and time.monotonic() < deadline:
            time.sleep(0.2)
        assert broker_reachable(_as(settings, stack, "ingest")) == (True, "Success")
        with InfluxClient.from_settings(settings) as influx:
            assert influx.ping()
    finally:
        stack.stop()
    assert not stack.mosquitto.running() and not stack.influxd.running()


def test_tls_without_its_files_is_one_clear_error(tmp_path: Path) -> None:
    settings = _settings(tmp_path, mqtt_tls_port=free_port(), mqtt_ca_file=tmp_path / "missing.pem")
    with pytest.raises(
        StackError, match="FACILITY_MQTT_CA_FILE, FACILITY_MQTT_TLS_CERTFILE, FACILITY_MQTT_TLS_KEYFILE"
    ):
        LocalStack(settings)


def test_a_taken_port_is_one_clear_error(tmp_path: Path, mosquitto_server) -> None:
    settings = _settings(tmp_path).model_copy(update={"mqtt_port": mosquitto_server.port})
    with pytest.raises(StackError, match=f"port {mosquitto_server.port} for mosquitto is already in use"):
        LocalStack(settings).start()


def test_the_compose_init_provisions_the_plugin_and_a_new_password_keeps_the_account(tmp_path: Path) -> None:
    """deploy/mosquitto/init.sh (run by compose's mosquitto-init) on this machine's mosquitto: service accounts
    from the environment, the roles of roles.json; run again with a changed password, the account stays."""
    import subprocess

    from facility.services.mosquitto import MosquittoServer, dynsec_plugin
    from tests.security.test_broker import Peer

    repo = Path(__file__).resolve().parents[2]
    env = {
        "PATH": os.environ["PATH"],
        "DYNSEC_DIR": str(tmp_path / "auth"),
        "ROLES_FILE": str(repo / "deploy/mosquitto/roles.json"),
        "DYNSEC_PLUGIN": str(dynsec_plugin()),
        "INIT_PORT": str(free_port()),
        "MQTT_ADMIN_PASSWORD": "adm-1",
        "MQTT_APP_PASSWORD": "app-1",
        "MQTT_SIMULATOR_PASSWORD": "sim-1",
    }
    init = ["sh", str(repo / "deploy/mosquitto/init.sh")]
    subprocess.run(init, env={**env, "MQTT_INGEST_PASSWORD": "ing-1"}, check=True, capture_output=True)
    done = subprocess.run(init, env={**env, "MQTT_INGEST_PASSWORD": "ing-2"}, check=True, capture_output=True)
    assert done.stdout.decode().startswith(
        "mosquitto-init: admin and service accounts (ingest app simulator)"
    )
    missing = subprocess.run(init, env={"PATH": env["PATH"]}, capture_output=True)
    assert missing.returncode != 0 and b"MQTT_ADMIN_PASSWORD is not set" in missing.stderr

    server = MosquittoServer(
        tmp_path / "mq", free_port(), dynsec_file=tmp_path / "auth" / "dynamic-security.json"
    )
    server.start()
    try:
        broker = DynsecBroker("127.0.0.1", server.port, {"admin": "adm-1"})
        assert Peer(broker, ("ingest", "ing-1"), "i1").connack == 135
        ingest = Peer(broker, ("ingest", "ing-2"), "i2")
        assert (ingest.connack, ingest.subscribe("$share/g/facility/#")) == (0, 1)
        app = Peer(broker, ("app", "app-1"), "a1")
        assert (app.connack, app.subscribe("$share/g/facility/#")) == (0, 135)
        assert Peer(broker, None, "anon").connack == 135
        with DynsecAccounts.for_broker(broker) as accounts:
            assert {a.username: sorted(a.rolenames) for a in accounts.list()} == {
                "admin": ["admin", "facility-admin"],
                "app": ["facility-app"],
                "ingest": ["facility-ingest"],
                "simulator": ["facility-simulator"],
            }
        for p in (ingest, app):
            p.close()
    finally:
        server.stop()
