"""Training data from InfluxDB: lifetimes from fault/recovery events, features at landmarks by the live query.

Landmarks lie on a grid ``first + k·step``, ``first`` the first feature-clock time (a whole ``clock_ms``, one hour
by default, as in :mod:`predict.service`) a window after ``start``; at each one the *live* feature query
(:func:`predict.influx_features.fleet_features_influx`) runs for every asset of the kind, so training rows
are computed exactly as scoring rows are. A row is kept for an asset when the landmark falls inside one
of its lifetimes at least one window after the lifetime started (a full window after the last repair).
Failures are ``fault`` events; repairs are ``recovery`` events, plus any preventive ``extra`` records
(from work orders) the caller passes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from facility.contract import EVENTS_MEASUREMENT, AssetKind
from ingest.influx import InfluxClient
from predict.data import SurvivalData
from predict.features import DAY_MS, WindowSpec
from predict.history import MaintenanceRecord, lifetimes_from_records
from predict.influx_features import fleet_features_influx


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


def assets_of_kind(client: InfluxClient, kind: AssetKind) -> list[str]:
    series = client.query(f'SHOW TAG VALUES FROM "{kind.value}" WITH KEY = "asset"')
    return sorted(str(v[1]) for s in series for v in s.values)


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
    lives = lifetimes_from_records(records, start_ms / DAY_MS, end_ms / DAY_MS, ids)
    rows, time, event, groups = [], [], [], []
    step_ms = round(step_days * DAY_MS)
    first = -(-(start_ms + round(spec.window * DAY_MS)) // clock_ms) * clock_ms  # ceil to the clock
    for t_ms in range(first, end_ms, step_ms):
        t = t_ms / DAY_MS
        active = {life.asset: life for life in lives if life.start + spec.window <= t < life.end}
        if not active:
            continue
        feats = fleet_features_influx(client, kind, t_ms, spec, sorted(active))
        for asset, life in active.items():
            rows.append(feats[asset] | {"since_repair": t - life.start})
            time.append(life.end - t)
            event.append(int(life.event))
            groups.append(asset)
    if not rows:
        raise ValueError("no landmark rows: the history is shorter than one feature window after each repair")
    return SurvivalData(pd.DataFrame(rows), np.array(time), np.array(event), np.array(groups, dtype=object))
