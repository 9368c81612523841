"""Retained messages are kept only on ``status``: the strongest mechanism mosquitto 2.0 offers without a C plugin.

mosquitto 2.0 cannot refuse a retained PUBLISH by topic (``retain_available false`` refuses every retained
message, the status topic's last will included, and dynsec ACLs do not see the retain flag). So the ACL
first confines each device to its three exact topics (no sub-topics to fill with retained messages), the
``message_size_limit`` bounds each message, and this guard, subscribed to ``facility/#`` with MQTT 5's
*retain as published*, deletes a retained message on any telemetry or event topic the moment it arrives
(a zero-length retained PUBLISH, which subscribers also receive as an empty message). What it cannot do: the
broker holds such a message for the few milliseconds until the guard's delete arrives, and while the guard is
down; the retained status message (one per device, at most ``message_size_limit`` bytes) stays, as the
contract wants.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.subscribeoptions import SubscribeOptions

from facility.contract import TOPIC_ROOT, Channel
from facility.mqtt import BrokerConfig, connect_async, create_client

log = logging.getLogger(__name__)
CLEARED = (Channel.TELEMETRY.value, Channel.EVENT.value)


def should_clear(topic: str, retain: bool, payload: bytes | bytearray) -> bool:
    """A retained, non-empty message on a device's telemetry or event topic."""
    parts = topic.split("/")
    return retain and bool(payload) and len(parts) == 6 and parts[0] == TOPIC_ROOT and parts[5] in CLEARED


class RetainGuard:
    """Deletes retained telemetry/event messages; runs on paho's thread until :meth:`stop`."""

    def __init__(self, config: BrokerConfig, client_id: str) -> None:
        """``config`` logs in as an account that may read ``facility/#`` and publish telemetry/event topics."""
        self.cleared = 0
        self.ready = threading.Event()
        c = create_client(config, client_id)
        c.on_connect = self._on_connect
        c.on_subscribe = lambda *_: self.ready.set()
        c.on_message = self._on_message
        c.reconnect_delay_set(1, 30)
        self._client = c
        self._config = config

    def start(self, timeout_s: float = 10.0) -> None:
        connect_async(self._client, self._config, persistent=False)
        self._client.loop_start()
        if not self.ready.wait(timeout_s):
            log.warning("retain guard: no subscription after %.0f s, still trying", timeout_s)

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _on_connect(self, client: mqtt.Client, _ud: Any, _flags: Any, rc: Any, _props: Any) -> None:
        if rc.is_failure:
            log.error("retain guard refused by the broker: %s", rc)
            return
        client.subscribe(f"{TOPIC_ROOT}/#", options=SubscribeOptions(qos=0, retainAsPublished=True))

    def _on_message(self, client: mqtt.Client, _ud: Any, msg: mqtt.MQTTMessage) -> None:
        if should_clear(msg.topic, bool(msg.retain), msg.payload):
            client.publish(msg.topic, b"", qos=1, retain=True)
            self.cleared += 1
            log.warning(
                "retain guard: deleted a retained message on %s (only status may be retained)", msg.topic
            )
