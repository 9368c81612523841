"""Delivering the outbox: MQTT (crew and escalation topics) and signed crew webhooks with retry/backoff."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
import orjson
import paho.mqtt.client as mqtt
import sqlalchemy as sa
from sqlalchemy.orm import Session

from maintenance.channels.base import ChannelConfig, ChannelType
from maintenance.channels.email import SmtpConfig
from maintenance.channels.send import send as send_note
from maintenance.models import Crew, OutboxMessage
from maintenance.outbox import MQTT, WEBHOOK
from maintenance.safe_url import check_url
from maintenance.signing import SIGNATURE_HEADER, sign

#: outbox ``channel`` values of the notification channels (one row per channel and note)
CHANNEL_TYPES = tuple(t.value for t in ChannelType)

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
    webhook: Callable[[str, str, bytes], Any] | None = None,
    limit: int = 500,
) -> int:
    """Send pending outbox messages (oldest first), each marked delivered once sent; returns how many.

    ``publisher`` None leaves MQTT messages pending, ``webhook`` None (the default) leaves webhook deliveries
    to :func:`deliver_channels`, which sends them with no transaction open and backs off on failure; a
    ``webhook`` sender given here runs inside the caller's transaction (kept for tools and tests).
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
        # Claim the row before sending it. SQLite has no SKIP LOCKED and its SELECT takes no lock, so two
        # deliveries (the listener's after an event, the service's round) could both read it and both send it;
        # the second one's UPDATE waits here for the first's commit, then finds it delivered and sends nothing.
        claimed = session.execute(
            sa.update(OutboxMessage)
            .where(OutboxMessage.id == msg.id, OutboxMessage.delivered_at.is_(None))
            .values(delivered_at=now, attempts=OutboxMessage.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        if getattr(claimed, "rowcount", 0) != 1:
            continue
        try:
            if msg.channel == WEBHOOK:
                crew = session.get(Crew, msg.crew_id) if msg.crew_id else None
                if crew is not None and crew.webhook_url and crew.webhook_secret and webhook is not None:
                    webhook(crew.webhook_url, crew.webhook_secret, body)
            elif publisher is not None:
                publisher.publish(msg.topic, body)
        except Exception as exc:  # keep it pending; the next round retries
            log.warning("notification %s (%s %s) not delivered: %s", msg.id, msg.channel, msg.topic, exc)
            session.execute(
                sa.update(OutboxMessage)
                .where(OutboxMessage.id == msg.id)
                .values(delivered_at=None)
                .execution_options(synchronize_session=False)
            )
            continue
        delivered += 1
    session.flush()
    for msg in pending:  # the rows were changed by UPDATE statements: read them again when next used
        session.expire(msg)
    return delivered


def prune_outbox(session: Session, older_than: dt.datetime) -> int:
    """Delete messages delivered before ``older_than``; pending ones are kept whatever their age."""
    result = session.execute(
        sa.delete(OutboxMessage).where(
            OutboxMessage.delivered_at.is_not(None), OutboxMessage.delivered_at < older_than
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


# --- notification channels (issue 13): claimed in one short transaction, sent with no transaction open,
# the results recorded in another; a failing channel is retried with back-off and never holds up the others.

#: a claimed row is not handed out again for this long (a delivery process that died releases it then)
CLAIM_S = 120.0
MAX_ATTEMPTS = 20


def backoff(attempts: int) -> dt.timedelta:
    """Wait before the next try after ``attempts`` failures: 10 s, 20 s, 40 s, … capped at one hour."""
    return dt.timedelta(seconds=min(10.0 * 2 ** max(attempts - 1, 0), 3600.0))


@dataclass(frozen=True)
class _Job:
    id: int
    channel: str
    payload: dict[str, Any]
    config: ChannelConfig | None
    language: str
    webhook: tuple[str, str] | None


@dataclass(frozen=True)
class ChannelSettings:
    allow: tuple[str, ...] = ()
    smtp: SmtpConfig = field(default_factory=SmtpConfig)
    timeout_s: float = 5.0

    @classmethod
    def from_settings(cls, settings: Any) -> ChannelSettings:
        return cls(
            tuple(settings.outgoing_allow),
            SmtpConfig(
                settings.smtp_host,
                settings.smtp_port,
                settings.smtp_from,
                settings.smtp_username,
                settings.smtp_password,
                settings.smtp_starttls,
            ),
        )


def _claim(session: Session, now: dt.datetime, limit: int) -> list[_Job]:
    from maintenance.alarms.models import ChannelRow

    rows = session.scalars(
        sa.select(OutboxMessage)
        .where(
            OutboxMessage.delivered_at.is_(None),
            OutboxMessage.channel.in_([WEBHOOK, *CHANNEL_TYPES]),
            OutboxMessage.attempts < MAX_ATTEMPTS,
            sa.or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now),
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    jobs = []
    for msg in rows:
        msg.next_attempt_at = now + dt.timedelta(seconds=CLAIM_S)
        config, language, hook = None, "zh", None
        if msg.channel == WEBHOOK:
            crew = session.get(Crew, msg.crew_id) if msg.crew_id else None
            if crew is not None and crew.webhook_url and crew.webhook_secret:
                hook = (crew.webhook_url, crew.webhook_secret)
        else:
            ch = session.get(ChannelRow, msg.channel_id) if msg.channel_id else None
            if ch is not None and ch.enabled:
                recipients = tuple(r.strip() for r in ch.recipients.split(",") if r.strip())
                config = ChannelConfig(ch.id, ChannelType(ch.type), ch.target, ch.secret, recipients)
                language = ch.language
        jobs.append(_Job(msg.id, msg.channel, dict(msg.payload), config, language, hook))
    return jobs


def _send(job: _Job, now: dt.datetime, cfg: ChannelSettings) -> str | None:
    """None when delivered (or nothing left to deliver to), else the error."""
    from maintenance.alarms.texts import note_for

    try:
        if job.channel == WEBHOOK:
            if job.webhook is not None:
                url, secret = job.webhook
                check_url(url, cfg.allow)
                post_webhook(url, secret, orjson.dumps(job.payload), attempts=1, timeout_s=cfg.timeout_s)
        elif job.config is not None:
            send_note(
                job.config,
                note_for(job.payload, job.language),
                int(now.timestamp() * 1000),
                cfg.allow,
                cfg.smtp,
                cfg.timeout_s,
            )
    except Exception as exc:
        return str(exc)[:1000] or type(exc).__name__
    return None


def deliver_channels(
    db: Any, now: dt.datetime, cfg: ChannelSettings = ChannelSettings(), limit: int = 200
) -> tuple[int, int]:
    """One delivery round of webhook and channel rows; returns (delivered, failed).

    Each channel's rows are sent in order by their own thread, so a slow or failing channel delays no other.
    """
    from maintenance.alarms.models import ChannelRow

    with db.transaction() as session:
        jobs = _claim(session, now, limit)
    if not jobs:
        return 0, 0
    groups: dict[object, list[_Job]] = {}
    for job in jobs:
        groups.setdefault(job.config.id if job.config else job.webhook, []).append(job)

    def run(group: list[_Job]) -> list[tuple[_Job, str | None]]:
        return [(job, _send(job, now, cfg)) for job in group]

    with ThreadPoolExecutor(max_workers=min(8, len(groups))) as pool:
        results = [r for rs in pool.map(run, groups.values()) for r in rs]
    with db.transaction() as session:
        for job, error in results:
            msg = session.get(OutboxMessage, job.id)
            if msg is None:
                continue
            ch = session.get(ChannelRow, job.config.id) if job.config else None
            if error is None:
                msg.delivered_at, msg.last_error, msg.next_attempt_at = now, None, None
                if ch is not None:
                    ch.last_ok_at = now
                continue
            msg.attempts += 1
            msg.last_error = error
            msg.next_attempt_at = now + backoff(msg.attempts)
            log.warning(
                "notification %s (%s) failed (attempt %d): %s", msg.id, msg.channel, msg.attempts, error
            )
            if ch is not None:
                ch.last_error, ch.last_error_at = error, now
    failed = sum(1 for _, e in results if e is not None)
    return len(results) - failed, failed


def deliver_all(
    db: Any, publisher: Publisher | None, now: dt.datetime, cfg: ChannelSettings
) -> tuple[int, int]:
    """MQTT notifications (one short transaction), then webhooks and channels outside any transaction;
    returns (delivered, failed)."""
    with db.transaction() as session:
        mqtt_sent = deliver_outbox(session, publisher, now) if publisher is not None else 0
    sent, failed = deliver_channels(db, now, cfg)
    return mqtt_sent + sent, failed
