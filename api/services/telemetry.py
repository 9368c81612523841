"""Read model over InfluxDB for the API: latest readings, downsampled history, events, derived asset state.

Every query binds its values as InfluxQL parameters; identifiers (measurement and field names) are checked
against the wire contract before they are put in a query.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from facility.contract import EVENTS_MEASUREMENT, SCHEMAS, STATUS_MEASUREMENT, AssetKind
from ingest.influx import InfluxClient

#: the intervals history is downsampled to, smallest first
NICE_INTERVALS_S = (10, 30, 60, 300, 600, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 7 * 86400)
MAX_POINTS = 500
LATEST_LOOKBACK = "30d"


@dataclass(frozen=True)
class LatestReading:
    asset: str
    kind: AssetKind
    ts_ms: int
    values: dict[str, float]
    seq: int | None


@dataclass(frozen=True)
class HistoryPoint:
    ts_ms: int
    value: float | None
    minimum: float | None
    maximum: float | None


@dataclass(frozen=True)
class EventRow:
    ts_ms: int
    estate: str
    building: str
    kind: str
    asset: str
    type: str
    code: str
    detail: str
    seq: int | None


def choose_interval(start: dt.datetime, end: dt.datetime, max_points: int = MAX_POINTS) -> int:
    """The smallest nice interval (seconds) that keeps the series at or under ``max_points`` points."""
    span = (end - start).total_seconds()
    for step in NICE_INTERVALS_S:
        if span / step <= max_points:
            return step
    return NICE_INTERVALS_S[-1]


def _ns(t: dt.datetime) -> int:
    return int(t.timestamp() * 1000) * 1_000_000


def latest_readings(influx: InfluxClient, kinds: Iterable[AssetKind]) -> dict[str, LatestReading]:
    """The most recent telemetry point of every asset of the given kinds (last 30 days)."""
    out: dict[str, LatestReading] = {}
    for kind in kinds:
        q = f'SELECT * FROM "{kind.value}" WHERE time > now() - {LATEST_LOOKBACK} GROUP BY "asset" ORDER BY time DESC LIMIT 1'
        fields = SCHEMAS[kind].by_name
        for series in influx.query(q):
            for row in series.records():
                values = {k: v for k, v in row.items() if k in fields and v is not None}
                seq = row.get("seq")
                out[row["asset"]] = LatestReading(row["asset"], kind, int(row["time"]), values, seq)
    return out


def history(
    influx: InfluxClient,
    kind: AssetKind,
    asset: str,
    field: str,
    start: dt.datetime,
    end: dt.datetime,
    interval_s: int,
) -> list[HistoryPoint]:
    """Mean, min and max of ``field`` per ``interval_s`` bucket, computed by InfluxDB (GROUP BY time())."""
    if field not in SCHEMAS[kind].by_name:
        raise ValueError(f"{kind.value} has no field {field!r}")
    q = (
        f'SELECT mean("{field}"), min("{field}"), max("{field}") FROM "{kind.value}" '
        f'WHERE "asset" = $asset AND time >= $start AND time < $end GROUP BY time({interval_s}s) fill(none)'
    )
    rows = influx.records(q, params={"asset": asset, "start": _ns(start), "end": _ns(end)})
    return [HistoryPoint(int(r["time"]), r["mean"], r["min"], r["max"]) for r in rows]


def events(
    influx: InfluxClient,
    start: dt.datetime,
    end: dt.datetime,
    *,
    estate: str | None = None,
    asset: str | None = None,
    kind: str | None = None,
    type: str | None = None,
    limit: int = 200,
) -> list[EventRow]:
    """Events newest first, filtered by tags."""
    where = ["time >= $start", "time < $end"]
    params: dict[str, Any] = {"start": _ns(start), "end": _ns(end)}
    for name, value in (("estate", estate), ("asset", asset), ("kind", kind), ("type", type)):
        if value is not None:
            where.append(f'"{name}" = ${name}')
            params[name] = value
    q = f'SELECT * FROM "{EVENTS_MEASUREMENT}" WHERE {" AND ".join(where)} ORDER BY time DESC LIMIT {int(limit)}'
    return [
        EventRow(
            int(r["time"]),
            r.get("estate", ""),
            r.get("building", ""),
            r.get("kind", ""),
            r.get("asset", ""),
            r.get("type", ""),
            r.get("code", ""),
            r.get("detail") or "",
            r.get("seq"),
        )
        for r in influx.records(q, params=params)
    ]


def open_faults(influx: InfluxClient) -> dict[str, list[str]]:
    """Fault codes per asset whose last ``fault`` event has no later ``recovery`` of the same code."""
    last: dict[tuple[str, str, str], int] = {}
    for etype in ("fault", "recovery"):
        q = (
            f'SELECT * FROM "{EVENTS_MEASUREMENT}" WHERE "type" = $type '
            'GROUP BY "asset", "code" ORDER BY time DESC LIMIT 1'
        )
        for series in influx.query(q, params={"type": etype}):
            for row in series.records():
                last[(row["asset"], row["code"], etype)] = int(row["time"])
    out: dict[str, list[str]] = {}
    for (asset, code, etype), ts in last.items():
        if etype == "fault" and ts >= last.get((asset, code, "recovery"), -1):
            out.setdefault(asset, []).append(code)
    return {asset: sorted(codes) for asset, codes in out.items()}


def offline_assets(influx: InfluxClient) -> set[str]:
    """Assets whose last status message says offline (retained status / last will)."""
    q = f'SELECT * FROM "{STATUS_MEASUREMENT}" GROUP BY "asset" ORDER BY time DESC LIMIT 1'
    out: set[str] = set()
    for series in influx.query(q):
        for row in series.records():
            online = row.get("online")
            if online is not None and not online:
                out.add(row["asset"])
    return out
