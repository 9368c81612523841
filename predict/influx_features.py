"""The live feature source: the same window features computed from InfluxDB, aggregated server-side.

One InfluxQL query per asset kind returns, for every asset, count/mean/stddev/min/max/sum of every field in
each bucket of ``[t − window, t)`` (``GROUP BY time(width, offset)`` aligned so a bucket ends exactly at
``t``); :func:`predict.features.summarize` then turns them into features exactly as it does for a data
frame. Only data strictly before ``t`` is asked for (``time < t``), so nothing after ``t`` can leak in.
Times: InfluxDB epoch milliseconds; feature times in days (ms / 86 400 000).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd

from facility.contract import EVENTS_MEASUREMENT, AssetKind
from ingest.influx import InfluxClient
from predict.features import AGG_COLUMNS, DAY_MS, EVENT_TYPES, WindowSpec, kind_fields, summarize

_AGGS = ("count", "mean", "stddev", "min", "max", "sum")


def _bounds(t_ms: int, spec: WindowSpec) -> tuple[int, int, int]:
    width = round(spec.window * DAY_MS / spec.buckets)
    if width < 1:
        raise ValueError(
            f"window {spec.window} days in {spec.buckets} buckets is under a millisecond per bucket"
        )
    start = t_ms - width * spec.buckets
    return start, width, start % width


def bucket_aggregates_influx(
    client: InfluxClient,
    kind: AssetKind,
    t_ms: int,
    spec: WindowSpec,
    fields: Sequence[str] | None = None,
    asset: str | None = None,
) -> dict[str, pd.DataFrame]:
    """Per asset, the bucket aggregates of :func:`predict.features.bucket_aggregates`, from InfluxDB."""
    names = list(fields or kind_fields(kind))
    start, width, offset = _bounds(t_ms, spec)
    select = ", ".join(f'{agg}("{f}") AS "{f}|{agg}"' for f in names for agg in _AGGS)
    where = f"time >= {start}ms AND time < {t_ms}ms"
    params = None
    if asset is not None:
        where += ' AND "asset" = $asset'
        params = {"asset": asset}
    q = f'SELECT {select} FROM "{kind.value}" WHERE {where} GROUP BY time({width}ms, {offset}ms), "asset" fill(none)'
    out: dict[str, pd.DataFrame] = {}
    for series in client.query(q, params=params):
        rows = []
        for values in series.values:
            rec = dict(zip(series.columns, values, strict=True))
            bucket = (int(rec["time"]) - start) // width
            if not 0 <= bucket < spec.buckets:
                continue
            for f in names:
                n = rec.get(f"{f}|count")
                if not n:
                    continue
                rows.append(
                    {
                        "bucket": int(bucket),
                        "field": f,
                        "count": float(n),
                        "mean": rec[f"{f}|mean"],
                        "std": rec[f"{f}|stddev"] if rec[f"{f}|stddev"] is not None else float("nan"),
                        "min": rec[f"{f}|min"],
                        "max": rec[f"{f}|max"],
                        "sum": rec[f"{f}|sum"],
                    }
                )
        out[series.tags["asset"]] = pd.DataFrame(rows, columns=list(AGG_COLUMNS))
    return out


def event_counts_influx(
    client: InfluxClient,
    kind: AssetKind,
    t_ms: int,
    window_days: float,
    event_types: Sequence[str] = EVENT_TYPES,
    asset: str | None = None,
) -> dict[str, dict[str, float]]:
    start = t_ms - round(window_days * DAY_MS)
    where = f'time >= {start}ms AND time < {t_ms}ms AND "kind" = $kind'
    params = {"kind": kind.value}
    if asset is not None:
        where += ' AND "asset" = $asset'
        params["asset"] = asset
    q = f'SELECT count("detail") AS n FROM "{EVENTS_MEASUREMENT}" WHERE {where} GROUP BY "asset", "type"'
    out: dict[str, dict[str, float]] = {}
    for series in client.query(q, params=params):
        counts = out.setdefault(series.tags["asset"], {f"events_{t}": 0.0 for t in event_types})
        key = f"events_{series.tags['type']}"
        if key in counts and series.values:
            counts[key] = float(series.values[0][series.columns.index("n")])
    return out


def fleet_features_influx(
    client: InfluxClient,
    kind: AssetKind,
    t_ms: int,
    spec: WindowSpec,
    assets: Iterable[str],
    fields: Sequence[str] | None = None,
    event_types: Sequence[str] = EVENT_TYPES,
) -> dict[str, dict[str, float]]:
    """Features at ``t_ms`` for each of ``assets`` of one kind (assets without data get NaN levels)."""
    names = list(fields or kind_fields(kind))
    wanted = list(assets)
    single = wanted[0] if len(wanted) == 1 else None
    aggs = bucket_aggregates_influx(client, kind, t_ms, spec, names, asset=single)
    events = event_counts_influx(client, kind, t_ms, spec.window, event_types, asset=single)
    empty = pd.DataFrame(columns=list(AGG_COLUMNS))
    zero = {f"events_{t}": 0.0 for t in event_types}
    return {a: summarize(aggs.get(a, empty), spec, names) | events.get(a, zero) for a in wanted}
