"""The tamper-evident publication ledger: an append-only SHA-256 hash chain in the relational store.

Pure core: :func:`canonical`, :func:`make_entry`, :func:`verify_entries`. Storage: :class:`Ledger`
(table ``rating_ledger``, migration 0010). Formulas: docs/evaluation.md, "Ledger".
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from evaluation.tables import LedgerRow

if TYPE_CHECKING:
    from maintenance.db import Database

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


_COLS = ("seq", "period", "kind", "content", "content_sha256", "prev_sha256", "entry_sha256", "published_at",
         "corrects")  # fmt: skip


class Ledger:
    """Append-only storage in the relational store (table ``rating_ledger``, ``evaluation/tables.py``).
    Rows are read back in insertion order (``pos``), which verification checks."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def close(self) -> None:
        """The database belongs to whoever opened it."""

    def entries(self) -> list[Entry]:
        with self.db.transaction() as s:
            return self._entries(s)

    @staticmethod
    def _entries(s: Session) -> list[Entry]:
        rows = s.scalars(sa.select(LedgerRow).order_by(LedgerRow.pos)).all()
        return [Entry(*(getattr(r, c) for c in _COLS)) for r in rows]

    def get(self, seq: int) -> Entry:
        for e in self.entries():
            if e.seq == seq:
                return e
        raise LedgerError(f"there is no ledger entry {seq}; `facility ledger verify` lists them")

    def find(self, period: str, kind: str) -> list[Entry]:
        """Published entries for a period and kind, corrections of them included, oldest first."""
        entries = self.entries()
        out = [e for e in entries if e.period == period and e.kind == kind]
        seqs = {e.seq for e in out}
        out += [e for e in entries if e.kind == "correction" and e.corrects in seqs]
        return out

    def latest(self, period: str, kind: str) -> Entry | None:
        found = self.find(period, kind)
        return found[-1] if found else None

    def append(
        self, period: str, kind: str, content: Any, published_at: dt.datetime, corrects: int | None = None
    ) -> Entry:
        """Publish. A period and kind is published once, unless every entry so far is provisional (a final
        publication then supersedes them as a new entry); a change is a ``correction`` naming the entry."""
        try:
            with self.db.transaction() as s:
                return self._append(s, period, kind, content, published_at, corrects)
        except IntegrityError:
            raise LedgerError(
                "another publication was appended at the same moment; look at the ledger and publish again"
            ) from None

    def _append(
        self,
        s: Session,
        period: str,
        kind: str,
        content: Any,
        published_at: dt.datetime,
        corrects: int | None,
    ) -> Entry:
        entries = self._entries(s)
        check = verify_entries(entries)
        if not check.ok:
            raise LedgerError(
                f"the ledger fails verification ({check.problems[0].reason}); nothing is appended to a tampered "
                "ledger: investigate with `facility ledger verify`"
            )
        if kind == "correction":
            if corrects is None or not any(e.seq == corrects for e in entries):
                raise LedgerError(f"a correction must reference an existing entry (corrects={corrects})")
        else:
            same = [e for e in entries if e.period == period and e.kind == kind]
            final = [e for e in same if not is_provisional(e)]
            if final or (same and is_provisional_content(content)):
                first = (final or same)[0]
                raise LedgerError(
                    f"{kind} results for {period} are already published (entry {first.seq}); published results "
                    f"are immutable: publish a correction referencing entry {first.seq} instead"
                )
        entry = make_entry(entries[-1] if entries else None, period, kind, content, published_at, corrects)
        s.add(LedgerRow(**{c: getattr(entry, c) for c in _COLS}))
        s.flush()
        return entry

    def verify(self, head: str | None = None) -> Verification:
        return verify_entries(self.entries(), head)

    def adopt(self, legacy: Path) -> int:
        """Copy the entries of a ledger kept in its own SQLite file (before 0010) into an empty table, hashes
        unchanged; returns how many (0 when there is no such file or the table has entries already)."""
        if not legacy.is_file() or self.entries():
            return 0
        con = sqlite3.connect(legacy)
        try:
            rows = con.execute(f"SELECT {', '.join(_COLS)} FROM ledger ORDER BY pos").fetchall()
        finally:
            con.close()
        with self.db.transaction() as s:
            s.add_all(LedgerRow(**dict(zip(_COLS, r, strict=True))) for r in rows)
        return len(rows)


def is_provisional_content(content: Any) -> bool:
    return isinstance(content, dict) and bool(content.get("provisional"))


def is_provisional(e: Entry) -> bool:
    """An entry published with ``--provisional`` (the period had not ended or its data were incomplete)."""
    return '"provisional":true' in e.content and is_provisional_content(e.data())
