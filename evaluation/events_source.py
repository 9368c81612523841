"""What evaluation reads from InfluxDB: device events from the ``events`` measurement (tags estate, building,
kind, asset, type, code; fields seq, detail and, on confirmed alarms, outcome) as
:class:`~evaluation.inputs.EventRecord`, and each asset's first reading or status (when monitoring began).
Times are bound as parameters, never pasted."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from evaluation.inputs import EventRecord
from facility.contract import EVENTS_MEASUREMENT, SCHEMAS, STATUS_MEASUREMENT
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
        str(row.get("outcome") or ""),
    )


def load_events(influx: InfluxClient, start: dt.datetime, end: dt.datetime) -> list[EventRecord]:
    """Every event in ``[start, end)``, oldest first. Raises InfluxUnavailable / InfluxRejected."""
    rows = influx.records(_QUERY, params={"start": _ns(start), "end": _ns(end)})
    return sorted((event_from_row(r) for r in rows if r.get("asset")), key=lambda e: (e.ts, e.asset_id))


def _first_points(
    influx: InfluxClient, measurement: str, field: str, start: dt.datetime, end: dt.datetime
) -> dict[str, dt.datetime]:
    """Each asset's first point of ``measurement`` in ``[start, end)``: one point per series read (LIMIT 1)."""
    q = f'SELECT "{field}" FROM "{measurement}" WHERE time >= $start AND time < $end GROUP BY "asset" LIMIT 1'
    out: dict[str, dt.datetime] = {}
    for s in influx.query(q, params={"start": _ns(start), "end": _ns(end)}):
        asset = s.tags.get("asset")
        if asset and s.values:
            out[asset] = dt.datetime.fromtimestamp(int(s.values[0][0]) / 1000, tz=dt.UTC)
    return out


def first_seen(influx: InfluxClient, start: dt.datetime, end: dt.datetime) -> dict[str, dt.datetime]:
    """Each asset's first telemetry reading or status message in ``[start, end)`` (events are read whole by
    :func:`load_events`). Telemetry is found by the kind's first required field, which every reading has."""
    found: dict[str, dt.datetime] = {}
    sources = [(s.measurement, s.required[0]) for s in SCHEMAS.values()] + [(STATUS_MEASUREMENT, "online")]
    for measurement, field in sources:
        for asset, at in _first_points(influx, measurement, field, start, end).items():
            found[asset] = min(at, found.get(asset, at))
    return found
