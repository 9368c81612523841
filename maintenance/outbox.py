"""Notifications written to the outbox table in the same transaction as the change they announce."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

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
