"""MQTT events → orders, acknowledged only once they are committed (or kept as dead letters).

The listener is a :class:`facility.mqtt.AckingConsumer` on ``facility/+/+/+/+/event`` and ``/status``
(QoS 1, persistent session ``client_id``). One worker thread takes each message in order and

* decodes it; a message that breaks the contract becomes a dead letter (source ``maintenance``) and is
  acknowledged;
* handles it in its own transaction; only after COMMIT is it acknowledged (PUBACK);
* when the store refuses it for good (an integrity or data error, or a bug in the handler: ``refused_by_store``
  / ``internal``), it becomes a dead letter with the store's message, and is acknowledged;
* when the store is unreachable (connection refused or lost, locked), it is **not** acknowledged: the same
  message is retried with back-off (0.25 s doubling up to ``retry_max_s``) while the broker keeps the rest
  in our session. If the process dies meanwhile, the broker delivers it again; handling is idempotent
  (a repeated fault finds its open order).

So every event the broker accepted ends as an order (or an outcome on one) or as a dead letter.
Notifications are delivered after the commit when a ``publisher`` is given, outside the event's transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable

import sqlalchemy as sa

from facility.contract import Channel, ContractError, Message, decode, subscription
from facility.mqtt import AckingConsumer, BrokerConfig, EdgeMessage
from facility.settings import Settings
from ingest.deadletters import DeadLetter, DeadLetterStore
from ingest.pipeline import is_retained_delete
from maintenance.db import Database
from maintenance.handler import Outcome, handle_event
from maintenance.notify import Publisher, deliver_outbox

log = logging.getLogger(__name__)
Clock = Callable[[], dt.datetime]
SOURCE = "maintenance"
RETRY_MIN_S = 0.25

#: the store refused this message for good: retrying it would fail the same way
PERMANENT = (sa.exc.IntegrityError, sa.exc.DataError)
#: the store is not there (or busy): retry the same message later, unacknowledged
TRANSIENT = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.DisconnectionError, sa.exc.TimeoutError)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class EventListener:
    """``on_outcome`` (tests, logs, the service's wake-up) sees what each committed message did."""

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
        *,
        broker: BrokerConfig | None = None,
        dead_letters: DeadLetterStore | None = None,
        retry_max_s: float = 30.0,
        queue_max: int = 1000,
    ) -> None:
        self.db, self.publisher, self.clock, self.on_outcome = db, publisher, clock, on_outcome
        config = broker or BrokerConfig(
            host, port, username=login[0] if login else None, password=login[1] if login else None
        )
        self.consumer = AckingConsumer(
            config,
            client_id,
            [subscription(Channel.EVENT), subscription(Channel.STATUS)],
            queue_max=queue_max,
        )
        self.subscribed = self.consumer.subscribed
        self.dead_letters = dead_letters if dead_letters is not None else DeadLetterStore(db.engine)
        self.retry_max_s = retry_max_s
        #: messages committed (or dead-lettered) and acknowledged; store failures retried
        self.handled = 0
        self.dead = 0
        self.retries = 0
        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._run, name="maintenance-events", daemon=True)

    @classmethod
    def from_settings(
        cls,
        db: Database,
        settings: Settings,
        publisher: Publisher | None = None,
        clock: Clock = utcnow,
        on_outcome: Callable[[Outcome], None] | None = None,
    ) -> EventListener:
        """The listener of ``settings``: its broker (TLS and account included), client id and retry back-off."""
        return cls(
            db,
            settings.mqtt_host,
            settings.mqtt_port,
            settings.maintenance_client_id,
            publisher,
            clock,
            on_outcome,
            broker=BrokerConfig.from_settings(settings),
            retry_max_s=settings.listener_retry_max_s,
        )

    def start(self) -> None:
        self._worker.start()
        self.consumer.start()

    def stop(self) -> None:
        self._stop.set()
        self.consumer.buffer.close()
        self._worker.join(timeout=10)
        self.consumer.stop()

    # ------------------------------------------------------------------ worker thread
    def _run(self) -> None:
        while not self._stop.is_set():
            for msg in self.consumer.take(100, 0.2):
                if not self._process(msg):
                    return  # stopping: the rest stays unacknowledged and comes again

    def _process(self, msg: EdgeMessage) -> bool:
        """Commit or dead-letter ``msg``, then acknowledge it; False if stopped before that."""
        now = self.clock()
        if is_retained_delete(msg):  # the retain guard's delete: nothing to handle, no dead letter
            self.consumer.ack(msg)
            self.handled += 1
            return True
        try:
            messages = decode(msg.topic, msg.payload, int(now.timestamp() * 1000))
        except ContractError as exc:
            reason, why = exc.reason, str(exc)
            if not self._retrying(lambda: self._dead(msg, reason, why, now)):
                return False
            self.consumer.ack(msg)
            self.handled += 1
            return True
        outcomes: list[Outcome] = []

        def commit() -> None:
            try:
                outcomes[:] = self._handle(messages, now)
            except PERMANENT as exc:
                log.warning("the store refused %s for good: %s", msg.topic, exc)
                self._dead(msg, "refused_by_store", str(exc.orig or exc)[:1000], now)
            except TRANSIENT:
                raise
            except Exception as exc:  # a bug: keep the event, do not stall the stream on it
                log.exception("handling %s failed", msg.topic)
                self._dead(msg, "internal", f"{type(exc).__name__}: {exc}"[:1000], now)

        if not self._retrying(commit):
            return False
        self.consumer.ack(msg)
        self.handled += 1
        for o in outcomes:
            if self.on_outcome:
                self.on_outcome(o)
        self._deliver(now)
        return True

    def _handle(self, messages: list[Message], now: dt.datetime) -> list[Outcome]:
        with self.db.transaction() as session:
            return [handle_event(session, m, now) for m in messages]

    def _dead(self, msg: EdgeMessage, reason: str, why: str, now: dt.datetime) -> None:
        letter = DeadLetter(msg.topic, msg.payload, reason, why, int(now.timestamp() * 1000), source=SOURCE)
        self.dead_letters.add_many([letter])
        self.dead += 1

    def _retrying(self, work: Callable[[], None]) -> bool:
        """Run ``work`` until it does not raise a transient store error; False if stopped meanwhile."""
        delay = RETRY_MIN_S
        while True:
            try:
                work()
                return True
            except TRANSIENT as exc:
                self.retries += 1
                log.warning("store unavailable (%s); not acknowledging, retrying in %.2f s", exc, delay)
            if self._stop.wait(delay):
                return False
            delay = min(self.retry_max_s, delay * 2)

    def _deliver(self, now: dt.datetime) -> None:
        if self.publisher is None:
            return
        try:
            with self.db.transaction() as session:
                deliver_outbox(session, self.publisher, now)
        except Exception:  # the service's delivery round picks them up later
            log.exception("notification delivery after an event failed")
