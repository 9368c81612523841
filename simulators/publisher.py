"""The MQTT adapter of the simulators: paho-mqtt 2.x, QoS 1, retained status with a last will.

Clients are made by the one MQTT layer (:func:`facility.mqtt.create_client`: MQTT 5, TLS, credentials).

One paho client per device by default, so that each device has its own last will (``offline``, retained,
on its status topic) and, when ``credentials`` is given, its own MQTT username; ``per_device=False`` uses one
client for the whole fleet (no per-device last will: a clean `close` still publishes every ``offline``).

Every ``publish()`` return code is checked: ``MQTT_ERR_QUEUE_SIZE`` (paho's outgoing queue is full) waits
and retries the same message; ``MQTT_ERR_NO_CONN`` means paho kept the QoS 1 message and sends it after it
reconnects, so we wait for the reconnection before publishing more; any other code raises `PublishError`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

import facility.mqtt as mqtt_layer
from facility.contract import (
    AssetRef,
    Channel,
    Event,
    Message,
    Reading,
    Status,
    encode_event,
    encode_reading,
    encode_status,
)

log = logging.getLogger(__name__)

Credentials = Callable[[AssetRef], tuple[str, str]]
QOS = 1


class PublishError(RuntimeError):
    """The broker cannot be reached or refused us; the message says what to check."""


@dataclass(frozen=True)
class BrokerConfig:
    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = None
    tls: bool = False
    ca_file: Path | None = None
    client_id_prefix: str = "facility-sim"
    keepalive_s: int = 30


def topic_and_payload(msg: Message) -> tuple[str, bytes, bool]:
    """(topic, payload, retain) for one contract message."""
    if isinstance(msg, Reading):
        return msg.ref.topic(Channel.TELEMETRY), encode_reading(msg.values, msg.ts_ms, msg.seq), False
    if isinstance(msg, Event):
        return (
            msg.ref.topic(Channel.EVENT),
            encode_event(msg.type, msg.code, msg.ts_ms, msg.seq, msg.detail, msg.outcome),
            False,
        )
    if isinstance(msg, Status):
        return msg.ref.topic(Channel.STATUS), encode_status(msg.online, msg.ts_ms), True
    raise TypeError(f"cannot publish {type(msg).__name__}")


class _Connection:
    """One paho client and the devices it speaks for."""

    def __init__(
        self,
        client_id: str,
        config: BrokerConfig,
        refs: list[AssetRef],
        login: tuple[str, str] | None,
        will: AssetRef | None,
        status_clock: Callable[[], int],
        max_queued: int,
    ) -> None:
        self.refs = refs
        self.client_id = client_id
        self.status_clock = status_clock
        self.connected = threading.Event()
        self.failure: str | None = None
        self.closing = False
        self._lock = threading.Lock()
        self.published = 0
        self.acked = 0
        self.broker = mqtt_layer.BrokerConfig(
            config.host,
            config.port,
            username=login[0] if login else None,
            password=login[1] if login else None,
            tls=config.tls,
            ca_file=config.ca_file,
            keepalive_s=config.keepalive_s,
        )
        last_will = None
        if will is not None:
            last_will = mqtt_layer.Will(
                will.topic(Channel.STATUS), encode_status(False, status_clock()), QOS, True
            )
        c = mqtt_layer.create_client(
            self.broker, client_id, will=last_will, max_inflight=500, max_queued=max_queued
        )
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_publish = self._on_publish
        self.client = c

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            self.failure = str(reason)
            return
        self.failure = None
        for ref in self.refs:  # (re)announce: retained "online" on each device's status topic
            info = client.publish(
                ref.topic(Channel.STATUS), encode_status(True, self.status_clock()), QOS, True
            )
            if info.rc == mqtt.MQTT_ERR_SUCCESS:
                self.count_published()
            else:
                log.warning("status online for %s not queued: %s", ref.asset, mqtt.error_string(info.rc))
        self.connected.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        self.connected.clear()
        if not self.closing:
            log.warning("MQTT connection %s lost (%s); paho reconnects", self.client_id, reason)

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        with self._lock:
            self.acked += 1

    def count_published(self) -> None:
        with self._lock:
            self.published += 1

    @property
    def outstanding(self) -> int:
        with self._lock:
            return self.published - self.acked


class MqttPublisher:
    """Publishes contract messages for a fleet of devices. Use as a context manager or start()/close()."""

    def __init__(
        self,
        config: BrokerConfig,
        refs: Sequence[AssetRef],
        *,
        credentials: Credentials | None = None,
        per_device: bool = True,
        status_clock: Callable[[], int] | None = None,
        max_queued: int = 10_000,
        connect_timeout_s: float = 15.0,
        reconnect_timeout_s: float = 120.0,
    ) -> None:
        self.config = config
        self.connect_timeout_s = connect_timeout_s
        self.reconnect_timeout_s = reconnect_timeout_s
        clock = status_clock or (lambda: int(time.time() * 1000))
        self.status_clock = clock
        self.queue_full_waits = 0
        self.sent_while_disconnected = 0
        self.reconnect_waits = 0
        self._by_asset: dict[str, _Connection] = {}
        self._connections: list[_Connection] = []
        default_login = (config.username, config.password or "") if config.username else None
        if per_device or credentials is not None:
            for ref in refs:
                login = credentials(ref) if credentials else default_login
                # a device's own account is bound to its client id = its user name (the broker refuses others)
                client_id = login[0] if credentials and login else f"{config.client_id_prefix}-{ref.asset}"
                conn = _Connection(client_id, config, [ref], login, ref, clock, max_queued)
                self._connections.append(conn)
                self._by_asset[ref.asset] = conn
        else:
            conn = _Connection(
                config.client_id_prefix, config, list(refs), default_login, None, clock, max_queued
            )
            self._connections.append(conn)
            self._by_asset = {ref.asset: conn for ref in refs}

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> MqttPublisher:
        """Connect every client (paho reconnects by itself later); raises PublishError when it cannot."""
        for conn in self._connections:
            mqtt_layer.connect_async(conn.client, conn.broker, persistent=False)
        deadline = time.monotonic() + self.connect_timeout_s
        for conn in self._connections:
            while not conn.connected.wait(0.05):
                if conn.failure or time.monotonic() > deadline:
                    self._stop_loops()
                    why = (
                        f"the broker refused the connection ({conn.failure})" if conn.failure else "no answer"
                    )
                    raise PublishError(
                        f"cannot connect to the MQTT broker at {self.config.host}:{self.config.port}: {why}; "
                        "start it (`facility services`) or set FACILITY_MQTT_HOST / FACILITY_MQTT_PORT "
                        "and the MQTT username/password"
                    )
        return self

    def close(self, timeout_s: float = 10.0) -> None:
        """Publish retained ``offline`` for every device, wait for the broker's acks, disconnect.

        Never blocks longer than about ``timeout_s``: a connection that is down gets no ``offline`` from us
        (the broker has published its last will already).
        """
        now = self.status_clock()
        try:
            for conn in self._connections:
                if not conn.connected.is_set():
                    continue
                for ref in conn.refs:
                    self.publish(Status(ref, now, online=False))
            self.flush(timeout_s)
        except PublishError as exc:
            log.warning("closing the simulators' MQTT clients: %s", exc)
        finally:
            self._stop_loops()

    def _stop_loops(self) -> None:
        for conn in self._connections:
            conn.closing = True
            conn.client.disconnect()
            conn.client.loop_stop()

    def __enter__(self) -> MqttPublisher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ publishing

    def publish(self, msg: Message) -> None:
        conn = self._by_asset.get(msg.ref.asset)
        if conn is None:
            raise KeyError(f"asset {msg.ref.asset!r} is not one of this publisher's devices")
        topic, payload, retain = topic_and_payload(msg)
        delay = 0.002
        while True:
            self._wait_connected(conn)
            info = conn.client.publish(topic, payload, qos=QOS, retain=retain)
            if info.rc == mqtt.MQTT_ERR_SUCCESS:
                conn.count_published()
                return
            if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:
                # paho's queue is full: slow down and send the same message again (never drop it)
                self.queue_full_waits += 1
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
                continue
            if info.rc == mqtt.MQTT_ERR_NO_CONN:
                # QoS 1: paho keeps the message and sends it after reconnecting; do not publish it twice
                conn.count_published()
                self.sent_while_disconnected += 1
                return
            raise PublishError(f"publishing to {topic} failed: {mqtt.error_string(info.rc)}")

    def publish_many(self, msgs: Iterable[Message]) -> int:
        n = 0
        for msg in msgs:
            self.publish(msg)
            n += 1
        return n

    def flush(self, timeout_s: float = 30.0) -> None:
        """Wait until the broker has acknowledged everything published so far."""
        deadline = time.monotonic() + timeout_s
        while any(c.outstanding > 0 for c in self._connections):
            if time.monotonic() > deadline:
                left = sum(c.outstanding for c in self._connections)
                raise PublishError(
                    f"{left} messages still unacknowledged by the broker after {timeout_s:.0f} s"
                )
            time.sleep(0.01)

    def _wait_connected(self, conn: _Connection) -> None:
        if conn.connected.is_set():
            return
        self.reconnect_waits += 1
        if not conn.connected.wait(self.reconnect_timeout_s):
            raise PublishError(
                f"lost the MQTT broker at {self.config.host}:{self.config.port} for more than "
                f"{self.reconnect_timeout_s:.0f} s; is it still running?"
            )
