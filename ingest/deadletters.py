"""Dead letters: every message the ingester refused, kept with its topic, raw payload, reason and time.

A SQLite file (WAL mode) under ``var/``; several ingest workers may share it (SQLite serialises writers).
A message is acknowledged to the broker only after its dead letter is committed here. A redelivered message
(same topic, same payload) is stored once and its ``deliveries`` counted, so counts are per message.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    reason TEXT NOT NULL,
    message TEXT NOT NULL,
    received_at_ms INTEGER NOT NULL,
    digest BLOB NOT NULL,
    deliveries INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS dead_letters_reason ON dead_letters (reason, id);
CREATE UNIQUE INDEX IF NOT EXISTS dead_letters_identity ON dead_letters (topic, digest);
"""


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    payload: bytes
    reason: str
    message: str
    received_at_ms: int
    id: int | None = None


def connect(path: Path) -> sqlite3.Connection:
    """A WAL-mode connection, safe to share between threads behind a lock."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=30.0, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


class DeadLetterStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = connect(path)
        self._lock = threading.Lock()
        with self._lock:
            self._conn.executescript(_SCHEMA)

    def close(self) -> None:
        self._conn.close()

    def add_many(self, letters: Iterable[DeadLetter]) -> int:
        """Store letters in one transaction (committed on return); returns how many."""
        rows = [
            (d.topic, d.payload, d.reason, d.message, d.received_at_ms, hashlib.sha256(d.payload).digest())
            for d in letters
        ]
        if not rows:
            return 0
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.executemany(
                "INSERT INTO dead_letters (topic, payload, reason, message, received_at_ms, digest)"
                " VALUES (?,?,?,?,?,?) ON CONFLICT (topic, digest) DO UPDATE SET deliveries = deliveries + 1",
                rows,
            )
            self._conn.execute("COMMIT")
        return len(rows)

    def list(self, reason: str | None = None, limit: int = 100) -> list[DeadLetter]:
        """Newest first, optionally only one reason."""
        q = "SELECT topic, payload, reason, message, received_at_ms, id FROM dead_letters"
        args: tuple[object, ...] = ()
        if reason:
            q += " WHERE reason = ?"
            args = (reason,)
        q += " ORDER BY id DESC LIMIT ?"
        with self._lock:
            rows = self._conn.execute(q, (*args, limit)).fetchall()
        return [DeadLetter(r[0], bytes(r[1]), r[2], r[3], r[4], r[5]) for r in rows]

    def counts(self) -> dict[str, int]:
        """Dead letters per reason."""
        with self._lock:
            rows = self._conn.execute("SELECT reason, COUNT(*) FROM dead_letters GROUP BY reason").fetchall()
        return {r: n for r, n in rows}
