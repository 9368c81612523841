"""The batch feature code computes exactly what the per-time code computes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from predict.batch_features import asset_features_many, landmark_table_fast
from predict.features import Lifetime, WindowSpec, asset_features, landmark_table


def frames(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(0, 60, 3000))
    a = 100 + np.cumsum(rng.normal(size=t.size))
    a[rng.random(t.size) < 0.1] = np.nan  # gaps
    b = rng.poisson(3, t.size).astype(float)
    readings = pd.DataFrame(
        {"time": t, "a": a, "b": b, "c": np.where(t < 20, np.nan, rng.normal(size=t.size))}
    )
    ev_t = np.sort(rng.uniform(0, 60, 30))
    events = pd.DataFrame({"time": ev_t, "type": rng.choice(["fault", "alarm", "recovery"], 30)})
    return readings, events


@pytest.mark.parametrize("stats", [("level", "spread", "trend", "min", "max"), ("level", "trend")])
def test_batch_features_equal_per_time_features(stats: tuple[str, ...]) -> None:
    readings, events = frames()
    spec = WindowSpec(window=7.3, buckets=5, stats=stats, counters=("b",))
    times = np.array([0.5, 3.0, 10.01, 19.5, 25.77, 59.9, 70.0])  # before data, sparse, dense, after data
    many = asset_features_many(readings, events, times, spec, ["a", "b", "c", "missing"])
    for k, t in enumerate(times):
        one = asset_features(readings, events, float(t), spec, ["a", "b", "c", "missing"])
        assert list(one) == list(many.columns)
        assert many.iloc[k].to_dict() == pytest.approx(one, nan_ok=True, rel=1e-7, abs=1e-9)


def test_fast_landmark_table_equals_the_generic_one() -> None:
    readings, events = frames(1)
    spec = WindowSpec(window=5, buckets=5)
    lives = [Lifetime("x", 0.0, 30.0, True), Lifetime("x", 31.0, 60.0, False)]

    def features_at(asset: str, s: float) -> dict[str, float]:
        return asset_features(readings, events, s, spec, ["a", "b"])

    slow = landmark_table(lives, features_at, step=4)
    fast = landmark_table_fast(lives, {"x": readings}, {"x": events}, spec, ["a", "b"], step=4)
    assert fast.landmark.tolist() == slow.landmark.tolist()
    assert fast.duration.tolist() == pytest.approx(slow.duration.tolist())
    assert fast.event.tolist() == slow.event.tolist() == [True] * 7 + [False] * 7
    pd.testing.assert_frame_equal(fast.X[slow.X.columns], slow.X, rtol=1e-7)


def test_fleet_features_at_one_time_equal_per_asset_features() -> None:
    from predict.batch_features import features_at_for_assets

    pairs = [frames(s) for s in range(4)]
    pairs[2] = (pairs[2][0].iloc[:0], pairs[2][1].iloc[:0])  # an asset without data
    spec = WindowSpec(window=6, buckets=3, counters=("b",))
    fleet = features_at_for_assets([r for r, _ in pairs], [e for _, e in pairs], 33.3, spec, ["a", "b", "c"])
    for k, (r, e) in enumerate(pairs):
        one = asset_features(r, e, 33.3, spec, ["a", "b", "c"])
        assert fleet.iloc[k].to_dict() == pytest.approx(one, nan_ok=True, rel=1e-6, abs=1e-9)


def test_fleet_live_features_equal_per_asset_reference_on_random_fleet() -> None:
    """FrameStore → live_features (vectorised across assets) = asset_features asset by asset."""
    from facility.contract import AssetKind, AssetRef, Event, EventType, Reading
    from predict.features import DAY_MS, kind_fields, spec_for_kind
    from predict.history import FrameStore, live_features

    rng = np.random.default_rng(7)
    kind = AssetKind.ELEVATOR
    fields = kind_fields(kind)
    spec = spec_for_kind(kind, 14, 7)
    t = 400.0  # days
    store, assets = FrameStore(), []
    for k in range(40):
        asset = f"el-{k}"
        assets.append(asset)
        ref = AssetRef("e", "b", kind, asset)
        style = k % 5
        if style == 4:
            continue  # no data at all (not even in the store)
        n = int(rng.integers(1, 120))
        lo, hi = (t - 30, t + 5) if style != 3 else (t - 40, t - 15)  # style 3: only data before the window
        times = rng.uniform(lo, hi, n)
        if style == 1:  # empty buckets: data only in the first and last two days of the window
            times = np.concatenate([rng.uniform(t - 14, t - 12, n), rng.uniform(t - 2, t, n)])
        msgs: list[Reading | Event] = []
        for x in times:  # unsorted arrival on purpose
            values = {f: float(rng.normal(50, 10)) for f in fields if rng.random() > 0.2}
            values |= {"trips": float(rng.integers(0, 50))} if style != 2 else {}
            msgs.append(Reading(ref, int(x * DAY_MS), values))
        msgs.append(Reading(ref, int((t - 3.0) * DAY_MS), {"motor_current_a": 1.0}))  # a lone value
        for x in rng.uniform(t - 20, t + 1, 6):
            ev = EventType.FAULT if rng.random() < 0.5 else EventType.ALARM
            msgs.append(Event(ref, int(x * DAY_MS), ev, "door_fault"))
        store.add(msgs)
    since = {a: float(i) for i, a in enumerate(assets)}
    fast = live_features(kind, store, assets, t, spec, since)
    assert len(fast) == 40
    assert fast["vibration_mm_s__level"].isna().sum() >= 8  # the assets without window data
    for i, asset in enumerate(assets):
        ref = asset_features(store.readings(asset), store.events(asset), t, spec, fields)
        ref["since_repair"] = since[asset]
        assert list(fast.columns) == list(ref)
        assert fast.iloc[i].to_dict() == pytest.approx(ref, nan_ok=True, rel=1e-9, abs=1e-9), asset
