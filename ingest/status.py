"""Read-side of ingest for the API: dead letters and the workers' latest ``ingest_stats``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from facility.settings import Settings
from ingest.deadletters import DeadLetter, DeadLetterStore
from ingest.influx import InfluxClient, InfluxError
from ingest.service import dead_letter_path

T = TypeVar("T")


def _read_dead_letters(settings: Settings, read: Callable[[DeadLetterStore], T], empty: T) -> T:
    path = dead_letter_path(settings)
    if not path.exists():
        return empty
    store = DeadLetterStore(path)
    try:
        return read(store)
    finally:
        store.close()


def dead_letters(settings: Settings, reason: str | None = None, limit: int = 100) -> list[DeadLetter]:
    return _read_dead_letters(settings, lambda s: s.list(reason=reason, limit=limit), [])


def dead_letter_counts(settings: Settings) -> dict[str, int]:
    """Every dead letter ever stored, per reason (retention's removals included)."""
    return _read_dead_letters(settings, DeadLetterStore.counts, {})


def dead_letter_pruned_counts(settings: Settings) -> dict[str, int]:
    """Dead letters removed by retention, per reason."""
    return _read_dead_letters(settings, DeadLetterStore.pruned_counts, {})


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
