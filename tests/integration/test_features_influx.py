"""The live feature source on a real InfluxDB: no leakage, and the same numbers as the frame code."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from facility.contract import AssetKind, AssetRef, Event, EventType, Reading
from ingest.influx import InfluxClient
from ingest.lineprotocol import to_lines
from predict.features import DAY_MS, WindowSpec, asset_features, kind_fields, spec_for_kind
from predict.influx_features import fleet_features_influx

pytestmark = pytest.mark.integration

T0 = 1_700_000_000_000  # readings start here (epoch ms)
STEP_MS = 10 * 60 * 1000
ASSETS = ("el-1", "el-2")


def history(seed: int = 0) -> tuple[list[Reading | Event], dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """20 days of elevator readings every 10 minutes with a drift, and a few faults and alarms."""
    rng = np.random.default_rng(seed)
    msgs: list[Reading | Event] = []
    frames, events = {}, {}
    for k, asset in enumerate(ASSETS):
        ref = AssetRef("est", "b1", AssetKind.ELEVATOR, asset)
        ts = T0 + np.arange(20 * 24 * 6) * STEP_MS + k * 1000
        days = (ts - T0) / DAY_MS
        vib = 2 + 0.1 * days * (k + 1) + rng.normal(0, 0.3, ts.size)
        cur = 40 + rng.normal(0, 2, ts.size)
        trips = rng.poisson(5, ts.size)
        rows = []
        for i, t in enumerate(ts):
            values = {
                "vibration_mm_s": round(float(abs(vib[i])), 3),
                "motor_current_a": round(float(cur[i]), 3),
            }
            if i % 3 == 0:  # not every report carries the counter: gaps are skipped, not zeros
                values["trips"] = int(trips[i])
            msgs.append(Reading(ref, int(t), values, seq=i))
            rows.append({"time": t / DAY_MS, **values})
        frames[asset] = pd.DataFrame(rows)
        ev = []
        for j, day in enumerate((3.2, 9.7, 14.1, 16.5, 18.9)):
            t = int(T0 + day * DAY_MS)
            etype = EventType.FAULT if j % 2 == 0 else EventType.ALARM
            msgs.append(Event(ref, t, etype, "door_fault" if etype is EventType.FAULT else "overheat"))
            ev.append({"time": t / DAY_MS, "type": etype.value})
        events[asset] = pd.DataFrame(ev)
    return msgs, frames, events


def second_db(influx: InfluxClient, suffix: str) -> InfluxClient:
    client = InfluxClient(influx.url, f"{influx.database}_{suffix}"[:60])
    client.create_database()
    return client


def same(a: dict[str, float], b: dict[str, float], rel: float = 0.0) -> bool:
    if a.keys() != b.keys():
        return False
    for key in a:
        x, y = a[key], b[key]
        if math.isnan(x) and math.isnan(y):
            continue
        if not math.isclose(x, y, rel_tol=rel, abs_tol=1e-9 if rel else 0.0):
            return False
    return True


def test_features_at_t_ignore_data_after_t_and_match_the_frame_code(influx: InfluxClient) -> None:
    msgs, frames, events = history()
    cut = T0 + 15 * DAY_MS + 7 * 60 * 1000  # the prediction time, off the reading grid
    truncated = second_db(influx, "cut")
    try:
        influx.write(to_lines(msgs))
        truncated.write(to_lines([m for m in msgs if m.ts_ms < cut]))
        spec = spec_for_kind(AssetKind.ELEVATOR, window_days=14, buckets=7)
        full = fleet_features_influx(influx, AssetKind.ELEVATOR, cut, spec, ASSETS)
        past_only = fleet_features_influx(truncated, AssetKind.ELEVATOR, cut, spec, ASSETS)
        later = fleet_features_influx(influx, AssetKind.ELEVATOR, cut + 2 * DAY_MS, spec, ASSETS)
    finally:
        truncated._request("POST", "/query", data={"q": f'DROP DATABASE "{truncated.database}"'})
        truncated.close()
    fields = kind_fields(AssetKind.ELEVATOR)
    for asset in ASSETS:
        # no leakage: identical whether or not data after t exists
        assert same(full[asset], past_only[asset])
        # and the data after t does change features computed later (the test can fail)
        assert not same(full[asset], later[asset])
        # the server-side aggregation gives the frame code's numbers
        frame = asset_features(frames[asset], events[asset], cut / DAY_MS, spec, fields)
        assert same(full[asset], frame, rel=1e-9)
    a = full["el-2"]
    assert a["vibration_mm_s__trend"] == pytest.approx(0.2, abs=0.03)  # per day, as simulated
    assert a["trips__rate"] == pytest.approx(5 * 6 * 24 / 3, rel=0.05)  # per day
    # window [1.0, 15.0) days: faults at 3.2 and 14.1, an alarm at 9.7 (16.5 and 18.9 come after t)
    assert a["events_fault"] == 2 and a["events_alarm"] == 1
    assert math.isnan(a["car_temp_c__level"])


def test_single_asset_query_equals_fleet_query(influx: InfluxClient) -> None:
    msgs, _, _ = history(1)
    influx.write(to_lines(msgs))
    spec = WindowSpec(window=7, buckets=7)
    t = T0 + 10 * DAY_MS + 12345
    fleet = fleet_features_influx(influx, AssetKind.ELEVATOR, t, spec, ASSETS)
    one = fleet_features_influx(influx, AssetKind.ELEVATOR, t, spec, ["el-1"])
    assert same(fleet["el-1"], one["el-1"])
    assert not same(fleet["el-1"], fleet["el-2"])


def test_window_cache_reads_only_new_points_and_equals_a_fresh_query(influx: InfluxClient) -> None:
    from predict.influx_features import InfluxWindowCache

    msgs, _, _ = history(2)
    spec = spec_for_kind(AssetKind.ELEVATOR, window_days=7, buckets=7)
    t1 = T0 + 12 * DAY_MS + 4321
    late = t1 - 10 * 60 * 1000  # points from the last 10 minutes before t1 arrive after the first call
    influx.write(to_lines([m for m in msgs if m.ts_ms < late]))
    cache = InfluxWindowCache(influx, overlap_ms=15 * 60 * 1000)
    first = cache.features(AssetKind.ELEVATOR, t1, spec, ASSETS)
    assert same(first["el-1"], fleet_features_influx(influx, AssetKind.ELEVATOR, t1, spec, ASSETS)["el-1"])
    influx.write(to_lines([m for m in msgs if m.ts_ms >= late]))
    for t in (t1 + 3 * 60 * 1000, T0 + 16 * DAY_MS + 999, T0 + 13 * DAY_MS):  # the last goes back in time
        cached = cache.features(AssetKind.ELEVATOR, t, spec, ASSETS)
        fresh = fleet_features_influx(influx, AssetKind.ELEVATOR, t, spec, ASSETS)
        for asset in ASSETS:
            assert same(cached[asset], fresh[asset], rel=1e-12)
    assert not same(first["el-1"], cached["el-1"])
    # going back in time and single-asset requests do not replace the cached window
    assert cache._windows[AssetKind.ELEVATOR].end_ms == T0 + 16 * DAY_MS + 999
    t = T0 + 16 * DAY_MS + 60_000
    one = cache.features(AssetKind.ELEVATOR, t, spec, ["el-2"])
    assert same(
        one["el-2"], fleet_features_influx(influx, AssetKind.ELEVATOR, t, spec, ASSETS)["el-2"], rel=1e-12
    )
