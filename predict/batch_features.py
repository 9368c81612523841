"""The window features of :mod:`predict.features` for many times at once (training and fleet scoring).

Same definitions, vectorised with prefix sums: for landmark s and bucket b the rows in
``[s − window + b·width, s − window + (b+1)·width)`` are found by binary search in the sorted times, and
count, sum and sum of squares come from cumulative sums (values centred on their column mean first, for
precision); min and max are reduced per bucket. ``tests/unit/test_predict_features.py`` checks that both
implementations agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from predict.features import EVENT_TYPES, LandmarkTable, Lifetime, WindowSpec, landmarks
from predict.fleet_features import fleet_features


def window_features_many(
    frame: pd.DataFrame, times: Sequence[float] | np.ndarray, spec: WindowSpec, fields: Sequence[str]
) -> pd.DataFrame:
    """One row of ``{field}__{stat}`` features per time in ``times`` (data strictly before each time)."""
    ts = np.asarray(times, dtype=float)
    m, nb = ts.size, spec.buckets
    frame = frame.sort_values("time", kind="stable") if not frame["time"].is_monotonic_increasing else frame
    t = frame["time"].to_numpy(dtype=float)
    out: dict[str, np.ndarray] = {}
    edges = (ts - spec.window)[:, None] + spec.width * np.arange(nb + 1)[None, :]
    edges[:, -1] = ts  # the last bucket ends exactly at the landmark
    idx = np.searchsorted(t, edges, side="left")  # (m, nb + 1)
    centres = (np.arange(nb) + 0.5) * spec.width
    for name in fields:
        stats = spec.stats_for(name)
        if name not in frame.columns:
            for stat in stats:
                out[f"{name}__{stat}"] = np.zeros(m) if stat == "rate" else np.full(m, np.nan)
            continue
        v = frame[name].to_numpy(dtype=float)
        ok = ~np.isnan(v)
        centre = float(v[ok].mean()) if ok.any() else 0.0
        vc = np.where(ok, v - centre, 0.0)
        c_cnt = np.concatenate([[0.0], np.cumsum(ok)])
        c_sum = np.concatenate([[0.0], np.cumsum(vc)])
        c_sq = np.concatenate([[0.0], np.cumsum(vc * vc)])
        n_b = c_cnt[idx[:, 1:]] - c_cnt[idx[:, :-1]]  # (m, nb)
        s_b = c_sum[idx[:, 1:]] - c_sum[idx[:, :-1]]
        q_b = c_sq[idx[:, 1:]] - c_sq[idx[:, :-1]]
        n = n_b.sum(axis=1)
        s = s_b.sum(axis=1)
        has = n > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_c = np.where(has, s / np.where(has, n, 1), np.nan)
            for stat in stats:
                key = f"{name}__{stat}"
                if stat == "level":
                    out[key] = mean_c + centre
                elif stat == "spread":
                    ss = np.maximum(q_b.sum(axis=1) - n * mean_c**2, 0.0)
                    out[key] = np.where(n > 1, np.sqrt(ss / np.maximum(n - 1, 1)), np.where(has, 0.0, np.nan))
                elif stat == "trend":
                    xm = (n_b @ centres) / np.where(has, n, 1)
                    dx = centres[None, :] - xm[:, None]
                    den = (n_b * dx**2).sum(axis=1)
                    num = (dx * (s_b - n_b * mean_c[:, None])).sum(axis=1)
                    out[key] = np.where(has, np.where(den > 0, num / np.where(den > 0, den, 1), 0.0), np.nan)
                elif stat == "rate":
                    out[key] = np.where(has, (s + n * centre) / spec.window, 0.0)
                elif stat in ("min", "max"):
                    lo, hi = idx[:, 0], idx[:, -1]
                    red = np.fmin if stat == "min" else np.fmax
                    vals = np.full(m, np.nan)
                    for i in np.flatnonzero(has):
                        vals[i] = red.reduce(v[lo[i] : hi[i]])
                    out[key] = vals
    return pd.DataFrame(out)


def event_counts_many(
    events: pd.DataFrame, times: np.ndarray, window: float, types: Sequence[str] = EVENT_TYPES
) -> pd.DataFrame:
    out = {}
    for name in types:
        if len(events):
            et = np.sort(events.loc[events["type"] == name, "time"].to_numpy(dtype=float))
        else:
            et = np.zeros(0)
        out[f"events_{name}"] = (
            np.searchsorted(et, times, side="left") - np.searchsorted(et, times - window, side="left")
        ).astype(float)
    return pd.DataFrame(out)


def asset_features_many(
    readings: pd.DataFrame,
    events: pd.DataFrame,
    times: np.ndarray,
    spec: WindowSpec,
    fields: Sequence[str],
    event_types: Sequence[str] = EVENT_TYPES,
) -> pd.DataFrame:
    """:func:`predict.features.asset_features` at every time in ``times``."""
    times = np.asarray(times, dtype=float)
    return pd.concat(
        [
            window_features_many(readings, times, spec, fields),
            event_counts_many(events, times, spec.window, event_types),
        ],
        axis=1,
    )


def landmark_table_fast(
    lifetimes: Iterable[Lifetime],
    readings: Mapping[str, pd.DataFrame],
    events: Mapping[str, pd.DataFrame],
    spec: WindowSpec,
    fields: Sequence[str],
    step: float,
    first: float | None = None,
    event_types: Sequence[str] = EVENT_TYPES,
) -> LandmarkTable:
    """:func:`predict.features.landmark_table` with :func:`asset_features` features, one batch per asset."""
    by_asset: dict[str, list[Lifetime]] = {}
    for life in lifetimes:
        by_asset.setdefault(life.asset, []).append(life)
    empty_events = pd.DataFrame({"time": [], "type": []})
    parts, durations, flags, groups, marks = [], [], [], [], []
    for asset, lives in by_asset.items():
        times, since, dur, ev = [], [], [], []
        for life in lives:
            s = landmarks(life, step, step if first is None else first)
            times.append(s)
            since.append(s - life.start)
            dur.append(life.end - s)
            ev.append(np.full(s.size, life.event))
        t = np.concatenate(times) if times else np.zeros(0)
        if t.size == 0:
            continue
        frame = readings.get(asset)
        if frame is None:
            frame = pd.DataFrame({"time": []})
        X = asset_features_many(frame, events.get(asset, empty_events), t, spec, fields, event_types)
        X["since_repair"] = np.concatenate(since)
        parts.append(X)
        durations.append(np.concatenate(dur))
        flags.append(np.concatenate(ev))
        groups.append(np.full(t.size, asset, dtype=object))
        marks.append(t)
    if not parts:
        return LandmarkTable(
            pd.DataFrame(), np.zeros(0), np.zeros(0, dtype=bool), np.zeros(0, dtype=object), np.zeros(0)
        )
    return LandmarkTable(
        pd.concat(parts, ignore_index=True),
        np.concatenate(durations),
        np.concatenate(flags).astype(bool),
        np.concatenate(groups),
        np.concatenate(marks),
    )


def features_at_for_assets(
    readings: Sequence[pd.DataFrame],
    events: Sequence[pd.DataFrame],
    t: float,
    spec: WindowSpec,
    fields: Sequence[str],
    event_types: Sequence[str] = EVENT_TYPES,
) -> pd.DataFrame:
    """:func:`asset_features` of many assets at one time ``t`` (fleet scoring), one row per asset.

    Each asset's frame is cut to its window and the assets are evaluated together by
    :func:`predict.fleet_features.fleet_features` (:class:`predict.history.FrameStore` feeds that function
    arrays directly, without a data frame per asset).
    """
    lo = t - spec.window
    times, values, sizes = [], [], np.zeros(len(readings), dtype=np.int64)
    ev_t, ev_type, ev_asset = [], [], []
    for k, (r, e) in enumerate(zip(readings, events, strict=True)):
        if len(r):
            tr = r["time"].to_numpy(dtype=float)
            keep = (tr >= lo) & (tr < t)
            order = np.argsort(tr[keep], kind="stable")
            times.append(tr[keep][order])
            values.append(r.reindex(columns=list(fields)).to_numpy(dtype=float)[keep][order])
            sizes[k] = int(keep.sum())
        if len(e):
            te = e["time"].to_numpy(dtype=float)
            keep = (te >= lo) & (te < t)
            ev_t.append(te[keep])
            ev_type.append(e["type"].to_numpy(dtype=object)[keep])
            ev_asset.append(np.full(int(keep.sum()), k, dtype=np.int64))
    return fleet_features(
        np.concatenate(times) if times else np.zeros(0),
        np.concatenate(values) if values else np.zeros((0, len(fields))),
        np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
        np.concatenate(ev_t) if ev_t else np.zeros(0),
        np.concatenate(ev_type) if ev_type else np.zeros(0, dtype=object),
        np.concatenate(ev_asset) if ev_asset else np.zeros(0, dtype=np.int64),
        t,
        spec,
        fields,
        event_types,
    )
