"""Outbox delivery to a signed webhook (a real local HTTP server that checks signatures) with retry/backoff;
replayed and tampered requests refused; SLA escalation records."""

from __future__ import annotations

import datetime as dt
import functools
import http.server
import json
import threading
import time
from collections.abc import Iterator
from typing import ClassVar

import httpx
import pytest
import sqlalchemy as sa

from facility.contract import AssetKind, AssetRef, Event, EventType
from maintenance.db import Database
from maintenance.escalation import check_sla
from maintenance.handler import handle_event
from maintenance.models import Crew, Escalation, OutboxMessage
from maintenance.notify import WebhookError, deliver_outbox, post_webhook, prune_outbox
from maintenance.signing import SIGNATURE_HEADER, SignatureError, verify_signature
from maintenance.sla import default_targets
from tests.maint_helpers import T0, seed

pytestmark = pytest.mark.integration
SECRET = "crew-secret-0123456789"
EL = AssetRef("lvyuan", "b1", AssetKind.ELEVATOR, "lvyuan-b1-el1")


class Hook(http.server.BaseHTTPRequestHandler):
    """A crew's receiver: checks the signature as docs/maintenance.md says (401 when refused)."""

    fail_first = 0
    status_when_failing = 503
    #: the receiver's clock is ahead of the real one by this much (a request replayed later)
    skew_s = 0.0
    #: (body, signature header, "ok" or why it was refused)
    received: ClassVar[list[tuple[bytes, str | None, str]]] = []

    def do_POST(self) -> None:
        cls = type(self)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        header = self.headers.get(SIGNATURE_HEADER)
        try:
            verify_signature(SECRET, header, body, now=time.time() + cls.skew_s, tolerance_s=300)
        except SignatureError as exc:
            cls.received.append((body, header, str(exc)))
            self.send_response(401)
        else:
            cls.received.append((body, header, "ok"))
            self.send_response(self.status_when_failing if len(cls.received) <= cls.fail_first else 204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[tuple[str, type[Hook]]]:
    handler = type("H", (Hook,), {"received": [], "fail_first": 2})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
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
    assert [verdict for _, _, verdict in handler.received] == ["ok", "ok", "ok"]
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


def test_each_attempt_is_signed_with_its_own_time(hook) -> None:
    url, handler = hook
    ticks = iter([T0.timestamp(), T0.timestamp() + 1.9, T0.timestamp() + 7.2])
    handler.skew_s = T0.timestamp() - time.time()  # the receiver lives at T0 too; it fails the first two
    assert (
        post_webhook(url, SECRET, b'{"order":1}', backoff_s=0.0, sleep=lambda s: None, clock=ticks.__next__)
        == 3
    )
    stamps = [h.split(",")[0] for _, h, _ in handler.received if h]
    t0 = int(T0.timestamp())
    assert stamps == [f"t={t0}", f"t={t0 + 1}", f"t={t0 + 7}"]
    assert [v for _, _, v in handler.received] == ["ok", "ok", "ok"]


def test_replayed_tampered_and_unsigned_requests_are_refused(hook) -> None:
    url, handler = hook
    handler.fail_first = 0
    body = b'{"event":"assigned","order":42,"crew":"lift-a"}'
    assert post_webhook(url, SECRET, body, sleep=lambda s: None) == 1
    ((got, header, verdict),) = handler.received
    assert (got, verdict) == (body, "ok") and header is not None

    def replay(b: bytes, headers: dict[str, str]) -> int:
        return httpx.post(url, content=b, headers={"Content-Type": "application/json", **headers}).status_code

    handler.skew_s = 6 * 60.0  # the same request captured and sent again six minutes later
    assert replay(body, {SIGNATURE_HEADER: header}) == 401
    handler.skew_s = 0.0
    assert replay(body.replace(b"42", b"43"), {SIGNATURE_HEADER: header}) == 401
    assert replay(body, {}) == 401
    verdicts = [v for _, _, v in handler.received[1:]]
    assert verdicts[0].startswith("signature too old: signed 36")  # 360 s, or 361 if the second turned
    assert verdicts[1:] == [
        "bad signature: the body or timestamp was altered, or the secret differs from the crew's",
        "missing X-Facility-Signature header: the request is not signed",
    ]
    with pytest.raises(SignatureError, match="signature too old"):  # the helper alone, on what was captured
        verify_signature(SECRET, header, body, now=int(header.split(",")[0][2:]) + 301)


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
