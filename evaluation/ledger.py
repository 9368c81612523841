"""The tamper-evident publication ledger: an append-only SHA-256 hash chain in its own SQLite file.

Pure core: :func:`canonical`, :func:`make_entry`, :func:`verify_entries`. Storage: :class:`Ledger`
(``sqlite3``, one file under ``Settings.var_dir``). Formulas: docs/evaluation.md, "Ledger".
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GENESIS = "0" * 64
KINDS = ("monthly", "quarterly", "correction")


class LedgerError(ValueError):
    pass


def canonical(obj: Any) -> str:
    """Canonical JSON: sorted keys, no spaces, UTF-8 kept (not escaped)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Entry:
    seq: int
    period: str
    kind: str
    content: str  # canonical JSON
    content_sha256: str
    prev_sha256: str
    entry_sha256: str
    published_at: str
    corrects: int | None = None

    def header(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "period": self.period,
            "kind": self.kind,
            "content_sha256": self.content_sha256,
            "prev_sha256": self.prev_sha256,
            "corrects": self.corrects,
            "published_at": self.published_at,
        }

    def data(self) -> Any:
        return json.loads(self.content)


@dataclass(frozen=True)
class Problem:
    seq: int
    reason: str


@dataclass(frozen=True)
class Verification:
    entries: int
    head: str
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def make_entry(
    prev: Entry | None,
    period: str,
    kind: str,
    content: Any,
    published_at: dt.datetime,
    corrects: int | None = None,
) -> Entry:
    if kind not in KINDS:
        raise LedgerError(f"kind {kind!r} is not one of {list(KINDS)}")
    body = canonical(content)
    seq = prev.seq + 1 if prev else 1
    partial = Entry(seq, period, kind, body, sha256(body), prev.entry_sha256 if prev else GENESIS, "",
                    published_at.isoformat(), corrects)  # fmt: skip
    return Entry(**{**partial.__dict__, "entry_sha256": sha256(canonical(partial.header()))})


def verify_entries(entries: Sequence[Entry], head: str | None = None) -> Verification:
    """Check every hash and link in storage order. ``head``: the last entry hash known from elsewhere."""
    problems: list[Problem] = []
    prev_hash = GENESIS
    expected_seq = 1
    for e in entries:
        if e.seq != expected_seq:
            what = "missing" if e.seq > expected_seq else "out of order"
            problems.append(Problem(e.seq, f"entry {e.seq} found where {expected_seq} was expected ({what})"))
        if sha256(e.content) != e.content_sha256:
            problems.append(
                Problem(e.seq, f"entry {e.seq}: content was altered (its SHA-256 no longer matches)")
            )
        if sha256(canonical(e.header())) != e.entry_sha256:
            problems.append(
                Problem(e.seq, f"entry {e.seq}: header was altered (entry SHA-256 no longer matches)")
            )
        if e.prev_sha256 != prev_hash:
            problems.append(
                Problem(
                    e.seq,
                    f"entry {e.seq}: previous-entry hash does not match (an entry before it was removed, "
                    "altered or moved)",
                )
            )
        prev_hash = e.entry_sha256
        expected_seq = e.seq + 1
    last = entries[-1].entry_sha256 if entries else GENESIS
    if head is not None and head != last:
        known = [e for e in entries if e.entry_sha256 == head]
        reason = (
            f"the head {head[:12]}… is entry {known[0].seq}, but entries follow it"
            if known
            else f"the head {head[:12]}… is not in the ledger: entries at the end were removed or altered"
        )
        problems.append(Problem(entries[-1].seq if entries else 0, reason))
    return Verification(len(entries), last, tuple(problems))


_SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger (
    pos INTEGER PRIMARY KEY AUTOINCREMENT,
    seq INTEGER NOT NULL,
    period TEXT NOT NULL,
    kind TEXT NOT NULL,
    content TEXT NOT NULL,
    content_sha256 TEXT NOT NULL,
    prev_sha256 TEXT NOT NULL,
    entry_sha256 TEXT NOT NULL,
    published_at TEXT NOT NULL,
    corrects INTEGER
)
"""
_COLS = "seq, period, kind, content, content_sha256, prev_sha256, entry_sha256, published_at, corrects"


class Ledger:
    """Append-only storage. Rows are read back in insertion order (``pos``), which verification checks."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()  # one connection shared by the API's worker threads
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)

    @classmethod
    def in_var(cls, var_dir: Path) -> Ledger:
        return cls(var_dir / "evaluation" / "ledger.sqlite")

    def close(self) -> None:
        self._db.close()

    def entries(self) -> list[Entry]:
        with self._lock:
            rows = self._db.execute(f"SELECT {_COLS} FROM ledger ORDER BY pos").fetchall()
        return [Entry(*row) for row in rows]

    def get(self, seq: int) -> Entry:
        for e in self.entries():
            if e.seq == seq:
                return e
        raise LedgerError(f"there is no ledger entry {seq}; `facility ledger verify` lists them")

    def find(self, period: str, kind: str) -> list[Entry]:
        """Published entries for a period and kind, corrections of them included, oldest first."""
        out = [e for e in self.entries() if e.period == period and e.kind == kind]
        seqs = {e.seq for e in out}
        out += [e for e in self.entries() if e.kind == "correction" and e.corrects in seqs]
        return out

    def latest(self, period: str, kind: str) -> Entry | None:
        found = self.find(period, kind)
        return found[-1] if found else None

    def append(
        self, period: str, kind: str, content: Any, published_at: dt.datetime, corrects: int | None = None
    ) -> Entry:
        """Publish. A period and kind is published once; a change is a ``correction`` naming the entry."""
        with self._lock:
            return self._append(period, kind, content, published_at, corrects)

    def _append(
        self, period: str, kind: str, content: Any, published_at: dt.datetime, corrects: int | None
    ) -> Entry:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            entries = self.entries()
            check = verify_entries(entries)
            if not check.ok:
                raise LedgerError(
                    f"the ledger fails verification ({check.problems[0].reason}); nothing is appended to a tampered "
                    "ledger: investigate with `facility ledger verify`"
                )
            if kind == "correction":
                if corrects is None or not any(e.seq == corrects for e in entries):
                    raise LedgerError(f"a correction must reference an existing entry (corrects={corrects})")
            elif any(e.period == period and e.kind == kind for e in entries):
                first = next(e for e in entries if e.period == period and e.kind == kind)
                raise LedgerError(
                    f"{kind} results for {period} are already published (entry {first.seq}); published results are "
                    f"immutable: publish a correction referencing entry {first.seq} instead"
                )
            entry = make_entry(
                entries[-1] if entries else None, period, kind, content, published_at, corrects
            )
            self._db.execute(
                f"INSERT INTO ledger ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (entry.seq, entry.period, entry.kind, entry.content, entry.content_sha256, entry.prev_sha256,
                 entry.entry_sha256, entry.published_at, entry.corrects),
            )  # fmt: skip
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return entry

    def verify(self, head: str | None = None) -> Verification:
        return verify_entries(self.entries(), head)
