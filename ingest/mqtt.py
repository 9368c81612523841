"""The MQTT side of the ingester: a paho-mqtt 2.x client (MQTT v5, QoS 1, persistent session, manual acks).

Only this module sees paho objects: ``on_message`` turns each message into a :class:`Received` and puts it
on a bounded buffer, nothing more. When the buffer is full ``put`` blocks the paho network thread: that is
the backpressure we want — the broker stops sending once our receive window is full of unacknowledged
messages and keeps the backlog in the persistent session. Nothing is ever dropped here.

Acknowledgements are sent from the writer thread: with ``loop_start()`` paho's ``client.ack(mid, 1)`` only
appends the PUBACK to its out-queue (a thread-safe deque) and wakes the network thread, which sends it;
:meth:`MqttConsumer.ack_many` does that for a batch with one wake-up. An ack is sent only on the connection the message came on (see ``generation``): after a reconnect
the broker redelivers whatever was not acknowledged, and a stale ack could otherwise hit a reused mid.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
import struct
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from facility.contract import subscription
from facility.settings import Settings
from ingest.buffer import BoundedBuffer
from ingest.pipeline import Received

log = logging.getLogger(__name__)

PUBACK = 0x40
_PUBACK = struct.Struct("!BBH")

#: a week: the broker keeps our session (and its backlog) this long while no worker is connected
SESSION_EXPIRY_S = 7 * 24 * 3600


def topic_filter(share_group: str | None) -> str:
    """Every device channel; with a share group, the MQTT 5 shared subscription ``$share/<group>/...``."""
    base = subscription()
    return f"$share/{share_group}/{base}" if share_group else base


class MqttConsumer:
    def __init__(
        self,
        settings: Settings,
        client_id: str,
        out: BoundedBuffer[Received],
        share_group: str | None = None,
        receive_maximum: int = 10_000,
        on_state: Callable[[bool], None] | None = None,
    ) -> None:
        self.settings = settings
        self.client_id = client_id
        self.out = out
        self.filter = topic_filter(share_group)
        self.generation = 0
        self.connected = False
        self._on_state = on_state
        self._receive_maximum = max(1, min(65535, receive_maximum))
        c = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        c.max_queued_messages_set(0)
        c.reconnect_delay_set(1, 5)
        if settings.mqtt_username:
            c.username_pw_set(settings.mqtt_username, settings.mqtt_password)
        if settings.mqtt_tls:
            ctx = ssl.create_default_context(
                cafile=str(settings.mqtt_ca_file) if settings.mqtt_ca_file else None
            )
            c.tls_set_context(ctx)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        self.client = c

    def start(self) -> None:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        props.ReceiveMaximum = self._receive_maximum
        self.client.connect_async(
            self.settings.mqtt_host,
            self.settings.mqtt_port,
            keepalive=30,
            clean_start=False,
            properties=props,
        )
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def ack_many(self, items: list[Received]) -> int:
        """PUBACK every message of a batch that came on the current connection; returns how many.

        paho's ``ack()`` wakes its network thread once per message (a socket write each); here the PUBACKs
        are appended to paho's out-queue and the thread is woken once. Falls back to ``ack()`` per message
        if paho's internals are not what this was written against (paho-mqtt 2.1/2.2).
        """
        if not self.connected:
            return 0
        gen = self.generation
        mids = [i.mid for i in items if i.generation == gen and i.qos == 1]
        c: Any = self.client
        out, wake = getattr(c, "_out_packet", None), getattr(c, "_sockpairW", None)
        if out is None or wake is None or not hasattr(c, "_call_socket_register_write"):
            for mid in mids:
                c.ack(mid, 1)
            return len(mids)
        pack = _PUBACK.pack
        out.extend(
            {"command": PUBACK, "mid": mid, "qos": 1, "pos": 0, "to_process": 4, "packet": pack(PUBACK, 2, mid),
             "info": None}
            for mid in mids
        )  # fmt: skip
        with contextlib.suppress(BlockingIOError):
            wake.send(b"0")
        c._call_socket_register_write()
        return len(mids)

    def ack(self, item: Received) -> bool:
        """PUBACK one message; False (not sent) if it came on an earlier connection."""
        if item.generation != self.generation or not self.connected:
            return False
        if item.qos:
            self.client.ack(item.mid, item.qos)
        return True

    # --- paho callbacks (network thread): no parsing, no I/O
    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            log.error("MQTT broker refused ingest client %s: %s", self.client_id, reason)
            return
        if self.generation and not flags.session_present:
            log.error(
                "the broker did not keep ingest session %s (restarted without persistence, or the session "
                "expired): messages queued for it while we were away are gone",
                self.client_id,
            )
        self.generation += 1
        self.connected = True
        client.subscribe(self.filter, options=SubscribeOptions(qos=1))
        log.info("ingest %s connected (session present: %s)", self.client_id, flags.session_present)
        if self._on_state:
            self._on_state(True)

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        self.connected = False
        level = logging.WARNING if reason.is_failure else logging.INFO
        log.log(level, "ingest %s disconnected from MQTT: %s", self.client_id, reason)
        if self._on_state:
            self._on_state(False)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        # blocks when the queue is full: backpressure on the broker, never a drop
        now_ms = int(time.time() * 1000)
        self.out.put(Received(msg.mid, msg.topic, bytes(msg.payload), now_ms, self.generation, msg.qos))
