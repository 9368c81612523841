"""The ledger and the external indicators live in the relational store (SQLite and PostgreSQL): a second
process (a re-created container) sees them, the chain verifies, and the side files of before are adopted."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest

from evaluation.external_store import ExternalStore
from evaluation.inputs import ExternalValue
from evaluation.ledger import Ledger, LedgerError
from evaluation.wiring import build
from facility.settings import Settings
from maintenance.db import Database

pytestmark = pytest.mark.integration
T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


def test_ledger_and_external_values_last_in_the_store(db_url: str) -> None:
    db = Database.open(db_url)
    try:
        led = Ledger(db)
        a = led.append("2026-09", "monthly", {"scores": [{"id": "绿苑", "score": 88.25}]}, T0)
        led.append("2026Q3", "quarterly", {"provisional": True, "results": []}, T0)
        with pytest.raises(LedgerError, match="already published"):
            led.append("2026-09", "monthly", {"scores": []}, T0)
        final = led.append("2026Q3", "quarterly", {"provisional": False, "results": []}, T0)  # supersedes
        ExternalStore(db).put(
            [ExternalValue("lvyuan", "2026-09", "resident_satisfaction", 0.81, 120, "survey")]
        )
        ExternalStore(db).put(
            [ExternalValue("lvyuan", "2026-09", "resident_satisfaction", 0.83, 130, "survey")]
        )
    finally:
        db.dispose()
    again = Database.open(db_url)  # another process, e.g. the API after its container was re-created
    try:
        led = Ledger(again)
        assert [e.seq for e in led.entries()] == [1, 2, 3]
        assert led.entries()[0].entry_sha256 == a.entry_sha256
        assert led.latest("2026Q3", "quarterly") == final
        assert led.verify(head=final.entry_sha256).ok
        assert ExternalStore(again).values(["2026-09"]) == [
            ExternalValue("lvyuan", "2026-09", "resident_satisfaction", 0.83, 130, "survey")
        ]
    finally:
        again.dispose()


def test_side_files_of_before_are_adopted_once(tmp_path) -> None:
    side = tmp_path / "evaluation"
    side.mkdir()
    old = sqlite3.connect(side / "ledger.sqlite")
    old.execute(
        "CREATE TABLE ledger (pos INTEGER PRIMARY KEY AUTOINCREMENT, seq INTEGER, period TEXT, kind TEXT, "
        "content TEXT, content_sha256 TEXT, prev_sha256 TEXT, entry_sha256 TEXT, published_at TEXT, corrects INTEGER)"
    )
    from evaluation.ledger import make_entry

    e = make_entry(None, "2026-08", "monthly", {"scores": []}, T0)
    old.execute(
        "INSERT INTO ledger (seq, period, kind, content, content_sha256, prev_sha256, entry_sha256, published_at, "
        "corrects) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            e.seq,
            e.period,
            e.kind,
            e.content,
            e.content_sha256,
            e.prev_sha256,
            e.entry_sha256,
            e.published_at,
            None,
        ),
    )
    old.commit()
    old.close()
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'store.db'}", var_dir=tmp_path, manage_services=False
    )
    ev = build(settings, source=object())  # type: ignore[arg-type]
    try:
        assert ev.ledger.entries() == [e] and ev.ledger.verify(head=e.entry_sha256).ok
    finally:
        ev.close()
    assert not (side / "ledger.sqlite").exists() and (side / "ledger.sqlite.adopted").exists()
