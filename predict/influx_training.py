"""Training data from InfluxDB: lifetimes from fault/recovery events, features at landmarks by the live query.

Landmarks lie on a grid ``first + k·step``, ``first`` the first feature-clock time (a whole ``clock_ms``, one hour
by default, as in :mod:`predict.service`) a window after ``start``; at each one the *live* feature code runs for
every asset of the kind, so training rows are computed exactly as scoring rows are: the window's readings come
from an :class:`predict.influx_features.InfluxWindowCache` sliding forward with the landmarks (each landmark
reads only the points since the previous one, not the whole window again: the same readings as the live
query's, read once), and the event counts over ``[t − window, t)`` from the kind's events, read once. A row is kept for an asset when the landmark falls inside one
of its lifetimes at least one window after the lifetime started (a full window after the last repair).
Failures are ``fault`` events; repairs are ``recovery`` events, plus any preventive ``extra`` records
(from work orders) the caller passes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from facility.contract import EVENTS_MEASUREMENT, SCHEMAS, AssetKind
from ingest.influx import InfluxClient
from predict.data import SurvivalData
from predict.features import DAY_MS, EVENT_TYPES, WindowSpec, kind_fields
from predict.history import MaintenanceRecord, lifetimes_from_records
from predict.influx_features import features_from_readings, readings_influx


def maintenance_records(
    client: InfluxClient, kind: AssetKind, start_ms: int, end_ms: int
) -> list[MaintenanceRecord]:
    q = (
        f'SELECT "detail" FROM "{EVENTS_MEASUREMENT}" WHERE "kind" = $kind AND time >= {start_ms}ms '
        f'AND time < {end_ms}ms AND ("type" = \'fault\' OR "type" = \'recovery\') GROUP BY "asset", "type"'
    )
    out = []
    for s in client.query(q, params={"kind": kind.value}):
        rtype = "failure" if s.tags["type"] == "fault" else "repair"
        for row in s.values:
            out.append(MaintenanceRecord(s.tags["asset"], int(row[0]) / DAY_MS, rtype))
    return out


class ChunkedReadings:
    """The readings of one kind for windows ``[start, end)`` that move forward in time, read from InfluxDB in
    chunks ahead (at least ``chunk_ms`` long, never past ``limit_ms``) and kept from the current window's start
    on: each reading is read once and a window is a slice of the same points the live query would return
    (:func:`predict.influx_features.readings_influx`; queries of ``[a, b)`` and ``[b, c)`` return ``[a, c)``)."""

    def __init__(
        self, client: InfluxClient, kind: AssetKind, fields: Sequence[str], chunk_ms: int, limit_ms: int
    ) -> None:
        self.client, self.kind, self.fields = client, kind, list(fields)
        self.chunk_ms, self.limit_ms = chunk_ms, limit_ms
        self.data: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.lo = 0
        self.hi: int | None = None  # self.data holds [lo, hi); None: nothing read yet

    def window(
        self, start_ms: int, end_ms: int, assets: Sequence[str]
    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Each of ``assets``' readings in ``[start_ms, end_ms)`` (assets without any are left out)."""
        if self.hi is None or start_ms < self.lo:
            self.lo = self.hi = start_ms
            self.data = {}
        if end_ms > self.hi:
            hi = min(max(end_ms, self.hi + self.chunk_ms), max(self.limit_ms, end_ms))
            new = readings_influx(self.client, self.kind, self.hi, hi, self.fields)
            cut = start_ms / DAY_MS
            merged = {}
            for asset in self.data.keys() | new.keys():
                old_t, old_v = self.data.get(asset, self._empty())
                i = int(np.searchsorted(old_t, cut, side="left"))
                add_t, add_v = new.get(asset, self._empty())
                if old_t.size - i + add_t.size:
                    merged[asset] = (np.concatenate([old_t[i:], add_t]), np.concatenate([old_v[i:], add_v]))
            self.data, self.lo, self.hi = merged, start_ms, hi
        bounds = (start_ms / DAY_MS, end_ms / DAY_MS)
        out = {}
        for asset in assets:
            if asset in self.data:
                t, v = self.data[asset]
                i, j = np.searchsorted(t, bounds, side="left")
                if j > i:
                    out[asset] = (t[i:j], v[i:j])
        return out

    def _empty(self) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros(0), np.zeros((0, len(self.fields)))


