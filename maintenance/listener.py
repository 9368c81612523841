"""MQTT → handle_event: a thin paho callback enqueues; one worker thread decodes, handles and notifies."""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
from collections.abc import Callable

import paho.mqtt.client as mqtt

from facility.contract import Channel, ContractError, decode, subscription
from maintenance.db import Database
from maintenance.handler import Outcome, handle_event
from maintenance.notify import Publisher, deliver_outbox

log = logging.getLogger(__name__)
Clock = Callable[[], dt.datetime]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class EventListener:
    """Subscribes ``facility/+/+/+/+/event`` and ``/status`` (QoS 1, persistent session ``client_id``).

    Each message is handled in its own transaction; notifications are delivered right after commit when a
    ``publisher`` is given. ``on_outcome`` (tests, logs) sees what each message did.
    """

    def __init__(
        self,
        db: Database,
        host: str,
        port: int,
        client_id: str = "facility-maintenance",
        publisher: Publisher | None = None,
        clock: Clock = utcnow,
        on_outcome: Callable[[Outcome], None] | None = None,
        login: tuple[str, str] | None = None,
    ) -> None:
        self.db, self.publisher, self.clock, self.on_outcome = db, publisher, clock, on_outcome
        self.queue: queue.Queue[tuple[str, bytes] | None] = queue.Queue(maxsize=10_000)
        self.subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        if login is not None:
            self.client.username_pw_set(*login)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.host, self.port = host, port
        self._worker = threading.Thread(target=self._run, name="maintenance-events", daemon=True)

    def _on_connect(
        self, client: mqtt.Client, _u: object, _f: object, rc: mqtt.ReasonCode, _p: object
    ) -> None:
        if rc.is_failure:
            log.error("MQTT connect refused: %s", rc)
            return
        client.subscribe([(subscription(Channel.EVENT), 1), (subscription(Channel.STATUS), 1)])

    def _on_subscribe(self, _c: mqtt.Client, _u: object, _mid: int, _rc: object, _p: object) -> None:
        self.subscribed.set()

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        self.queue.put((msg.topic, bytes(msg.payload)))

    def _run(self) -> None:
        while (item := self.queue.get()) is not None:
            topic, payload = item
            now = self.clock()
            try:
                messages = decode(topic, payload, int(now.timestamp() * 1000))
            except ContractError as exc:
                log.warning("dropping %s: %s", topic, exc)
                continue
            try:
                with self.db.transaction() as session:
                    outcomes = [handle_event(session, m, now) for m in messages]
                if self.publisher is not None:
                    with self.db.transaction() as session:
                        deliver_outbox(session, self.publisher, now)
            except Exception:
                log.exception("handling %s failed", topic)
                continue
            for o in outcomes:
                if self.on_outcome:
                    self.on_outcome(o)

    def start(self) -> None:
        self._worker.start()
        self.client.connect(self.host, self.port)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
        self.queue.put(None)
        self._worker.join(timeout=10)
