"""Read-side of ingest for the API: dead letters (relational store) and the workers' latest ``ingest_stats``."""

from __future__ import annotations

import threading
from typing import Any

from facility.settings import Settings
from ingest.deadletters import DeadLetter, DeadLetterStore
from ingest.influx import InfluxClient, InfluxError

_STORES: dict[str, DeadLetterStore] = {}
_LOCK = threading.Lock()


def reader(settings: Settings) -> DeadLetterStore:
    """A read-only view of the dead letters at ``settings.sqlalchemy_url`` (one per URL and process)."""
    url = settings.sqlalchemy_url
    with _LOCK:
        store = _STORES.get(url)
        if store is None:
            store = _STORES[url] = DeadLetterStore.open(url)
        return store


def close_readers() -> None:
    """Dispose of the readers' engines (tests, shutdown)."""
    with _LOCK:
        for store in _STORES.values():
            store.close()
        _STORES.clear()


def dead_letters(
    settings: Settings, reason: str | None = None, limit: int = 100, source: str | None = None
) -> list[DeadLetter]:
    return reader(settings).list(reason=reason, limit=limit, source=source)


def dead_letter_counts(settings: Settings) -> dict[str, int]:
    """Every dead letter ever refused, per reason (retention's removals and suppressed letters included)."""
    return reader(settings).counts()


def dead_letter_pruned_counts(settings: Settings) -> dict[str, int]:
    """Dead letters removed by retention, per reason."""
    return reader(settings).pruned_counts()


def dead_letter_suppressed_counts(settings: Settings) -> dict[str, int]:
    """Dead letters of flooding devices, counted but never stored, per reason."""
    return reader(settings).suppressed_counts()


def floods(settings: Settings) -> list[dict[str, Any]]:
    """Devices whose dead letters went over the per-device rate (newest first)."""
    return reader(settings).floods()


def worker_stats(influx: InfluxClient) -> list[dict[str, Any]]:
    """The newest ``ingest_stats`` point of each worker, with the time it was written (empty if none)."""
    try:
        series = influx.query(
            "SELECT received, stored, dead_letters, spool_depth, queue_depth, gaps, pending_gaps, duplicates,"
            " resets, lag_ms, rate FROM ingest_stats WHERE time > now() - 1h AND asset = ''"
            " GROUP BY worker ORDER BY time DESC LIMIT 1"
        )
    except InfluxError:
        return []
    return [r for s in series for r in s.records()]
