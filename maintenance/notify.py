"""Delivering the outbox: MQTT (crew and escalation topics) and signed crew webhooks with retry/backoff."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

import httpx
import orjson
import paho.mqtt.client as mqtt
import sqlalchemy as sa
from sqlalchemy.orm import Session

from maintenance.models import Crew, OutboxMessage
from maintenance.outbox import MQTT, WEBHOOK
from maintenance.signing import SIGNATURE_HEADER, sign

log = logging.getLogger(__name__)


class Publisher(Protocol):
    def publish(self, topic: str, payload: bytes) -> None: ...


class WebhookError(RuntimeError):
    pass


def post_webhook(
    url: str,
    secret: str,
    body: bytes,
    attempts: int = 5,
    backoff_s: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
    timeout_s: float = 5.0,
    clock: Callable[[], float] = time.time,
) -> int:
    """POST ``body`` signed with ``secret``; retry on connection errors and 5xx/429 with exponential backoff.

    Each attempt is signed afresh with ``clock()`` (unix seconds; see maintenance.signing), so a late retry
    is not refused as a replay. Returns the number of attempts used; raises WebhookError after the last
    failure or on another 4xx.
    """
    last = ""
    for attempt in range(1, attempts + 1):
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, body, int(clock()))}
        try:
            r = httpx.post(url, content=body, headers=headers, timeout=timeout_s)
            if r.status_code < 300:
                return attempt
            last = f"HTTP {r.status_code}"
            if r.status_code < 500 and r.status_code != 429:
                raise WebhookError(f"webhook {url} refused the notification: {last}")
        except httpx.HTTPError as exc:
            last = repr(exc)
        if attempt < attempts:
            sleep(backoff_s * 2 ** (attempt - 1))
    raise WebhookError(f"webhook {url} failed {attempts} times, last: {last}")


class MqttPublisher:
    """A paho client that publishes QoS 1 and checks every return code."""

    def __init__(
        self,
        host: str,
        port: int,
        client_id: str = "facility-maintenance-notify",
        login: tuple[str, str] | None = None,
    ) -> None:
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        if login is not None:
            self.client.username_pw_set(*login)
        self.client.connect(host, port)
        self.client.loop_start()

    def publish(self, topic: str, payload: bytes) -> None:
        info = self.client.publish(topic, payload, qos=1, retain=False)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise RuntimeError(f"MQTT publish to {topic} failed: {mqtt.error_string(info.rc)}")
        info.wait_for_publish(timeout=10)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def deliver_outbox(
    session: Session,
    publisher: Publisher | None,
    now: dt.datetime,
    webhook: Callable[[str, str, bytes], Any] | None = post_webhook,
    limit: int = 500,
) -> int:
    """Send pending outbox messages (oldest first), each marked delivered once sent; returns how many.

    ``publisher`` None leaves MQTT messages pending, ``webhook`` None leaves webhook deliveries pending (the
    API delivers MQTT only, so a slow webhook never delays a response; the service loop delivers both).
    A message whose sending fails stays pending (``attempts`` counts tries) for the next call.
    """
    channels = [c for c, on in ((MQTT, publisher is not None), (WEBHOOK, webhook is not None)) if on]
    pending = session.scalars(
        sa.select(OutboxMessage)
        .where(OutboxMessage.delivered_at.is_(None), OutboxMessage.channel.in_(channels))
        .order_by(OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    delivered = 0
    for msg in pending:
        body = orjson.dumps(msg.payload)
        msg.attempts += 1
        try:
            if msg.channel == WEBHOOK:
                crew = session.get(Crew, msg.crew_id) if msg.crew_id else None
                if crew is not None and crew.webhook_url and crew.webhook_secret and webhook is not None:
                    webhook(crew.webhook_url, crew.webhook_secret, body)
            elif publisher is not None:
                publisher.publish(msg.topic, body)
        except Exception as exc:  # keep it pending; the next round retries
            log.warning("notification %s (%s %s) not delivered: %s", msg.id, msg.channel, msg.topic, exc)
            continue
        msg.delivered_at = now
        delivered += 1
    session.flush()
    return delivered


def prune_outbox(session: Session, older_than: dt.datetime) -> int:
    """Delete messages delivered before ``older_than``; pending ones are kept whatever their age."""
    result = session.execute(
        sa.delete(OutboxMessage).where(
            OutboxMessage.delivered_at.is_not(None), OutboxMessage.delivered_at < older_than
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
