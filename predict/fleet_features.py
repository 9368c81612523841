"""The window features of :mod:`predict.features` for a whole fleet at one time ``t``, vectorised across assets.

Live scoring asks for the features of thousands of assets at the same instant. Instead of one pandas pass per
asset, the readings of all assets are held in one array sorted by asset (``offsets[k]:offsets[k+1]`` are asset
k's rows) and every aggregate is one ``np.bincount`` over the (asset, bucket) index: count, sum, and — in a
second pass about each asset's own window mean, for precision — the sum of squares and the trend numerator.
Extremes are ``np.fmin.reduceat`` / ``np.fmax.reduceat`` over each asset's rows. Buckets are assigned as in
:func:`predict.features.bucket_aggregates` (``(time − start) // width``, last bucket closed at ``t``), and the
summaries follow :func:`predict.features.summarize`; ``tests/unit/test_predict_features.py`` checks that the
results agree on random data (gaps, empty buckets, assets without data).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from predict.features import EVENT_TYPES, WindowSpec

FloatArray = NDArray[np.float64]


def fleet_window_features(
    time: FloatArray,
    values: FloatArray,
    offsets: NDArray[np.int64],
    t: float,
    spec: WindowSpec,
    fields: Sequence[str],
) -> dict[str, FloatArray]:
    """``{field}__{stat}`` arrays (one entry per asset) of the readings in ``[t − window, t)``.

    ``time`` (N,) and ``values`` (N, len(fields)) hold every asset's readings, asset k's in rows
    ``offsets[k]:offsets[k+1]``; a missing value is NaN. Rows outside the window are ignored.
    """
    n_assets = len(offsets) - 1
    nb = spec.buckets
    start = t - spec.window
    counts = np.diff(offsets)
    asset = np.repeat(np.arange(n_assets), counts)
    inside = (time >= start) & (time < t)
    if not inside.all():
        time, values, asset = time[inside], values[inside], asset[inside]
    bucket = np.minimum(((time - start) // spec.width).astype(np.int64), nb - 1)
    group = asset * nb + bucket
    size = n_assets * nb
    centres = (np.arange(nb) + 0.5) * spec.width
    # each asset's rows are contiguous (time-filtering keeps the order): segment starts for reduceat
    seg_n = np.bincount(asset, minlength=n_assets)
    seg_start = np.concatenate([[0], np.cumsum(seg_n)[:-1]]).astype(np.int64)
    nonempty = seg_n > 0
    out: dict[str, FloatArray] = {}
    for j, name in enumerate(fields):
        v = values[:, j] if values.shape[0] else np.zeros(0)
        ok = ~np.isnan(v)
        v0 = np.where(ok, v, 0.0)
        n_b = np.bincount(group, weights=ok.astype(float), minlength=size).reshape(n_assets, nb)
        n = n_b.sum(axis=1)
        has = n > 0
        total = np.bincount(asset, weights=v0, minlength=n_assets)
        if name in spec.counters:
            out[f"{name}__rate"] = np.where(has, total / spec.window, 0.0)
            continue
        safe_n = np.where(has, n, 1.0)
        level = np.where(has, total / safe_n, np.nan)
        d = np.where(ok, v - np.nan_to_num(level)[asset], 0.0)
        for stat in spec.stats:
            key = f"{name}__{stat}"
            if stat == "level":
                out[key] = level
            elif stat == "spread":
                ss = np.bincount(asset, weights=d * d, minlength=n_assets)
                sd = np.sqrt(np.maximum(ss, 0.0) / np.maximum(n - 1, 1))
                out[key] = np.where(n > 1, sd, np.where(has, 0.0, np.nan))
            elif stat == "trend":
                # Σ_b n_b (x_b − x̄)(m_b − level) with n_b (m_b − level) = Σ of d over bucket b
                d_b = np.bincount(group, weights=d, minlength=size).reshape(n_assets, nb)
                xm = (n_b @ centres) / safe_n
                dx = centres[None, :] - xm[:, None]
                den = (n_b * dx**2).sum(axis=1)
                num = (dx * d_b).sum(axis=1)
                slope = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)
                out[key] = np.where(has, slope, np.nan)
            elif stat in ("min", "max"):
                red = np.fmin if stat == "min" else np.fmax
                ext = np.full(n_assets, np.nan)
                if nonempty.any():
                    ext[nonempty] = red.reduceat(v, seg_start[nonempty])
                out[key] = np.where(has, ext, np.nan)
            elif stat == "rate":
                out[key] = np.where(has, total / spec.window, 0.0)
    return out


def fleet_event_counts(
    event_time: FloatArray,
    event_type: NDArray[np.object_],
    event_asset: NDArray[np.int64],
    n_assets: int,
    t: float,
    window: float,
    types: Sequence[str] = EVENT_TYPES,
) -> dict[str, FloatArray]:
    """Events per type and asset in ``[t − window, t)`` (``event_asset`` is each event's asset index)."""
    inside = (event_time >= t - window) & (event_time < t)
    return {
        f"events_{name}": np.bincount(event_asset[inside & (event_type == name)], minlength=n_assets).astype(
            float
        )
        for name in types
    }


def fleet_features(
    time: FloatArray,
    values: FloatArray,
    offsets: NDArray[np.int64],
    event_time: FloatArray,
    event_type: NDArray[np.object_],
    event_asset: NDArray[np.int64],
    t: float,
    spec: WindowSpec,
    fields: Sequence[str],
    event_types: Sequence[str] = EVENT_TYPES,
) -> pd.DataFrame:
    """:func:`predict.features.asset_features` of every asset at ``t``: one row per asset."""
    n_assets = len(offsets) - 1
    cols = fleet_window_features(time, values, offsets, t, spec, fields)
    cols |= fleet_event_counts(event_time, event_type, event_asset, n_assets, t, spec.window, event_types)
    return pd.DataFrame(cols, index=range(n_assets))
