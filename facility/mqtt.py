"""The one MQTT layer: a client factory, our own message type, an acknowledging consumer and a publisher.

Every process that speaks MQTT (the ingester, the maintenance listener, the simulators, notifications)
builds its paho client here, so MQTT 5, TLS, credentials, the client id and the persistent session are set
in one place. Only this module handles paho *messages*: a consumer turns each into an :class:`EdgeMessage`
at once.

* :func:`create_client` / :func:`connect_async` — the factory (persistent session: ``clean_start=False``
  and a session expiry, so the broker keeps the backlog while we are away).
* :class:`AckingConsumer` — subscribes inside ``on_connect``, puts each message on a bounded buffer (a full
  buffer blocks paho's network thread: back-pressure, the broker stops sending once our receive window is
  full) and acknowledges (PUBACK) only when the caller says so, on the connection the message came on.
* :class:`Publisher` — QoS 1 publishing that checks every return code and waits for the broker's ack.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

if TYPE_CHECKING:
    from facility.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

#: a week: the broker keeps a persistent session (and its backlog) this long while its client is away
SESSION_EXPIRY_S = 7 * 24 * 3600
PUBACK = 0x40
_PUBACK = struct.Struct("!BBH")


class MqttError(RuntimeError):
    """The broker cannot be reached, refused us, or did not acknowledge; the message says what to check."""


@dataclass(frozen=True)
class BrokerConfig:
    """Where the broker is and how to log in (one account per process role)."""

    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = None
    tls: bool = False
    ca_file: Path | None = None
    keepalive_s: int = 30

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError(f"MQTT port must be 1-65535, but was {self.port!r}: set FACILITY_MQTT_PORT")

    @classmethod
    def from_settings(
        cls, settings: Settings, username: str | None = None, password: str | None = None
    ) -> BrokerConfig:
        """The broker of ``settings``; ``username``/``password`` replace the settings' account when given."""
        return cls(
            host=settings.mqtt_host,
            port=settings.mqtt_port,
            username=username if username is not None else settings.mqtt_username,
            password=password if username is not None else settings.mqtt_password,
            tls=settings.mqtt_tls,
            ca_file=settings.mqtt_ca_file,
        )


@dataclass(frozen=True)
class Will:
    """A last will: published by the broker when the connection dies without a DISCONNECT."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


@dataclass(frozen=True, slots=True)
class EdgeMessage:
    """One MQTT message as it came off the wire (converted from paho's type at the edge)."""

    mid: int
    topic: str
    payload: bytes
    #: our clock when it arrived (epoch ms); used only for sanity windows, never as the reading's time
    received_ms: int
    #: connection generation: an ack is only valid on the connection the message came on
    generation: int = 0
    qos: int = 1
    retain: bool = False


def create_client(
    config: BrokerConfig,
    client_id: str,
    *,
    manual_ack: bool = False,
    will: Will | None = None,
    max_inflight: int | None = None,
    max_queued: int = 0,
) -> mqtt.Client:
    """A paho client (MQTT 5) with credentials, TLS and reconnect back-off set; not yet connected."""
    c = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5, manual_ack=manual_ack
    )
    c.max_queued_messages_set(max_queued)
    if max_inflight is not None:
        c.max_inflight_messages_set(max_inflight)
    c.reconnect_delay_set(1, 5)
    if config.username:
        c.username_pw_set(config.username, config.password or "")
    if config.tls:
        c.tls_set_context(ssl.create_default_context(cafile=str(config.ca_file) if config.ca_file else None))
    if will is not None:
        c.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)
    return c


def connect_async(
    client: mqtt.Client,
    config: BrokerConfig,
    *,
    persistent: bool = True,
    session_expiry_s: int = SESSION_EXPIRY_S,
    receive_maximum: int | None = None,
) -> None:
    """Start connecting (paho's network thread runs from here on and reconnects by itself).

    ``persistent``: ``clean_start=False`` and ``session_expiry_s``, so subscriptions and unacknowledged
    messages outlive a disconnect; otherwise a fresh session that ends with the connection.
    """
    props = Properties(PacketTypes.CONNECT)
    if persistent:
        props.SessionExpiryInterval = session_expiry_s
    if receive_maximum is not None:
        props.ReceiveMaximum = max(1, min(65535, receive_maximum))
    client.connect_async(
        config.host, config.port, keepalive=config.keepalive_s, clean_start=not persistent, properties=props
    )
    client.loop_start()


