"""Training rows from InfluxDB are the live query's rows: the sliding window cache and the events read once give
exactly what :func:`predict.influx_features.fleet_features_influx` returns at each landmark."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from facility.contract import AssetKind, Event, EventType
from ingest.influx import InfluxClient
from ingest.lineprotocol import to_lines
from predict.features import DAY_MS, spec_for_kind
from predict.history import lifetimes_from_records
from predict.influx_features import fleet_features_influx
from predict.influx_training import first_readings, maintenance_records, training_data_influx
from simulators.history import generate_history
from tests.registry_support import one_building_fleet

pytestmark = pytest.mark.integration

END = dt.datetime(2026, 11, 2, 1, tzinfo=dt.UTC)


def first_landmark(client: InfluxClient, kind: AssetKind, start_ms: int, end_ms: int, window: float) -> int:
    """The first whole hour a window after the first reading."""
    begin = round(min(first_readings(client, kind, start_ms, end_ms).values()) * DAY_MS)
    return -(-(begin + round(window * DAY_MS)) // 3_600_000) * 3_600_000


def reference_rows(
    client: InfluxClient, kind: AssetKind, start_ms: int, end_ms: int, window: float, step: float
) -> pd.DataFrame:
    """The rows as the live query computes them: one fleet_features_influx call per landmark."""
    spec = spec_for_kind(kind, window, 5)
    observed = first_readings(client, kind, start_ms, end_ms)
    records = maintenance_records(client, kind, start_ms, end_ms)
    lives = lifetimes_from_records(
        records, start_ms / DAY_MS, end_ms / DAY_MS, sorted(observed), starts=observed
    )
    rows = []
    for t_ms in range(first_landmark(client, kind, start_ms, end_ms, window), end_ms, round(step * DAY_MS)):
        t = t_ms / DAY_MS
        active = {life.asset: life for life in lives if life.start + window <= t < life.end}
        if active:
            feats = fleet_features_influx(client, kind, t_ms, spec, sorted(active))
            rows += [feats[a] | {"since_repair": t - life.start} for a, life in active.items()]
    return pd.DataFrame(rows)


def test_training_rows_equal_the_live_query_at_every_landmark(influx: InfluxClient) -> None:
    end_ms = int(END.timestamp() * 1000)
    fleet = one_building_fleet({"water_pump": 4})
    history = generate_history(fleet, seed=3, end_ms=end_ms, days=90, step_s=3600)
    influx.write(to_lines(list(history.messages())))
    kind = AssetKind.WATER_PUMP
    start_ms = end_ms - 120 * 86_400_000  # more than the history: observation starts at the first reading
    # alarms on a window's edges: at t − window (in the window of landmark t) and at t (not in it)
    t = first_landmark(influx, kind, start_ms, end_ms, 10) + 10 * round(1.5 * DAY_MS)
    ref = fleet.assets[0].ref
    edges = [Event(ref, ts, EventType.ALARM, "low_pressure", detail="edge") for ts in (t - 10 * DAY_MS, t)]
    influx.write(to_lines(edges))
    data = training_data_influx(influx, kind, start_ms, end_ms, spec_for_kind(kind, 10, 5), step_days=1.5)
    expected = reference_rows(influx, kind, start_ms, end_ms, 10, 1.5)
    assert data.subject_events >= 2 and len(expected) > 100
    assert expected["events_alarm"].sum() > 0  # alarms inside the windows: the counts are not all zero
    pd.testing.assert_frame_equal(data.X, expected, check_exact=True)
    assert np.all(data.time > 0)
