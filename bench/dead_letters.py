"""Cost of dead-letter retention on insert: a table at its row limit vs one without limits.

    .venv/bin/python bench/dead_letters.py --json [--rows 100000] [--batches 500] [--batch 10] [--url URL]

Fills a fresh relational store (a SQLite file, or the empty database ``--url`` names) with ``--rows`` letters (200-byte payloads), then times ``--batches`` inserts of
``--batch`` new letters each, once unbounded and once with ``max_rows = --rows`` and a 30-day age limit (so
every insert also prunes as many of the oldest); and the periodic ``prune()`` when nothing is due.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa

from ingest.deadletters import DAY_MS, DeadLetter, DeadLetterStore, Retention

T0_MS = 1_793_610_000_000


def letter(i: int) -> DeadLetter:
    payload = b'{"seq": %d, "pad": "%s"}' % (i, b"y" * 180)
    return DeadLetter(f"facility/e/b/elevator/a{i % 50}/telemetry", payload, "bad_field", "why", T0_MS + i)


def measure(retention: Retention, rows: int, batches: int, batch: int, url: str | None) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        store = DeadLetterStore.open(url or f"sqlite:///{tmp}/dl.db", retention, clock=lambda: T0_MS / 1000)
        with store.engine.begin() as c:  # a reused --url database starts empty
            c.execute(sa.text("DELETE FROM dead_letters"))
            c.execute(sa.text("UPDATE dead_letter_meta SET value = 0 WHERE key = 'rows'"))
        for start in range(0, rows, 1000):
            store.add_many(letter(i) for i in range(start, min(rows, start + 1000)))
        t = time.perf_counter()
        for b in range(batches):
            store.add_many(letter(rows + b * batch + i) for i in range(batch))
        insert_s = time.perf_counter() - t
        t = time.perf_counter()
        for _ in range(100):
            store.prune()
        idle_s = (time.perf_counter() - t) / 100
        kept = store.kept()
        store.close()
    return {
        "ms_per_batch": round(insert_s / batches * 1000, 3),
        "idle_prune_us": round(idle_s * 1e6, 1),
        "kept": kept,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--batches", type=int, default=500)
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--url", default=None, help="a database URL (default: a fresh SQLite file)")
    ap.add_argument("--json", action="store_true", help="(the only output format)")
    a = ap.parse_args()
    unbounded = measure(Retention(), a.rows, a.batches, a.batch, a.url)
    limited = measure(Retention(max_rows=a.rows, max_age_ms=30 * DAY_MS), a.rows, a.batches, a.batch, a.url)
    print(
        json.dumps(
            {
                "store": (a.url or "sqlite").split(":")[0],
                "rows": a.rows,
                "batch": a.batch,
                "unbounded_ms_per_batch": unbounded["ms_per_batch"],
                "at_limit_ms_per_batch": limited["ms_per_batch"],
                "at_limit_kept": limited["kept"],
                "idle_prune_us": limited["idle_prune_us"],
            }
        )
    )


if __name__ == "__main__":
    main()