class BoundedBuffer(Generic[T]):
    """A bounded hand-off from paho's network thread to a worker, cheaper than ``queue.Queue``.

    ``put`` appends to a deque (atomic under the GIL) and blocks — polling, 1 ms — only while the buffer is
    full; that stalls paho's network loop, which is the back-pressure we want. ``take`` returns up to ``n``
    items at once and waits on an Event only when the buffer is empty.
    """

    def __init__(self, maxsize: int) -> None:
        if maxsize <= 0:
            raise ValueError(f"maxsize must be positive, but was {maxsize!r}")
        self.maxsize = maxsize
        self._items: deque[T] = deque()
        self._ready = threading.Event()
        #: True while the consumer may be asleep on ``_ready`` (so producers set it only then)
        self._waiting = False
        self.closed = False

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: T) -> None:
        items = self._items
        while len(items) >= self.maxsize and not self.closed:
            time.sleep(0.001)
        items.append(item)
        if self._waiting:
            self._ready.set()

    def take(self, n: int, timeout_s: float) -> list[T]:
        """Up to ``n`` items, oldest first; waits up to ``timeout_s`` for the first one."""
        items = self._items
        if not items:
            if self.closed:
                return []
            self._waiting = True
            self._ready.clear()
            try:
                if not items and not self._ready.wait(timeout_s):
                    return []
            finally:
                self._waiting = False
        popleft = items.popleft
        out = []
        for _ in range(min(n, len(items))):
            out.append(popleft())
        return out

    def close(self) -> None:
        """Unblock producers (at shutdown: what they add is never acknowledged, so it comes again)."""
        self.closed = True
        self._ready.set()


class AckingConsumer:
    """Subscribes ``filters`` at QoS 1 on a persistent session and hands messages out by :meth:`take`.

    Nothing is acknowledged until :meth:`ack` / :meth:`ack_many`: a message taken but never acknowledged
    (the process died, the store was down) is redelivered by the broker on the next connection.
    """

    def __init__(
        self,
        config: BrokerConfig,
        client_id: str,
        filters: Sequence[str],
        *,
        queue_max: int = 10_000,
        receive_maximum: int | None = None,
        session_expiry_s: int = SESSION_EXPIRY_S,
        on_state: Callable[[bool], None] | None = None,
    ) -> None:
        if not filters:
            raise ValueError("a consumer needs at least one topic filter")
        self.config = config
        self.client_id = client_id
        self.filters = tuple(filters)
        self.buffer: BoundedBuffer[EdgeMessage] = BoundedBuffer(max(1, queue_max))
        self.generation = 0
        self.connected = False
        #: set once the broker granted the subscriptions (on the first connection)
        self.subscribed = threading.Event()
        #: the broker's reason when it refused the connection (bad credentials, client id not allowed)
        self.refused: str | None = None
        #: set when a connection attempt failed (broker down) or was refused; cleared when subscribed
        self.failed = threading.Event()
        self._on_state = on_state
        self._session_expiry_s = session_expiry_s
        self._receive_maximum = receive_maximum if receive_maximum is not None else min(queue_max, 65535)
        c = create_client(config, client_id, manual_ack=True)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_subscribe = self._on_subscribe
        c.on_message = self._on_message
        c.on_connect_fail = self._on_connect_fail
        self.client = c

    def __len__(self) -> int:
        return len(self.buffer)

    def wait_subscribed(self, timeout_s: float) -> bool:
        """Wait until the broker granted the subscriptions; False at once if it refused us or could not be
        reached, or after ``timeout_s``. Until the first grant the broker holds no session for us: what
        devices publish before it is not queued for this consumer (nothing tells them)."""
        deadline = time.monotonic() + timeout_s
        while not self.subscribed.wait(0.01):
            if self.failed.is_set() or time.monotonic() >= deadline:
                return False
        return True

    def start(self) -> None:
        connect_async(
            self.client,
            self.config,
            session_expiry_s=self._session_expiry_s,
            receive_maximum=self._receive_maximum,
        )

    def stop(self) -> None:
        self.buffer.close()
        self.client.disconnect()
        self.client.loop_stop()

    def take(self, n: int, timeout_s: float) -> list[EdgeMessage]:
        """Up to ``n`` messages, oldest first; waits up to ``timeout_s`` for the first one."""
        return self.buffer.take(n, timeout_s)

    def ack(self, msg: EdgeMessage) -> bool:
        """PUBACK one message; False (not sent) if it came on an earlier connection."""
        if msg.generation != self.generation or not self.connected:
            return False
        if msg.qos:
            self.client.ack(msg.mid, msg.qos)
        return True

    def ack_many(self, msgs: Iterable[EdgeMessage]) -> int:
        """PUBACK every QoS 1 message of a batch that came on the current connection; returns how many.

        paho's ``ack()`` wakes its network thread once per message (a socket write each); here the PUBACKs
        are appended to paho's out-queue and the thread is woken once. Falls back to ``ack()`` per message
        if paho's internals are not what this was written against (paho-mqtt 2.1/2.2).
        """
        if not self.connected:
            return 0
        gen = self.generation
        mids = [m.mid for m in msgs if m.generation == gen and m.qos == 1]
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

    # --- paho callbacks (network thread): no parsing, no I/O
    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            self.refused = str(reason)
            self.failed.set()
            log.error("MQTT broker refused client %s: %s", self.client_id, reason)
            return
        self.refused = None
        if self.generation and not flags.session_present:
            log.error(
                "the broker did not keep session %s (restarted without persistence, or the session "
                "expired): messages queued for it while we were away are gone",
                self.client_id,
            )
        self.generation += 1
        self.connected = True
        # retained messages only for a new subscription, not again at every reconnect of the same session
        opts = SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)
        client.subscribe([(f, opts) for f in self.filters])
        log.info("MQTT %s connected (session present: %s)", self.client_id, flags.session_present)
        if self._on_state:
            self._on_state(True)

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, props: Any) -> None:
        bad = [str(r) for r in reasons if r.is_failure]
        if bad:
            self.failed.set()
            log.error("MQTT %s: the broker refused subscriptions %s: %s", self.client_id, self.filters, bad)
            return
        self.failed.clear()
        self.subscribed.set()

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        self.failed.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        self.connected = False
        level = logging.WARNING if reason.is_failure else logging.INFO
        log.log(level, "MQTT %s disconnected: %s", self.client_id, reason)
        if self._on_state:
            self._on_state(False)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        # blocks when the buffer is full: back-pressure on the broker, never a drop
        self.buffer.put(
            EdgeMessage(
                msg.mid,
                msg.topic,
                bytes(msg.payload),
                int(time.time() * 1000),
                self.generation,
                msg.qos,
                bool(msg.retain),
            )
        )


