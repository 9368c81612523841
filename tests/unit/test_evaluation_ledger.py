"""The ledger: appends chain correctly; altering, removing or reordering any entry is detected."""

from __future__ import annotations

import datetime as dt
import itertools
import sqlite3

import pytest

from evaluation.ledger import GENESIS, Ledger, LedgerError, canonical, make_entry, sha256
from evaluation.testing import store_db

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
COLS = "seq, period, kind, content, content_sha256, prev_sha256, entry_sha256, published_at, corrects"


@pytest.fixture
def ledger(tmp_path):
    led = Ledger(store_db(tmp_path))
    led.append("2026-08", "monthly", {"scores": {"pc-a": 91.5}}, T0)
    led.append("2026-09", "monthly", {"scores": {"pc-a": 88.25}}, T0 + dt.timedelta(days=30))
    led.append("2026-10", "monthly", {"scores": {"pc-a": 79.0, "名": "绿苑"}}, T0 + dt.timedelta(days=60))
    led.append("2026Q3", "quarterly", {"colours": {"pc-a": "blue"}}, T0 + dt.timedelta(days=61))
    yield led
    led.db.dispose()


def _path(ledger):
    return ledger.db.engine.url.database


def sql(ledger, q, *args):
    db = sqlite3.connect(_path(ledger))
    db.execute(q, args)
    db.commit()
    db.close()


def test_chain_links_and_hashes(ledger):
    es = ledger.entries()
    assert [e.seq for e in es] == [1, 2, 3, 4]
    assert es[0].prev_sha256 == GENESIS
    assert all(b.prev_sha256 == a.entry_sha256 for a, b in itertools.pairwise(es))
    assert (
        es[2].content
        == canonical({"scores": {"pc-a": 79.0, "名": "绿苑"}})
        == '{"scores":{"pc-a":79.0,"名":"绿苑"}}'
    )
    assert es[2].content_sha256 == sha256(es[2].content)
    v = ledger.verify(head=es[-1].entry_sha256)
    assert v.ok and v.entries == 4 and v.head == es[-1].entry_sha256


def test_altered_content_is_detected(ledger):
    sql(ledger, "UPDATE rating_ledger SET content = ? WHERE seq = 2", '{"scores":{"pc-a":98.25}}')
    v = ledger.verify()
    assert not v.ok
    assert [p.seq for p in v.problems] == [2]
    assert "content was altered" in v.problems[0].reason


def test_altered_content_with_recomputed_content_hash_is_detected(ledger):
    body = '{"scores":{"pc-a":98.25}}'
    sql(ledger, "UPDATE rating_ledger SET content = ?, content_sha256 = ? WHERE seq = 2", body, sha256(body))
    v = ledger.verify()
    assert [(p.seq, "header was altered" in p.reason) for p in v.problems] == [(2, True)]


def test_rewriting_a_whole_entry_breaks_the_next_link(ledger):
    es = ledger.entries()
    forged = make_entry(es[0], "2026-09", "monthly", {"scores": {"pc-a": 99}}, T0)
    sql(ledger, "UPDATE rating_ledger SET content = ?, content_sha256 = ?, entry_sha256 = ?, published_at = ? WHERE seq = 2",
        forged.content, forged.content_sha256, forged.entry_sha256, forged.published_at)  # fmt: skip
    v = ledger.verify()
    assert [p.seq for p in v.problems] == [3]
    assert "previous-entry hash does not match" in v.problems[0].reason


def test_removed_entry_is_detected(ledger):
    sql(ledger, "DELETE FROM rating_ledger WHERE seq = 2")
    v = ledger.verify()
    assert not v.ok
    assert {p.seq for p in v.problems} == {3}
    assert any("found where 2 was expected (missing)" in p.reason for p in v.problems)


def test_removed_last_entry_is_detected_against_the_published_head(ledger):
    head = ledger.entries()[-1].entry_sha256
    sql(ledger, "DELETE FROM rating_ledger WHERE seq = 4")
    assert ledger.verify().ok  # a shorter chain is self-consistent ...
    v = ledger.verify(head=head)  # ... but not with the head published earlier
    assert not v.ok and "not in the ledger" in v.problems[0].reason


def test_reordered_entries_are_detected(ledger):
    db = sqlite3.connect(_path(ledger))
    rows = {r[0]: r[1:] for r in db.execute(f"SELECT pos, {COLS} FROM rating_ledger")}
    placeholders = ", ".join(f"{c.strip()} = ?" for c in COLS.split(","))
    db.execute(
        "UPDATE rating_ledger SET seq = -1 WHERE pos = 3"
    )  # seq is unique: move it out of the way first
    db.execute(f"UPDATE rating_ledger SET {placeholders} WHERE pos = 2", rows[3])
    db.execute(f"UPDATE rating_ledger SET {placeholders} WHERE pos = 3", rows[2])
    db.commit()
    db.close()
    v = ledger.verify()
    assert not v.ok
    assert any("out of order" in p.reason for p in v.problems)
    assert any("previous-entry hash" in p.reason for p in v.problems)


def test_renumbered_reorder_is_detected(ledger):
    sql(ledger, "UPDATE rating_ledger SET seq = 5 WHERE seq = 2")
    sql(ledger, "UPDATE rating_ledger SET seq = 2 WHERE seq = 3")
    sql(ledger, "UPDATE rating_ledger SET seq = 3 WHERE seq = 5")
    v = ledger.verify()
    assert not v.ok and any("header was altered" in p.reason for p in v.problems)


def test_published_results_are_immutable_and_corrections_reference_them(ledger):
    with pytest.raises(LedgerError, match=r"already published \(entry 3\).*correction referencing entry 3"):
        ledger.append("2026-10", "monthly", {"scores": {"pc-a": 80}}, T0)
    with pytest.raises(LedgerError, match="must reference an existing entry"):
        ledger.append("2026-10", "correction", {"scores": {"pc-a": 80}}, T0, corrects=99)
    fix = ledger.append("2026-10", "correction", {"scores": {"pc-a": 80}}, T0, corrects=3)
    assert fix.seq == 5 and fix.corrects == 3
    assert ledger.latest("2026-10", "monthly") == fix
    assert ledger.verify().ok


def test_nothing_is_appended_to_a_tampered_ledger(ledger):
    sql(ledger, "UPDATE rating_ledger SET content = ? WHERE seq = 1", '{"scores":{"pc-a":99}}')
    with pytest.raises(LedgerError, match=r"fails verification \(entry 1: content was altered"):
        ledger.append("2026-11", "monthly", {"scores": {}}, T0)
    assert len(ledger.entries()) == 4
