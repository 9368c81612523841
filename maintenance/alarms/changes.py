"""Orders changed anywhere (API, maintenance service, worker) land in the change log the live stream tails.

A session hook, registered once on import: after each flush, every inserted or changed work order is
appended to ``changes`` on the same connection, so it commits (or rolls back) with the order itself.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, UOWTransaction

from maintenance.alarms.models import ChangeRow
from maintenance.models import Order


def order_change(order: Order) -> dict[str, Any]:
    return {
        "event": "order",
        "id": order.id,
        "asset": order.asset_id,
        "state": order.state,
        "priority": order.priority,
        "type": order.type,
        "crew": order.crew_id,
        "title": order.title,
    }


def _after_flush(session: Session, _flush: UOWTransaction) -> None:
    changed = [o for o in (*session.new, *session.dirty) if isinstance(o, Order)]
    if not changed:
        return
    now = dt.datetime.now(dt.UTC)
    session.connection().execute(
        sa.insert(ChangeRow),
        [{"at": now, "topic": "order", "payload": order_change(o)} for o in changed],
    )


if not sa.event.contains(Session, "after_flush", _after_flush):
    sa.event.listen(Session, "after_flush", _after_flush)
