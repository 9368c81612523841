"""Typed dependencies for routes."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from api.context import AppContext
from ingest.influx import InfluxClient
from maintenance.db import Database
from maintenance.notify import deliver_outbox


def get_context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


ContextDep = Annotated[AppContext, Depends(get_context)]


def get_influx(ctx: ContextDep) -> InfluxClient:
    return ctx.influx


InfluxDep = Annotated[InfluxClient, Depends(get_influx)]


# --- maintenance store (SQL): one session and one transaction per request -----------------------------

_DB_LOCK = threading.Lock()
log = logging.getLogger(__name__)


def get_database(ctx: ContextDep) -> Database:
    """The store of ``Settings.sqlalchemy_url``, migrated and opened on first use (kept on ``ctx.extras``)."""
    db = ctx.extras.get("db")
    if db is None:
        with _DB_LOCK:
            db = ctx.extras.get("db")
            if db is None:
                db = ctx.extras["db"] = Database.open(ctx.settings.sqlalchemy_url)
    assert isinstance(db, Database)
    return db


DatabaseDep = Annotated[Database, Depends(get_database)]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def get_clock(ctx: ContextDep) -> Callable[[], dt.datetime]:
    """``ctx.extras['clock']`` when set (tests, accelerated demos), else the UTC wall clock."""
    clock: Callable[[], dt.datetime] = ctx.extras.get("clock", _utcnow)
    return clock


ClockDep = Annotated[Callable[[], dt.datetime], Depends(get_clock)]


def get_session(db: DatabaseDep, ctx: ContextDep, clock: ClockDep) -> Iterator[Session]:
    """Committed when the route returns, rolled back when it raises; then MQTT notifications in the outbox
    go out through ``ctx.extras['publisher']`` when one is registered (webhooks: the service loop)."""
    with db.sessions() as session, session.begin():
        yield session
    publisher = ctx.extras.get("publisher")
    if publisher is not None:
        try:
            with db.transaction() as s:
                deliver_outbox(s, publisher, clock(), webhook=None)  # webhooks: the service loop
        except Exception:
            log.exception("delivering notifications failed; they stay queued in the outbox")


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