class EventTimes:
    """The kind's events in ``[start_ms, end_ms)``, read once, counted per window as
    :func:`predict.influx_features.event_counts_influx` counts them (events with a ``detail``, by type)."""

    def __init__(
        self,
        client: InfluxClient,
        kind: AssetKind,
        start_ms: int,
        end_ms: int,
        event_types: Sequence[str] = EVENT_TYPES,
    ) -> None:
        self.types = tuple(event_types)
        q = (
            f'SELECT "detail" FROM "{EVENTS_MEASUREMENT}" WHERE "kind" = $kind AND time >= {start_ms}ms '
            f'AND time < {end_ms}ms GROUP BY "asset", "type"'
        )
        #: (asset, type) -> event times (epoch ms, ascending)
        self.times: dict[tuple[str, str], np.ndarray] = {}
        for series in client.query(q, params={"kind": kind.value}):
            if series.tags["type"] in self.types and series.values:
                times = np.array([int(row[0]) for row in series.values], dtype=np.int64)
                self.times[(series.tags["asset"], series.tags["type"])] = np.sort(times)

    def counts(self, asset: str, start_ms: int, end_ms: int) -> dict[str, float]:
        """``events_{type}``: the asset's events of each type in ``[start_ms, end_ms)``."""
        out = {}
        for name in self.types:
            times = self.times.get((asset, name))
            n = 0 if times is None else int(np.searchsorted(times, end_ms) - np.searchsorted(times, start_ms))
            out[f"events_{name}"] = float(n)
        return out


def assets_of_kind(client: InfluxClient, kind: AssetKind) -> list[str]:
    series = client.query(f'SHOW TAG VALUES FROM "{kind.value}" WITH KEY = "asset"')
    return sorted(str(v[1]) for s in series for v in s.values)


def first_readings(client: InfluxClient, kind: AssetKind, start_ms: int, end_ms: int) -> dict[str, float]:
    """Each asset's first reading in ``[start_ms, end_ms)`` (days): where its observation begins. Read from the
    kind's first required field (every valid reading carries it)."""
    schema = SCHEMAS[kind]
    field = (schema.required or (schema.fields[0].name,))[0]
    q = (
        f'SELECT first("{field}") FROM "{kind.value}" WHERE time >= {start_ms}ms AND time < {end_ms}ms '
        'GROUP BY "asset"'
    )
    return {s.tags["asset"]: float(s.values[0][0]) / DAY_MS for s in client.query(q) if s.values}


def training_data_influx(
    client: InfluxClient,
    kind: AssetKind,
    start_ms: int,
    end_ms: int,
    spec: WindowSpec,
    step_days: float,
    assets: Sequence[str] | None = None,
    extra: Iterable[MaintenanceRecord] = (),
    clock_ms: int = 3_600_000,
) -> SurvivalData:
    ids = list(assets) if assets is not None else assets_of_kind(client, kind)
    if not ids:
        raise ValueError(
            f"no {kind.value} telemetry in InfluxDB database {client.database!r}: ingest some first"
        )
    records = maintenance_records(client, kind, start_ms, end_ms) + list(extra)
    # observation starts at each asset's first reading: a lifetime from --days back with no telemetry in its
    # windows would be a training row of gaps with an outcome
    observed = first_readings(client, kind, start_ms, end_ms)
    ids = [a for a in ids if a in observed]
    if not ids:
        raise ValueError(f"no {kind.value} telemetry between the training start and end: ingest some first")
    lives = lifetimes_from_records(records, start_ms / DAY_MS, end_ms / DAY_MS, ids, starts=observed)
    renewals = tuple(
        (life.end - life.start, bool(life.event))
        for life in lives
        if life.start > observed[life.asset] + 1e-9
    )
    rows, time, event, groups = [], [], [], []
    step_ms = round(step_days * DAY_MS)
    begin = round(min(observed.values()) * DAY_MS)
    first = -(-(begin + round(spec.window * DAY_MS)) // clock_ms) * clock_ms  # ceil to the clock
    window_ms = round(spec.window * DAY_MS)
    fields = kind_fields(kind)
    # chunks of a few windows: a few dozen queries a year, and a few windows of readings in memory
    readings = ChunkedReadings(client, kind, fields, max(4 * window_ms, step_ms), end_ms)
    events = EventTimes(client, kind, first - window_ms, end_ms)
    for t_ms in range(first, end_ms, step_ms):
        t = t_ms / DAY_MS
        active = {life.asset: life for life in lives if life.start + spec.window <= t < life.end}
        if not active:
            continue
        wanted = sorted(active)
        feats = features_from_readings(
            readings.window(t_ms - window_ms, t_ms, wanted), wanted, t_ms, spec, fields
        )
        for asset, life in active.items():
            counts = events.counts(asset, t_ms - window_ms, t_ms)
            rows.append(feats[asset] | counts | {"since_repair": t - life.start})
            time.append(life.end - t)
            event.append(int(life.event))
            groups.append(asset)
    if not rows:
        raise ValueError("no landmark rows: the history is shorter than one feature window after each repair")
    return SurvivalData(
        pd.DataFrame(rows),
        np.array(time),
        np.array(event),
        np.array(groups, dtype=object),
        renewals=renewals,
    )
