"""Outbox delivery to a signed webhook (a real local HTTP server) with retry/backoff; SLA escalation records."""

from __future__ import annotations

import datetime as dt
import functools
import http.server
import json
import threading
from collections.abc import Iterator
from typing import ClassVar

import pytest
import sqlalchemy as sa

from facility.contract import AssetKind, AssetRef, Event, EventType
from maintenance.db import Database
from maintenance.escalation import check_sla
from maintenance.handler import handle_event
from maintenance.models import Crew, Escalation, OutboxMessage
from maintenance.notify import (
    SIGNATURE_HEADER,
    WebhookError,
    deliver_outbox,
    post_webhook,
    prune_outbox,
    verify,
)
from maintenance.sla import default_targets
from tests.maint_helpers import T0, seed

pytestmark = pytest.mark.integration
SECRET = "crew-secret-0123456789"
EL = AssetRef("lvyuan", "b1", AssetKind.ELEVATOR, "lvyuan-b1-el1")


class Hook(http.server.BaseHTTPRequestHandler):
    fail_first = 0
    status_when_failing = 503
    received: ClassVar[list[tuple[bytes, bool]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((body, verify(SECRET, body, self.headers[SIGNATURE_HEADER])))
        code = self.status_when_failing if len(type(self).received) <= type(self).fail_first else 204
        self.send_response(code)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[tuple[str, type[Hook]]]:
    handler = type("H", (Hook,), {"received": [], "fail_first": 2})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", handler
    server.shutdown()
    server.server_close()


@pytest.fixture
def db(tmp_path) -> Iterator[Database]:
    database = Database.open(f"sqlite:///{tmp_path / 'n.db'}")
    with database.transaction() as s:
        seed(s)
    yield database
    database.dispose()


def test_signed_webhook_retries_with_backoff_then_delivers(db: Database, hook) -> None:
    url, handler = hook
    with db.transaction() as s:
        c = s.get_one(Crew, "lift-a")
        c.webhook_url, c.webhook_secret = url, SECRET
        handle_event(s, Event(EL, int(T0.timestamp() * 1000), EventType.FAULT, "entrapment"), T0)
    sleeps: list[float] = []
    send = functools.partial(post_webhook, backoff_s=0.01, sleep=sleeps.append)
    with db.transaction() as s:
        assert deliver_outbox(s, None, T0, webhook=send) == 1
    assert sleeps == [0.01, 0.02]
    assert len(handler.received) == 3 and all(ok for _, ok in handler.received)
    payload = json.loads(handler.received[-1][0])
    assert (payload["event"], payload["crew"], payload["priority"], payload["asset"]) == (
        "assigned",
        "lift-a",
        "p1",
        EL.asset,
    )
    with db.transaction() as s:
        (msg,) = s.scalars(sa.select(OutboxMessage).where(OutboxMessage.channel == "webhook")).all()
        assert (msg.topic, msg.delivered_at, msg.attempts) == ("facility/crews/lift-a/orders", T0, 1)
        assert deliver_outbox(s, None, T0, webhook=send) == 0
        mqtt_row = s.scalars(sa.select(OutboxMessage).where(OutboxMessage.channel == "mqtt")).one()
        assert mqtt_row.delivered_at is None  # no publisher given: the MQTT copy waits for its own delivery
        assert prune_outbox(s, T0) == 0  # delivered at T0, not before
        assert prune_outbox(s, T0 + dt.timedelta(seconds=1)) == 1  # the webhook copy; the pending one stays
        assert s.scalars(sa.select(OutboxMessage.channel)).all() == ["mqtt"]


def test_refused_webhook_stays_queued(db: Database, hook) -> None:
    url, handler = hook
    handler.status_when_failing, handler.fail_first = 404, 1
    with pytest.raises(WebhookError, match="refused the notification: HTTP 404"):
        post_webhook(url, SECRET, b"{}", sleep=lambda s: None)
    with db.transaction() as s:
        c = s.get_one(Crew, "lift-a")
        c.webhook_url, c.webhook_secret = url + "x", SECRET
        handle_event(s, Event(EL, int(T0.timestamp() * 1000), EventType.FAULT, "door_fault"), T0)
    gone = functools.partial(post_webhook, attempts=2, backoff_s=0.0, sleep=lambda s: None)
    with db.transaction() as s:
        c = s.get_one(Crew, "lift-a")
        c.webhook_url = "http://127.0.0.1:9/closed"
        assert deliver_outbox(s, None, T0, webhook=gone) == 0
    with db.transaction() as s:
        c = s.get_one(Crew, "lift-a")
        c.webhook_url = url
        assert deliver_outbox(s, None, T0, webhook=gone) == 1
        (msg,) = s.scalars(sa.select(OutboxMessage).where(OutboxMessage.channel == "webhook")).all()
        assert msg.attempts == 2


def test_breaches_are_escalated_once_while_they_happen(db_url: str) -> None:
    database = Database.open(db_url)
    try:
        with database.transaction() as s:
            seed(s)
            handle_event(s, Event(EL, int(T0.timestamp() * 1000), EventType.FAULT, "entrapment"), T0)
        targets = default_targets()
        with database.transaction() as s:
            assert check_sla(s, T0 + dt.timedelta(minutes=10), targets) == []  # p1: due at exactly 10 min
        with database.transaction() as s:
            (e,) = check_sla(s, T0 + dt.timedelta(minutes=11), targets)
            assert (e.clock, e.due_at, e.engineer_id) == (
                "response",
                T0 + dt.timedelta(minutes=10),
                "eng-wang",
            )
        with database.transaction() as s:
            assert check_sla(s, T0 + dt.timedelta(hours=2), targets) == []
            (r,) = check_sla(s, T0 + dt.timedelta(hours=25), targets)
            assert r.clock == "resolution"
            assert s.scalar(sa.select(sa.func.count()).select_from(Escalation)) == 2
            topics = sorted(
                m.topic for m in s.scalars(sa.select(OutboxMessage)) if m.payload["event"] == "sla_breach"
            )
            assert topics == [
                "facility/engineers/eng-wang/escalations",
                "facility/engineers/eng-wang/escalations",
                "facility/escalations/lvyuan",
                "facility/escalations/lvyuan",
            ]
    finally:
        database.dispose()
