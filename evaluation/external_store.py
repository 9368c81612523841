"""Imported external indicators, kept in their own SQLite file under ``var_dir``.

A value per (estate, month, indicator): importing the same key again replaces it (the import is the
correction; published ratings keep what they used in the ledger)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

from evaluation.inputs import ExternalValue

_SCHEMA = """
CREATE TABLE IF NOT EXISTS external (
    estate TEXT NOT NULL, month TEXT NOT NULL, indicator TEXT NOT NULL,
    value REAL NOT NULL, count INTEGER NOT NULL DEFAULT 0, source TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (estate, month, indicator)
)
"""


class ExternalStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()  # one connection shared by the API's worker threads
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.execute(_SCHEMA)
        self._db.commit()

    @classmethod
    def in_var(cls, var_dir: Path) -> ExternalStore:
        return cls(var_dir / "evaluation" / "external.sqlite")

    def close(self) -> None:
        self._db.close()

    def put(self, values: Sequence[ExternalValue]) -> int:
        with self._lock, self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO external VALUES (?, ?, ?, ?, ?, ?)",
                [(v.estate, v.month, v.indicator, v.value, v.count, v.source) for v in values],
            )
        return len(values)

    def values(self, months: Iterable[str] | None = None) -> list[ExternalValue]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM external ORDER BY month, estate, indicator").fetchall()
        wanted = set(months) if months is not None else None
        return [ExternalValue(*r) for r in rows if wanted is None or r[1] in wanted]
