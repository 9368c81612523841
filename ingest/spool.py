"""The local spool: batches of line protocol kept on disk while InfluxDB cannot take them.

SQLite in WAL mode with ``synchronous=FULL``: a batch is on disk when :meth:`Spool.append` returns, so the
messages in it may be acknowledged. Batches are replayed oldest first. The spool is bounded by a number of
lines (points); :meth:`Spool.has_room` tells the writer when to stop acknowledging instead.

Each batch keeps the topic and payload of the message every line came from (``src``), so a line InfluxDB
refuses on replay becomes a dead letter with its original topic and payload. (A line's message was valid
JSON, so its payload is UTF-8 text.)
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import orjson

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    n INTEGER NOT NULL,
    body BLOB NOT NULL
);
"""
#: (topic, payload) of the message a line came from
Source = tuple[str, bytes]


def connect(path: Path) -> sqlite3.Connection:
    """A WAL-mode connection with ``synchronous=FULL``, safe to share between threads behind a lock."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=30.0, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


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
            cols = {r[1] for r in self._conn.execute("PRAGMA table_info(spool)")}
            if "src" not in cols:  # a spool from before sources were kept
                self._conn.execute("ALTER TABLE spool ADD COLUMN src BLOB")
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

    def append(self, lines: list[str], sources: Sequence[Source] | None = None) -> None:
        """Append one batch; ``sources[i]`` is the (topic, payload) line ``i`` came from."""
        if not lines:
            return
        src = None
        if sources is not None:
            if len(sources) != len(lines):
                raise ValueError(f"{len(sources)} sources for {len(lines)} lines")
            index: dict[Source, int] = {}
            owners = [index.setdefault(x, len(index)) for x in sources]
            uniq = list(index)
            src = orjson.dumps(
                {"t": [t for t, _ in uniq], "p": [p.decode("utf-8", "replace") for _, p in uniq], "o": owners}
            )
        with self._lock:
            self._conn.execute(
                "INSERT INTO spool (n, body, src) VALUES (?, ?, ?)", (len(lines), orjson.dumps(lines), src)
            )
        self._depth += len(lines)
        self._batches += 1

    def head(self) -> tuple[int, list[str], list[Source] | None] | None:
        """The oldest batch: (id, lines, each line's source or None), or None when empty."""
        with self._lock:
            row = self._conn.execute("SELECT id, body, src FROM spool ORDER BY id LIMIT 1").fetchone()
        if row is None:
            return None
        body = row[1]
        # a JSON list (a line may hold a newline inside a quoted string); older spools joined lines by "\n"
        lines = orjson.loads(body) if isinstance(body, bytes) else str(body).split("\n")
        sources = None
        if row[2] is not None:
            src = orjson.loads(row[2])
            uniq = [(t, p.encode()) for t, p in zip(src["t"], src["p"], strict=True)]
            sources = [uniq[o] for o in src["o"]]
        return int(row[0]), lines, sources

    def pop(self, batch_id: int) -> None:
        with self._lock:
            row = self._conn.execute("SELECT n FROM spool WHERE id = ?", (batch_id,)).fetchone()
            if row is None:
                return
            self._conn.execute("DELETE FROM spool WHERE id = ?", (batch_id,))
        self._depth -= int(row[0])
        self._batches -= 1
