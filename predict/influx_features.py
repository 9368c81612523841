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

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

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
    start_ms: int,
    end_ms: int,
    fields: Sequence[str],
    asset: str | None = None,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per asset: reading times (days, ascending) and a (rows, fields) value matrix (NaN = absent) in
    ``[start_ms, end_ms)``; one query for the whole kind (``GROUP BY "asset"``)."""
    select = ", ".join(f'"{f}"' for f in fields)
    where = f"time >= {start_ms}ms AND time < {end_ms}ms"
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
        values = np.full((block.shape[0], len(fields)), np.nan)
        for j, f in enumerate(fields):
            if f in series.columns:
                values[:, j] = block[:, series.columns.index(f)]
        out[series.tags["asset"]] = (block[:, series.columns.index("time")] / DAY_MS, values)
    return out


def features_from_readings(
    readings: Mapping[str, tuple[np.ndarray, np.ndarray]],
    assets: Sequence[str],
    t_ms: int,
    spec: WindowSpec,
    fields: Sequence[str],
) -> dict[str, dict[str, float]]:
    """Telemetry window features of ``assets`` at ``t_ms`` from per-asset readings (:func:`readings_influx`)."""
    empty = (np.zeros(0), np.zeros((0, len(fields))))
    parts = [readings.get(a, empty) for a in assets]
    sizes = np.array([p[0].size for p in parts], dtype=np.int64)
    X = fleet_features(
        np.concatenate([p[0] for p in parts]) if parts else np.zeros(0),
        np.concatenate([p[1] for p in parts]) if parts else np.zeros((0, len(fields))),
        np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
        np.zeros(0),
        np.zeros(0, dtype=object),
        np.zeros(0, dtype=np.int64),
        t_ms / DAY_MS,
        spec,
        fields,
        event_types=(),
    )
    # every column is float: rows as Python floats, as to_dict("records") gives them, without its per-row cost
    names = [str(c) for c in X.columns]
    return {
        a: dict(zip(names, row, strict=True))
        for a, row in zip(assets, X.to_numpy(float).tolist(), strict=True)
    }


def with_event_counts(
    client: InfluxClient,
    kind: AssetKind,
    t_ms: int,
    window_days: float,
    features: Mapping[str, dict[str, float]],
    assets: Sequence[str],
    event_types: Sequence[str] = EVENT_TYPES,
) -> dict[str, dict[str, float]]:
    """``features`` of ``assets`` plus their event counts in ``[t − window, t)`` (0 where none): one query for
    the kind, or for the one asset; none when ``event_types`` is empty."""
    if not event_types:
        return {a: features[a] for a in assets}
    single = assets[0] if len(assets) == 1 else None
    events = event_counts_influx(client, kind, t_ms, window_days, event_types, asset=single)
    zero = {f"events_{t}": 0.0 for t in event_types}
    return {a: features[a] | events.get(a, zero) for a in assets}


def fleet_features_influx(
    client: InfluxClient,
    kind: AssetKind,
    t_ms: int,
    spec: WindowSpec,
    assets: Iterable[str],
    fields: Sequence[str] | None = None,
    event_types: Sequence[str] = EVENT_TYPES,
) -> dict[str, dict[str, float]]:
    """Features at ``t_ms`` for each of ``assets`` of one kind (assets without data get NaN levels); with
    ``event_types=()`` only the telemetry window features (no event query)."""
    names = list(fields or kind_fields(kind))
    wanted = list(assets)
    single = wanted[0] if len(wanted) == 1 else None
    start = t_ms - round(spec.window * DAY_MS)
    data = readings_influx(client, kind, start, t_ms, names, asset=single)
    feats = features_from_readings(data, wanted, t_ms, spec, names)
    return with_event_counts(client, kind, t_ms, spec.window, feats, wanted, event_types)


@dataclass
class _Window:
    fields: tuple[str, ...]
    start_ms: int
    end_ms: int
    data: dict[str, tuple[np.ndarray, np.ndarray]]


class InfluxWindowCache:
    """Live scoring without re-reading the whole window: per kind, the readings of the last window are kept
    in memory and each call fetches only ``[previous end − overlap, t)`` (the overlap re-reads points that
    arrived late, e.g. from an ingest batch still in flight). A time before the previous call, or a longer
    window or other fields, reads the whole window again. Points written more than ``overlap`` late after a
    call are missed until the kind is re-read (``clear()``, or a new service)."""

    def __init__(self, client: InfluxClient, overlap_ms: int = 15 * 60_000) -> None:
        self.client = client
        self.overlap_ms = overlap_ms
        self._windows: dict[AssetKind, _Window] = {}

    def clear(self) -> None:
        self._windows.clear()

    def readings(
        self, kind: AssetKind, t_ms: int, window_days: float, fields: Sequence[str]
    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        start = t_ms - round(window_days * DAY_MS)
        names = tuple(fields)
        w = self._windows.get(kind)
        if w is None or w.fields != names or t_ms < w.end_ms or start < w.start_ms:
            data = readings_influx(self.client, kind, start, t_ms, names)
        else:
            since = max(w.end_ms - self.overlap_ms, start)
            new = readings_influx(self.client, kind, since, t_ms, names)
            lo, hi = start / DAY_MS, since / DAY_MS
            data = {}
            for asset in w.data.keys() | new.keys():
                old_t, old_v = w.data.get(asset, (np.zeros(0), np.zeros((0, len(names)))))
                i, j = np.searchsorted(old_t, (lo, hi), side="left")
                add_t, add_v = new.get(asset, (np.zeros(0), np.zeros((0, len(names)))))
                if j - i + add_t.size:
                    data[asset] = (
                        np.concatenate([old_t[i:j], add_t]),
                        np.concatenate([old_v[i:j], add_v]),
                    )
        self._windows[kind] = _Window(names, start, t_ms, data)
        return data

    def covers(self, kind: AssetKind, t_ms: int, window_days: float, fields: Sequence[str]) -> bool:
        """Whether the window at ``t_ms`` can be had from the cache plus the points since its end."""
        w = self._windows.get(kind)
        start = t_ms - round(window_days * DAY_MS)
        return w is not None and w.fields == tuple(fields) and t_ms >= w.end_ms and start >= w.start_ms

    def window(
        self,
        kind: AssetKind,
        t_ms: int,
        spec: WindowSpec,
        assets: Iterable[str],
        fields: Sequence[str] | None = None,
    ) -> tuple[dict[str, dict[str, float]], dict[str, int]]:
        """Telemetry window features of ``assets`` at ``t_ms``, and each asset's number of readings in the
        window. One asset, or a time before the cached window's end (an ``at`` in the past), is a one-off
        query that leaves the cache as it is."""
        names = list(fields or kind_fields(kind))
        wanted = list(assets)
        start = t_ms - round(spec.window * DAY_MS)
        w = self._windows.get(kind)
        if not self.covers(kind, t_ms, spec.window, names) and (
            len(wanted) == 1 or (w is not None and t_ms < w.end_ms)
        ):
            single = wanted[0] if len(wanted) == 1 else None
            data = readings_influx(self.client, kind, start, t_ms, names, asset=single)
        else:
            data = self.readings(kind, t_ms, spec.window, names)
        counts = {a: int(data[a][0].size) for a in wanted if a in data}
        return features_from_readings(data, wanted, t_ms, spec, names), counts

    def features(
        self,
        kind: AssetKind,
        t_ms: int,
        spec: WindowSpec,
        assets: Iterable[str],
        fields: Sequence[str] | None = None,
        event_types: Sequence[str] = EVENT_TYPES,
    ) -> dict[str, dict[str, float]]:
        """:func:`fleet_features_influx`, with the readings from the cache (see :meth:`window`)."""
        wanted = list(assets)
        feats, _ = self.window(kind, t_ms, spec, wanted, fields)
        return with_event_counts(self.client, kind, t_ms, spec.window, feats, wanted, event_types)
