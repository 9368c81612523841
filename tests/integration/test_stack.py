"""The local stack of `facility services` / `make demo`: real child servers, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.services.health import broker_reachable
from facility.services.ports import free_port
from facility.settings import Settings
from facility.stack import LocalStack, StackError
from tests.integration.test_ingest_security import make_ca

pytestmark = pytest.mark.integration


def _settings(tmp_path: Path, **kw: object) -> Settings:
    return Settings(
        var_dir=tmp_path / "var",
        mqtt_port=free_port(),
        influx_url=f"http://127.0.0.1:{free_port()}",
        **kw,  # type: ignore[arg-type]
    )


def test_tls_listener_is_a_setting(tmp_path: Path) -> None:
    (tmp_path / "tls").mkdir()
    ca, cert, key = make_ca(tmp_path / "tls")
    tls_port = free_port()
    settings = _settings(
        tmp_path, mqtt_tls_port=tls_port, mqtt_ca_file=ca, mqtt_tls_certfile=cert, mqtt_tls_keyfile=key
    )
    stack = LocalStack(settings)
    stack.start()
    try:
        over_tls = settings.model_copy(update={"mqtt_port": tls_port, "mqtt_tls": True})
        assert broker_reachable(over_tls) == (True, "Success")
        assert broker_reachable(settings) == (True, "Success")  # the plain listener is still there
    finally:
        stack.stop()


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
