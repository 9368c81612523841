"""Read-side of ingest for the API: dead letters and the workers' latest ``ingest_stats``."""

from __future__ import annotations

from typing import Any

from facility.settings import Settings
from ingest.deadletters import DeadLetter, DeadLetterStore
from ingest.influx import InfluxClient, InfluxError
from ingest.service import dead_letter_path


def dead_letters(settings: Settings, reason: str | None = None, limit: int = 100) -> list[DeadLetter]:
    path = dead_letter_path(settings)
    if not path.exists():
        return []
    store = DeadLetterStore(path)
    try:
        return store.list(reason=reason, limit=limit)
    finally:
        store.close()


def dead_letter_counts(settings: Settings) -> dict[str, int]:
    path = dead_letter_path(settings)
    if not path.exists():
        return {}
    store = DeadLetterStore(path)
    try:
        return store.counts()
    finally:
        store.close()


def worker_stats(influx: InfluxClient) -> list[dict[str, Any]]:
    """The newest ``ingest_stats`` row of each worker (empty if InfluxDB has none or is down)."""
    try:
        series = influx.query(
            "SELECT last(received) AS received, last(stored) AS stored, last(dead_letters) AS dead_letters,"
            " last(spool_depth) AS spool_depth, last(queue_depth) AS queue_depth, last(gaps) AS gaps,"
            " last(pending_gaps) AS pending_gaps, last(duplicates) AS duplicates, last(resets) AS resets,"
            " last(lag_ms) AS lag_ms, last(rate) AS rate FROM ingest_stats"
            " WHERE time > now() - 1h AND asset = '' GROUP BY worker"
        )
    except InfluxError:
        return []
    return [r for s in series for r in s.records()]
