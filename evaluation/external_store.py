"""Imported external indicators in the relational store (table ``external_indicators``, migration 0010).

A value per (estate, month, indicator): importing the same key again replaces it (the import is the
correction; published ratings keep what they used in the ledger)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from evaluation.inputs import ExternalValue
from evaluation.tables import ExternalRow

if TYPE_CHECKING:
    from maintenance.db import Database


class ExternalStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def close(self) -> None:
        """The database belongs to whoever opened it."""

    def put(self, values: Sequence[ExternalValue]) -> int:
        with self.db.transaction() as s:
            for v in values:
                s.merge(ExternalRow(estate=v.estate, month=v.month, indicator=v.indicator, value=v.value,
                                    count=v.count, source=v.source))  # fmt: skip
        return len(values)

    def values(self, months: Iterable[str] | None = None) -> list[ExternalValue]:
        q = sa.select(ExternalRow).order_by(ExternalRow.month, ExternalRow.estate, ExternalRow.indicator)
        if months is not None:
            q = q.where(ExternalRow.month.in_(list(months)))
        with self.db.transaction() as s:
            rows = s.scalars(q).all()
            return [ExternalValue(r.estate, r.month, r.indicator, r.value, r.count, r.source) for r in rows]

    def adopt(self, legacy: Path) -> int:
        """Copy the values of the SQLite file used before 0010 into an empty table; returns how many."""
        if not legacy.is_file() or self.values():
            return 0
        con = sqlite3.connect(legacy)
        try:
            rows = con.execute(
                "SELECT estate, month, indicator, value, count, source FROM external"
            ).fetchall()
        finally:
            con.close()
        return self.put([ExternalValue(*r) for r in rows])
