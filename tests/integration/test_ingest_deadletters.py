"""Dead-letter retention in the relational store (SQLite and PostgreSQL): at most N letters (the newest, content intact), none older
than the age limit (injected clock), pruned letters still counted per reason; and the ingester wires it to
its settings and to the Prometheus counter, against the real broker and InfluxDB."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.app import create_app
from api.context import AppContext
from facility.services.mosquitto import MosquittoServer
from ingest.deadletters import DAY_MS, DeadLetter, DeadLetterStore, Retention
from ingest.influx import InfluxClient
from ingest.service import Ingester, dead_letter_store
from ingest.testkit import make_messages, publish
from maintenance.tokens import Role
from tests.ingest_support import ingest_settings, own_broker_fixture  # noqa: F401
from tests.support import make_token, wait_until

pytestmark = pytest.mark.integration
REASONS = ("bad_json", "too_large", "not_finite")
NOW_MS = 1_793_610_000_000  # 2026-11-02 09:00 UTC


class Clock:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> float:
        return self.ms / 1000


def letter(i: int, received_at_ms: int = NOW_MS) -> DeadLetter:
    payload = bytes([i % 256, 0, 255]) + f"payload {i}".encode() + b"\xc3\x28"  # binary, not UTF-8
    return DeadLetter(
        f"facility/e/b/elevator/a{i}/telemetry", payload, REASONS[i % 3], f"why {i}", received_at_ms
    )


def content(letters: list[DeadLetter]) -> list[tuple[str, bytes, str, str, int]]:
    return [(d.topic, d.payload, d.reason, d.message, d.received_at_ms) for d in letters]


def table_rows(store: DeadLetterStore) -> int:
    with store.engine.connect() as c:
        return int(c.execute(sa.text("SELECT COUNT(*) FROM dead_letters")).scalar_one())


def test_over_the_row_limit_the_newest_n_stay_intact_and_all_stay_counted(db_url: str) -> None:
    heard: list[dict[str, int]] = []
    store = DeadLetterStore.open(db_url, Retention(max_rows=50), clock=Clock(NOW_MS), on_prune=heard.append)
    sent: list[DeadLetter] = []
    deliveries: Counter[str] = Counter()
    i = 0
    for size in (7, 1, 30, 41, 2, 39):
        batch = [letter(n) for n in range(i, i + size)]
        i += size
        redelivered = sent[-3:]  # still kept: counted as deliveries, no new row (the ids skip ahead)
        store.add_many([*batch, *redelivered])
        deliveries.update(d.message for d in [*batch, *redelivered])
        sent += batch
        assert store.kept() == table_rows(store) == min(len(sent), 50)
    assert len(sent) == 120
    newest_first = list(reversed(sent[-50:]))
    assert content(store.list(limit=1000)) == content(newest_first)
    assert [d.deliveries for d in store.list(limit=1000)] == [deliveries[d.message] for d in newest_first]
    assert max(deliveries.values()) == 3
    assert content(store.list(reason="too_large", limit=1000)) == content(
        [d for d in newest_first if d.reason == "too_large"]
    )
    assert store.counts() == dict(Counter(d.reason for d in sent)) == {r: 40 for r in REASONS}
    removed = dict(Counter(d.reason for d in sent[:70]))
    assert store.pruned_counts() == removed
    assert sum((Counter(h) for h in heard), Counter()) == Counter(removed)
    store.close()
    again = DeadLetterStore.open(db_url)  # a reader (the API): the same view, nothing pruned by opening
    assert (again.kept(), again.counts(), again.pruned_counts()) == (50, {r: 40 for r in REASONS}, removed)
    again.close()


def test_letters_older_than_the_limit_go_on_insert_and_on_prune(tmp_path: Path) -> None:
    clock = Clock(NOW_MS)  # (SQLite only: the row-limit test above runs on both stores)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = DeadLetterStore.open(url, Retention(max_age_ms=30 * DAY_MS), clock=clock)
    ages_days = [40, 31, 30, 29, 1, 0]
    store.add_many([letter(i, NOW_MS - d * DAY_MS) for i, d in enumerate(ages_days)])
    # inserting prunes at once: older than 30 days goes, exactly 30 days old stays
    assert [d.message for d in store.list()] == ["why 5", "why 4", "why 3", "why 2"]
    assert store.pruned_counts() == {"bad_json": 1, "too_large": 1}
    clock.ms = NOW_MS + DAY_MS + 1  # a day later, no new dead letter: the periodic prune
    assert store.prune() == {"not_finite": 1, "bad_json": 1}  # 30 and 29 days old then
    assert [d.message for d in store.list()] == ["why 5", "why 4"]
    assert store.prune() == {}
    assert store.prune(now_ms=NOW_MS + 40 * DAY_MS) == {"too_large": 1, "not_finite": 1}
    assert (store.kept(), store.counts()) == (0, {"bad_json": 2, "too_large": 2, "not_finite": 2})
    store.add_many([letter(9, NOW_MS + 40 * DAY_MS)])
    assert content(store.list()) == content([letter(9, NOW_MS + 40 * DAY_MS)])
    store.close()


def test_two_writers_share_the_store_and_big_payloads_keep_only_their_start(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    keep = Retention(max_rows=20)
    a = DeadLetterStore.open(url, keep, clock=Clock(NOW_MS), payload_max_bytes=16)
    b = DeadLetterStore.open(url, keep, clock=Clock(NOW_MS), payload_max_bytes=16)
    sent = [letter(n) for n in range(45)]
    for n, d in enumerate(sent):
        (a if n % 2 else b).add_many([d])
        assert table_rows(a) == a.kept() == b.kept() == min(n + 1, 20)
    kept = b.list(limit=100)
    assert [(d.topic, d.reason, d.message) for d in kept] == [
        (d.topic, d.reason, d.message) for d in reversed(sent[-20:])
    ]
    assert [d.payload for d in kept] == [d.payload[:16] for d in reversed(sent[-20:])]
    assert [(d.size, d.sha256) for d in kept] == [
        (len(d.payload), hashlib.sha256(d.payload).digest()) for d in reversed(sent[-20:])
    ]
    assert a.counts() == dict(Counter(d.reason for d in sent))
    # a flooding device: counted per reason and per device, never stored
    a.add_suppressed({"bad_json": 3}, {"facility/e/b/elevator/a1": 3}, NOW_MS)
    b.add_suppressed({"bad_json": 2, "too_large": 1}, {"facility/e/b/elevator/a1": 3}, NOW_MS + 5)
    assert a.suppressed_counts() == {"bad_json": 5, "too_large": 1}
    assert a.floods() == [
        {"device": "facility/e/b/elevator/a1", "first_ms": NOW_MS, "last_ms": NOW_MS + 5, "suppressed": 6}
    ]
    assert b.counts() == dict(Counter(d.reason for d in sent) + Counter(bad_json=5, too_large=1))
    assert a.kept() == 20
    a.close()
    b.close()


def test_bad_retention_settings_say_which_setting() -> None:
    with pytest.raises(
        ValueError, match=r"max_rows must be 0 \(no limit\) or positive, but was -1.*MAX_ROWS"
    ):
        Retention(max_rows=-1)
    with pytest.raises(ValueError, match="FACILITY_DEAD_LETTER_MAX_AGE_DAYS"):
        Retention(max_age_ms=-5)


def test_the_ingester_keeps_its_setting_and_counts_what_it_pruned(
    tmp_path: Path, own_broker: MosquittoServer, influx: InfluxClient
) -> None:
    settings = ingest_settings(
        tmp_path,
        own_broker,
        influx,
        ingest_client_id="t-dl-retention",
        dead_letter_max_rows=10,
    )
    msgs = make_messages(120, np.random.default_rng(5), malformed_every=4)
    expected = Counter(m.reason for m in msgs if m.reason)
    assert sum(expected.values()) == 30
    ing = Ingester(settings)
    ing.start()
    try:
        assert wait_until(lambda: ing.mqtt.connected)
        publish(own_broker.host, own_broker.port, msgs, client_id="dl-pub")
        assert wait_until(lambda: ing.metrics.n_acked == len(msgs))
    finally:
        ing.stop()
    pruned = {
        r: ing.metrics.registry.get_sample_value("ingest_dead_letters_pruned_total", {"reason": r}) or 0
        for r in expected
    }
    store = dead_letter_store(settings)
    assert store.kept() == table_rows(store) == 10
    assert store.counts() == dict(expected)  # all 30 still counted
    assert store.pruned_counts() == {r: n for r, n in pruned.items() if n} and sum(pruned.values()) == 20
    kept = {(d.id, d.topic, d.size) for d in store.list(limit=1000)}
    assert {len(d.payload) for d in store.list(limit=1000)} <= {4096} | {
        d.size for d in store.list(limit=1000)
    }
    store.close()
    ctx = AppContext(settings, InfluxClient(influx.url, influx.database))
    with TestClient(create_app(ctx=ctx)) as client:
        client.headers["Authorization"] = f"Bearer {make_token(settings, Role.ENGINEER)}"
        listed = client.get("/api/v1/dead-letters", params={"limit": 1000}).json()
        stats = client.get("/api/v1/ingest/stats").json()
    ctx.close()
    assert {(d["id"], d["topic"], d["payload_bytes"]) for d in listed} == kept
    assert stats["dead_letters_by_reason"] == dict(expected)
    assert stats["dead_letters_pruned_by_reason"] == {r: n for r, n in pruned.items() if n}
