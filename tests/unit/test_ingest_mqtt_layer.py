"""The one MQTT layer's pure parts: broker configuration from settings, and the buffer's shutdown."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from facility.mqtt import BoundedBuffer, BrokerConfig
from facility.settings import Settings


def test_broker_config_takes_the_settings_account_unless_a_role_brings_its_own() -> None:
    s = Settings(mqtt_host="mq", mqtt_port=8883, mqtt_username="app", mqtt_password="pw", mqtt_tls=True,
                 mqtt_ca_file=Path("/ca.pem"))  # fmt: skip
    assert BrokerConfig.from_settings(s) == BrokerConfig("mq", 8883, "app", "pw", True, Path("/ca.pem"))
    own = BrokerConfig.from_settings(s, "facility-alarms", "secret")
    assert (own.username, own.password, own.tls) == ("facility-alarms", "secret", True)
    with pytest.raises(ValueError, match="FACILITY_MQTT_PORT"):
        BrokerConfig(port=0)


def test_closing_the_buffer_releases_a_blocked_producer_and_a_waiting_consumer() -> None:
    buf: BoundedBuffer[int] = BoundedBuffer(1)
    buf.put(1)
    done = threading.Event()
    t = threading.Thread(target=lambda: (buf.put(2), done.set()))
    t.start()
    assert not done.wait(0.05)  # full: the producer (paho's network thread) waits
    buf.close()
    assert done.wait(2)
    assert buf.take(5, 0) == [1, 2]
    assert buf.take(5, 10) == []  # closed: returns at once
