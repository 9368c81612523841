"""The local spool: batches of line protocol kept on disk while InfluxDB cannot take them.

SQLite in WAL mode with ``synchronous=FULL``: a batch is on disk when :meth:`Spool.append` returns, so the
messages in it may be acknowledged. Batches are replayed oldest first. The spool is bounded by a number of
lines (points); :meth:`Spool.has_room` tells the writer when to stop acknowledging instead.
"""

from __future__ import annotations

import threading
from pathlib import Path

from ingest.deadletters import connect

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    n INTEGER NOT NULL,
    body TEXT NOT NULL
);
"""


class Spool:
    def __init__(self, path: Path, max_rows: int) -> None:
        if max_rows <= 0:
            raise ValueError(f"spool_max_rows must be positive, but was {max_rows!r}")
        self.path = path
        self.max_rows = max_rows
        self._conn = connect(path)
        self._lock = threading.Lock()
        with self._lock:
            self._conn.executescript(_SCHEMA)
            row = self._conn.execute("SELECT COALESCE(SUM(n), 0), COUNT(*) FROM spool").fetchone()
        self._depth = int(row[0])
        self._batches = int(row[1])

    def close(self) -> None:
        self._conn.close()

    @property
    def depth(self) -> int:
        """Lines (points) waiting in the spool."""
        return self._depth

    @property
    def batches(self) -> int:
        return self._batches

    def has_room(self, n: int) -> bool:
        return self._depth + n <= self.max_rows

    def append(self, lines: list[str]) -> None:
        if not lines:
            return
        with self._lock:
            self._conn.execute("INSERT INTO spool (n, body) VALUES (?, ?)", (len(lines), "\n".join(lines)))
        self._depth += len(lines)
        self._batches += 1

    def head(self) -> tuple[int, list[str]] | None:
        """The oldest batch: (id, lines), or None when empty."""
        with self._lock:
            row = self._conn.execute("SELECT id, body FROM spool ORDER BY id LIMIT 1").fetchone()
        if row is None:
            return None
        return int(row[0]), str(row[1]).split("\n")

    def pop(self, batch_id: int) -> None:
        with self._lock:
            row = self._conn.execute("SELECT n FROM spool WHERE id = ?", (batch_id,)).fetchone()
            if row is None:
                return
            self._conn.execute("DELETE FROM spool WHERE id = ?", (batch_id,))
        self._depth -= int(row[0])
        self._batches -= 1
