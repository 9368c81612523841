"""Notifications written to the outbox table in the same transaction as the change they announce."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from maintenance.domain import zone
from maintenance.models import Crew, Order, OutboxMessage

MQTT = "mqtt"
WEBHOOK = "webhook"


def crew_topic(crew_id: str) -> str:
    return f"facility/crews/{crew_id}/orders"


def escalation_topic(estate: str) -> str:
    return f"facility/escalations/{estate}"


def engineer_topic(engineer_id: str) -> str:
    return f"facility/engineers/{engineer_id}/escalations"


def order_payload(order: Order, event: str, at: dt.datetime) -> dict[str, Any]:
    return {
        "event": event,
        "at": at.isoformat(),
        "order": order.id,
        "asset": order.asset_id,
        "kind": order.asset.kind,
        "estate": order.asset.estate_id,
        "type": order.type,
        "priority": order.priority,
        "state": order.state,
        "title": order.title,
        "fault_code": order.fault_code,
        "crew": order.crew_id,
        "opened_at": order.opened_at.isoformat(),
        "scheduled_for": order.scheduled_for.isoformat() if order.scheduled_for else None,
    }


def enqueue(
    session: Session, topic: str, payload: dict[str, Any], at: dt.datetime, crew_id: str | None = None
) -> list[OutboxMessage]:
    """Queue an MQTT message on ``topic``, plus a webhook delivery when ``crew_id``'s crew has a webhook."""
    rows = [
        OutboxMessage(channel=MQTT, topic=topic, crew_id=crew_id, payload=payload, created_at=at, attempts=0)
    ]
    crew = session.get(Crew, crew_id) if crew_id else None
    if crew is not None and crew.webhook_url and crew.webhook_secret:
        rows.append(
            OutboxMessage(
                channel=WEBHOOK, topic=topic, crew_id=crew_id, payload=payload, created_at=at, attempts=0
            )
        )
    session.add_all(rows)
    return rows


# --- notification channels (issue 13): one outbox row per channel, delivered outside any transaction


def quiet_until(hours: tuple[int, int] | None, timezone: str, at: dt.datetime) -> dt.datetime | None:
    """When the quiet hours around ``at`` end (None: ``at`` is not in quiet hours). (22, 7) spans midnight."""
    if hours is None or hours[0] == hours[1]:
        return None
    start, end = hours
    local = at.astimezone(zone(timezone))
    h = local.hour
    inside = start <= h < end if start < end else (h >= start or h < end)
    if not inside:
        return None
    until = local.replace(hour=end % 24, minute=0, second=0, microsecond=0)
    if until <= local:
        until += dt.timedelta(days=1)
    return until.astimezone(dt.UTC)


def enqueue_channels(
    session: Session,
    owners: list[tuple[str, str]],
    payload: dict[str, Any],
    at: dt.datetime,
    urgent: bool,
) -> list[OutboxMessage]:
    """Queue ``payload`` on every enabled channel of the (owner_type, owner_id) pairs; quiet hours defer a
    non-urgent note to their end (nothing is dropped)."""
    from maintenance.alarms.models import ChannelRow

    rows: list[OutboxMessage] = []
    seen: set[int] = set()
    for owner_type, owner_id in owners:
        channels = session.scalars(
            sa.select(ChannelRow).where(
                ChannelRow.owner_type == owner_type, ChannelRow.owner_id == owner_id, ChannelRow.enabled
            )
        )
        for ch in channels:
            if ch.id in seen:
                continue
            seen.add(ch.id)
            quiet = None if ch.quiet_start is None or ch.quiet_end is None else (ch.quiet_start, ch.quiet_end)
            later = None if urgent else quiet_until(quiet, ch.timezone, at)
            rows.append(
                OutboxMessage(
                    channel=ch.type,
                    topic=str(payload.get("note", "alarm")),
                    crew_id=owner_id if owner_type == "crew" else None,
                    payload={**payload, "urgent": urgent},
                    created_at=at,
                    attempts=0,
                    next_attempt_at=later or at,
                    channel_id=ch.id,
                )
            )
    session.add_all(rows)
    return rows
