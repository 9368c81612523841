"""The live feature source: the same window features computed from InfluxDB.

:func:`fleet_features_influx` (what live scoring and telemetry training use) reads the raw readings of
``[t − window, t)`` with one query per asset kind (``GROUP BY "asset"``) and computes the features of every
asset at once with :func:`predict.fleet_features.fleet_features` — the frame code itself. Only data strictly
before ``t`` is asked for (``time < t``), so nothing after ``t`` can leak in.

:func:`bucket_aggregates_influx` is the server-side alternative (count/mean/stddev/min/max/sum per bucket with
``GROUP BY time(width, offset)``, then :func:`predict.features.summarize`). It transfers less, but InfluxDB 1.x
scans the data once per aggregate function: on 2 cores its query took ~4× longer than reading the raw points
(``bench/predict_influx_speed.py``, docs/benchmarks.md). Times: InfluxDB epoch milliseconds; feature times in
days (ms / 86 400 000).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from facility.contract import EVENTS_MEASUREMENT, AssetKind
from ingest.influx import InfluxClient
from predict.features import AGG_COLUMNS, DAY_MS, EVENT_TYPES, WindowSpec, kind_fields
from predict.fleet_features import fleet_features

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


def readings_influx(
    client: InfluxClient,
    kind: AssetKind,
    t_ms: int,
    window_days: float,
    fields: Sequence[str],
    asset: str | None = None,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per asset: reading times (days, ascending) and a (rows, fields) value matrix (NaN = absent), ``[t − window, t)``."""
    start = t_ms - round(window_days * DAY_MS)
    select = ", ".join(f'"{f}"' for f in fields)
    where = f"time >= {start}ms AND time < {t_ms}ms"
    params = None
    if asset is not None:
        where += ' AND "asset" = $asset'
        params = {"asset": asset}
    q = f'SELECT {select} FROM "{kind.value}" WHERE {where} GROUP BY "asset"'
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for series in client.query(q, params=params):
        if not series.values:
            continue
        # None (a field absent from a point) becomes NaN; columns: time, then the fields as selected
        block = np.array(series.values, dtype=float).reshape(len(series.values), len(series.columns))
        cols = [series.columns.index(f) if f in series.columns else -1 for f in fields]
        values = np.full((block.shape[0], len(fields)), np.nan)
        for j, c in enumerate(cols):
            if c >= 0:
                values[:, j] = block[:, c]
        out[series.tags["asset"]] = (block[:, series.columns.index("time")] / DAY_MS, values)
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
    data = readings_influx(client, kind, t_ms, spec.window, names, asset=single)
    events = event_counts_influx(client, kind, t_ms, spec.window, event_types, asset=single)
    empty = (np.zeros(0), np.zeros((0, len(names))))
    parts = [data.get(a, empty) for a in wanted]
    sizes = np.array([p[0].size for p in parts], dtype=np.int64)
    n_ev = [events.get(a) for a in wanted]
    X = fleet_features(
        np.concatenate([p[0] for p in parts]) if parts else np.zeros(0),
        np.concatenate([p[1] for p in parts]) if parts else np.zeros((0, len(names))),
        np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
        np.zeros(0),
        np.zeros(0, dtype=object),
        np.zeros(0, dtype=np.int64),
        t_ms / DAY_MS,
        spec,
        names,
        event_types=(),
    )
    zero = {f"events_{t}": 0.0 for t in event_types}
    records = X.to_dict("records")
    return {a: rec | (ev or zero) for a, rec, ev in zip(wanted, records, n_ev, strict=True)}
