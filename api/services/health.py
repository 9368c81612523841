"""Reachability of the broker and the database, for /health."""

from __future__ import annotations

import threading

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from facility.settings import Settings


def broker_reachable(settings: Settings, timeout_s: float = 2.0) -> tuple[bool, str]:
    """Connect with MQTT (not just TCP): the broker must answer CONNACK and accept our credentials."""
    done = threading.Event()
    outcome: dict[str, str] = {}

    def on_connect(
        client: mqtt.Client, userdata: object, flags: object, reason: object, props: object
    ) -> None:
        outcome["reason"] = str(reason)
        done.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    if settings.mqtt_username:
        client.username_pw_set(settings.mqtt_username, settings.mqtt_password)
    if settings.mqtt_tls:
        client.tls_set(ca_certs=str(settings.mqtt_ca_file) if settings.mqtt_ca_file else None)
    client.on_connect = on_connect
    try:
        client.connect(settings.mqtt_host, settings.mqtt_port, keepalive=10)
    except OSError as exc:
        return False, f"cannot connect to {settings.mqtt_host}:{settings.mqtt_port}: {exc}"
    client.loop_start()
    try:
        if not done.wait(timeout_s):
            return False, "no CONNACK within timeout"
        ok = outcome.get("reason") == "Success"
        return ok, outcome.get("reason", "")
    finally:
        client.disconnect()
        client.loop_stop()
