"""Two deliveries of the outbox at once (the listener's after an event and the service's round) send each
notification once, on SQLite (whose SELECT takes no lock and which has no SKIP LOCKED) and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator

import pytest

from maintenance.db import Database
from maintenance.models import OutboxMessage
from maintenance.notify import deliver_outbox

pytestmark = pytest.mark.integration
NOW = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database.open(db_url)
    yield database
    database.dispose()


class SlowPublisher:
    """Records what it sends and takes a while, so a second delivery has time to read the same rows."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self._lock = threading.Lock()

    def publish(self, topic: str, payload: bytes) -> None:
        time.sleep(0.3)
        with self._lock:
            self.sent.append(topic)


def test_two_deliveries_at_once_send_each_notification_once(db: Database) -> None:
    with db.transaction() as s:
        for i in range(3):
            s.add(OutboxMessage(topic=f"facility/crews/c{i}/orders", payload={"order": i}, created_at=NOW))
    publisher = SlowPublisher()
    counts: list[int] = []

    def deliver() -> None:
        with db.transaction() as s:
            counts.append(deliver_outbox(s, publisher, NOW))

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(publisher.sent) == [f"facility/crews/c{i}/orders" for i in range(3)]
    assert sum(counts) == 3
    with db.transaction() as s:
        rows = s.query(OutboxMessage).order_by(OutboxMessage.id).all()
        assert [(r.delivered_at, r.attempts) for r in rows] == [(NOW, 1)] * 3