class Publisher:
    """QoS 1 publishing on one connection: every return code checked, :meth:`publish` waits for the ack.

    For services (notifications); the simulators keep their own fleet publisher on :func:`create_client`.
    """

    def __init__(
        self,
        config: BrokerConfig,
        client_id: str,
        *,
        will: Will | None = None,
        persistent: bool = False,
        max_queued: int = 10_000,
    ) -> None:
        self.config = config
        self.client_id = client_id
        self.connected = threading.Event()
        self.refused: str | None = None
        self._persistent = persistent
        c = create_client(config, client_id, will=will, max_queued=max_queued)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        self.client = c
        self._started = False

    def start(self, timeout_s: float = 10.0) -> Publisher:
        """Connect; raises MqttError naming the broker when it cannot within ``timeout_s``."""
        if not self._started:
            connect_async(self.client, self.config, persistent=self._persistent)
            self._started = True
        deadline = time.monotonic() + timeout_s
        while not self.connected.wait(0.05):
            if self.refused or time.monotonic() > deadline:
                why = f"refused ({self.refused})" if self.refused else "no answer"
                raise MqttError(
                    f"cannot connect to the MQTT broker at {self.config.host}:{self.config.port} as "
                    f"{self.client_id!r}: {why}; check FACILITY_MQTT_HOST/PORT and the account"
                )
        return self

    def publish(self, topic: str, payload: bytes, *, retain: bool = False, timeout_s: float = 10.0) -> None:
        """Publish at QoS 1 and wait until the broker acknowledges; raises MqttError otherwise."""
        if not self._started:
            self.start(timeout_s)
        if not self.connected.wait(timeout_s):
            raise MqttError(f"not connected to the MQTT broker at {self.config.host}:{self.config.port}")
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            # NO_CONN: paho keeps a QoS 1 message and may still send it later (at least once, as promised)
            raise MqttError(f"MQTT publish to {topic} failed: {mqtt.error_string(info.rc)}")
        try:
            info.wait_for_publish(timeout_s)
        except (RuntimeError, ValueError) as exc:
            raise MqttError(f"MQTT publish to {topic} not sent: {exc}") from exc
        if not info.is_published():
            raise MqttError(f"the broker did not acknowledge the publish to {topic} within {timeout_s:.0f} s")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            self.refused = str(reason)
            return
        self.refused = None
        self.connected.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        self.connected.clear()
