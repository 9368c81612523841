"""Device events from InfluxDB's ``events`` measurement (tags estate, building, kind, asset, type, code;
fields seq, detail) as :class:`~evaluation.inputs.EventRecord`. Times are bound as parameters, never pasted."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from evaluation.inputs import EventRecord
from facility.contract import EVENTS_MEASUREMENT
from ingest.influx import InfluxClient

_QUERY = f'SELECT * FROM "{EVENTS_MEASUREMENT}" WHERE time >= $start AND time < $end'


def _ns(t: dt.datetime) -> int:
    return int(t.timestamp()) * 1_000_000_000 + t.microsecond * 1000


def event_from_row(row: Mapping[str, Any]) -> EventRecord:
    """One record of ``InfluxClient.records`` (epoch ms in ``time``) as our type."""
    ts = dt.datetime.fromtimestamp(int(row["time"]) / 1000, tz=dt.UTC)
    return EventRecord(
        str(row.get("asset", "")),
        str(row.get("kind", "")),
        str(row.get("type", "")),
        str(row.get("code", "")),
        ts,
        str(row.get("detail") or ""),
    )


def load_events(influx: InfluxClient, start: dt.datetime, end: dt.datetime) -> list[EventRecord]:
    """Every event in ``[start, end)``, oldest first. Raises InfluxUnavailable / InfluxRejected."""
    rows = influx.records(_QUERY, params={"start": _ns(start), "end": _ns(end)})
    return sorted((event_from_row(r) for r in rows if r.get("asset")), key=lambda e: (e.ts, e.asset_id))
