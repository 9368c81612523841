"""Dead letters: every message the ingester refused, kept with its topic, raw payload, reason and time.

A SQLite file (WAL mode) under ``var/``; several ingest workers may share it (SQLite serialises writers).
A message is acknowledged to the broker only after its dead letter is committed here. A redelivered message
(same topic, same payload) is stored once and its ``deliveries`` counted, so counts are per message.

Retention (:class:`Retention`): at most ``max_rows`` letters and none older than ``max_age_ms`` (by the time
first received); the oldest go first. It is enforced in the transaction that inserts, at a cost that does not
grow with the table: the row count is kept in ``dead_letter_meta`` (no ``COUNT(*)``), the excess is found by
walking the primary key from the oldest end, and old letters through an index on ``received_at_ms``. Letters
pruned are counted per reason in ``dead_letter_pruned``, so :meth:`DeadLetterStore.counts` still counts every
letter ever stored.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

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
CREATE INDEX IF NOT EXISTS dead_letters_received ON dead_letters (received_at_ms);
CREATE TABLE IF NOT EXISTS dead_letter_pruned (reason TEXT PRIMARY KEY, letters INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS dead_letter_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
DAY_MS = 86_400_000
T = TypeVar("T")


@dataclass(frozen=True)
class Retention:
    """How many dead letters to keep and for how long (0 = no limit)."""

    max_rows: int = 0
    max_age_ms: int = 0

    def __post_init__(self) -> None:
        if self.max_rows < 0:
            raise ValueError(
                f"dead-letter max_rows must be 0 (no limit) or positive, but was {self.max_rows!r}:"
                " set FACILITY_DEAD_LETTER_MAX_ROWS"
            )
        if self.max_age_ms < 0:
            raise ValueError(
                f"dead-letter max age must be 0 (no limit) or positive, but was {self.max_age_ms!r} ms:"
                " set FACILITY_DEAD_LETTER_MAX_AGE_DAYS"
            )

    @property
    def bounded(self) -> bool:
        return bool(self.max_rows or self.max_age_ms)


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
    """The dead-letter table. ``retention`` None (the API's readers) never prunes; ``clock`` gives unix
    seconds for the age limit; ``on_prune`` hears ``{reason: letters}`` after each prune that removed some."""

    def __init__(
        self,
        path: Path,
        retention: Retention | None = None,
        clock: Callable[[], float] = time.time,
        on_prune: Callable[[dict[str, int]], None] | None = None,
    ) -> None:
        self.path = path
        self.retention = retention or Retention()
        self.clock = clock
        self.on_prune = on_prune
        self._conn = connect(path)
        self._lock = threading.Lock()
        with self._lock:
            self._conn.executescript(_SCHEMA)
            if self.retention.bounded or self._rows() is None:
                self._write(self._recount)  # a file from before retention, or rows deleted by hand

    def close(self) -> None:
        self._conn.close()

    # ------------------------------------------------------------------ writing
    def add_many(self, letters: Iterable[DeadLetter]) -> int:
        """Store letters in one transaction (committed on return), pruning in it; returns how many."""
        rows = [
            (d.topic, d.payload, d.reason, d.message, d.received_at_ms, hashlib.sha256(d.payload).digest())
            for d in letters
        ]
        if not rows:
            return 0

        def insert() -> dict[str, int]:
            c = self._conn
            before = c.execute("SELECT COALESCE(MAX(id), 0) FROM dead_letters").fetchone()[0]
            c.executemany(
                "INSERT INTO dead_letters (topic, payload, reason, message, received_at_ms, digest)"
                " VALUES (?,?,?,?,?,?) ON CONFLICT (topic, digest) DO UPDATE SET deliveries = deliveries + 1",
                rows,
            )
            # AUTOINCREMENT ids only grow, so the new letters are exactly those above the old maximum
            (added,) = c.execute("SELECT COUNT(*) FROM dead_letters WHERE id > ?", (before,)).fetchone()
            self._set_rows((self._rows() or 0) + added)
            return self._prune(self._now_ms())

        with self._lock:
            pruned = self._write(insert)
        self._report(pruned)
        return len(rows)

    def prune(self, now_ms: int | None = None) -> dict[str, int]:
        """Apply the retention now (also done by every insert); returns ``{reason: letters removed}``."""
        now_ms = self._now_ms() if now_ms is None else now_ms
        with self._lock:
            pruned = self._write(lambda: self._prune(now_ms)) if self._due(now_ms) else {}
        self._report(pruned)
        return pruned

    # ------------------------------------------------------------------ reading
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
        """Dead letters per reason, ever stored: those kept plus those retention removed."""
        total = Counter(self.kept_counts())
        total.update(self.pruned_counts())
        return dict(total)

    def kept_counts(self) -> dict[str, int]:
        """Dead letters per reason still in the table (what :meth:`list` can show)."""
        with self._lock:
            rows = self._conn.execute("SELECT reason, COUNT(*) FROM dead_letters GROUP BY reason").fetchall()
        return {r: n for r, n in rows}

    def pruned_counts(self) -> dict[str, int]:
        """Dead letters per reason removed by retention."""
        with self._lock:
            rows = self._conn.execute("SELECT reason, letters FROM dead_letter_pruned").fetchall()
        return {r: n for r, n in rows}

    def kept(self) -> int:
        """How many dead letters the table holds."""
        with self._lock:
            return self._rows() or 0

    # ------------------------------------------------------------------ inside the lock
    def _write(self, work: Callable[[], T]) -> T:
        """Run ``work`` in one write transaction: committed, or rolled back if it raises."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            out = work()
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")
        return out

    def _rows(self) -> int | None:
        row = self._conn.execute("SELECT value FROM dead_letter_meta WHERE key = 'rows'").fetchone()
        return None if row is None else int(row[0])

    def _set_rows(self, n: int) -> None:
        self._conn.execute(
            "INSERT INTO dead_letter_meta (key, value) VALUES ('rows', ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (n,),
        )

    def _recount(self) -> None:
        self._set_rows(self._conn.execute("SELECT COUNT(*) FROM dead_letters").fetchone()[0])

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def _due(self, now_ms: int) -> bool:
        """Whether :meth:`_prune` would remove anything (two index probes, no write lock)."""
        keep = self.retention
        if keep.max_rows and (self._rows() or 0) > keep.max_rows:
            return True
        return bool(
            keep.max_age_ms
            and self._conn.execute(
                "SELECT 1 FROM dead_letters WHERE received_at_ms < ? LIMIT 1", (now_ms - keep.max_age_ms,)
            ).fetchone()
        )

    def _prune(self, now_ms: int) -> dict[str, int]:
        c, keep = self._conn, self.retention
        removed: Counter[str] = Counter()
        if keep.max_age_ms:
            cutoff = now_ms - keep.max_age_ms
            # no GROUP BY: SQLite would answer it by scanning the whole reason index
            old = c.execute("SELECT reason FROM dead_letters WHERE received_at_ms < ?", (cutoff,)).fetchall()
            if old:
                c.execute("DELETE FROM dead_letters WHERE received_at_ms < ?", (cutoff,))
                removed.update(r for (r,) in old)
        rows = (self._rows() or 0) - removed.total()
        if keep.max_rows and rows > keep.max_rows:
            oldest = c.execute(
                "SELECT id, reason FROM dead_letters ORDER BY id LIMIT ?", (rows - keep.max_rows,)
            ).fetchall()
            c.execute("DELETE FROM dead_letters WHERE id <= ?", (oldest[-1][0],))
            removed.update(r for _, r in oldest)
            rows = keep.max_rows
        if removed:
            self._set_rows(rows)
            c.executemany(
                "INSERT INTO dead_letter_pruned (reason, letters) VALUES (?, ?)"
                " ON CONFLICT (reason) DO UPDATE SET letters = letters + excluded.letters",
                sorted(removed.items()),
            )
        return dict(removed)

    def _report(self, pruned: dict[str, int]) -> None:
        if pruned and self.on_prune is not None:
            self.on_prune(pruned)
