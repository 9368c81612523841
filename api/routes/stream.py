"""Live updates by Server-Sent Events: alarms, orders and readings' freshness, from any process.

The maintenance service, the worker and this API all write changes to the ``changes`` table in the same
transaction as the change itself; this route tails it (works the same on SQLite and PostgreSQL). Each event
carries its change id, so a client that reconnects with ``Last-Event-ID`` (or ``?after=``) misses nothing
that is still kept (one day).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
import sqlalchemy as sa
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from api.auth import ALL_ROLES, require_role
from api.deps import DatabaseDep
from maintenance.alarms.models import ChangeRow
from maintenance.db import Database

router = APIRouter(tags=["stream"])
TOPICS = ("alarm", "order", "freshness", "rules")
POLL_S = 1.0
KEEPALIVE_S = 15.0


def _latest(db: Database) -> int:
    with db.transaction() as s:
        return int(s.scalar(sa.select(sa.func.max(ChangeRow.id))) or 0)


def _after(db: Database, after: int, topics: tuple[str, ...], limit: int = 500) -> list[tuple[int, str, Any]]:
    with db.transaction() as s:
        rows = s.execute(
            sa.select(ChangeRow.id, ChangeRow.topic, ChangeRow.payload)
            .where(ChangeRow.id > after, ChangeRow.topic.in_(topics))
            .order_by(ChangeRow.id)
            .limit(limit)
        ).all()
    return [(int(i), str(t), p) for i, t, p in rows]


def format_event(change_id: int, topic: str, payload: Any) -> bytes:
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (change_id, topic.encode(), orjson.dumps(payload))


async def _events(
    request: Request, db: Database, after: int | None, topics: tuple[str, ...], follow: bool
) -> AsyncIterator[bytes]:
    last = after if after is not None else await run_in_threadpool(_latest, db)
    yield b"retry: 3000\n: connected\n\n"
    if not follow:  # a script, not an EventSource: what is pending, then the end
        for change_id, topic, payload in await run_in_threadpool(_after, db, last, topics):
            yield format_event(change_id, topic, payload)
        return
    quiet_since = time.monotonic()
    while not await request.is_disconnected():
        rows = await run_in_threadpool(_after, db, last, topics)
        for change_id, topic, payload in rows:
            last = change_id
            yield format_event(change_id, topic, payload)
        if rows:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > KEEPALIVE_S:
            quiet_since = time.monotonic()
            yield b": keep-alive\n\n"
        if len(rows) < 500:
            await asyncio.sleep(POLL_S)


@router.get(
    "/stream",
    response_class=StreamingResponse,
    dependencies=[Depends(require_role(*ALL_ROLES))],
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"}},
)
def stream(
    request: Request,
    db: DatabaseDep,
    topics: str = Query(
        ",".join(TOPICS), pattern=r"^[a-z,]+$", description="comma-separated: " + ", ".join(TOPICS)
    ),
    after: int | None = Query(None, ge=0, description="resume after this change id"),
    last_event_id: str | None = Header(None, alias="Last-Event-ID"),
    accept: str | None = Header(None),
) -> StreamingResponse:
    """``event: alarm|order|freshness|rules``, ``data:`` the change as JSON, ``id:`` the change id.

    The stream stays open for clients that ask for ``Accept: text/event-stream`` (EventSource, the pages);
    any other client gets the changes after ``after`` (or none) and the end of the response.
    """
    wanted = tuple(t for t in topics.split(",") if t in TOPICS) or TOPICS
    if last_event_id and last_event_id.isdigit():
        after = int(last_event_id)
    return StreamingResponse(
        _events(request, db, after, wanted, "text/event-stream" in (accept or "")),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
