"""Covariates from telemetry windows, the same code for training, backtests and live scoring.

Time is a float in the data's unit (days for our assets: epoch-ms / 86.4e6; cycles for C-MAPSS).
A feature at time ``t`` uses only observations with ``t − window ≤ time < t`` (strictly before ``t``:
no leakage), in two stages:

1. **bucket aggregates** — the window is cut into ``buckets`` equal sub-windows ending at ``t``; per
   bucket and field: count, mean, sample standard deviation, min, max, sum. InfluxDB can compute exactly
   this server-side (``GROUP BY time(width, offset)``, :mod:`predict.influx_features`); for a data frame
   :func:`bucket_aggregates` does it in pandas, and :mod:`predict.fleet_features` for many assets at once.
2. :func:`summarize` turns bucket aggregates into features per field: ``level`` (mean over the window),
   ``spread`` (standard deviation over the window, recombined exactly from the buckets), ``trend``
   (count-weighted least-squares slope of the bucket means per time unit), ``min`` / ``max`` (extremes),
   ``rate`` (sum per time unit, for usage counters such as trips or starts since the previous report).
   Plus, from the caller: event counts in the window, ``age`` (time since install) and
   ``since_repair`` (time since the last repair, i.e. since the lifetime started).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from facility.contract import SCHEMAS, AssetKind

AGG_COLUMNS = ("bucket", "field", "count", "mean", "std", "min", "max", "sum")
STATS = ("level", "spread", "trend", "min", "max", "rate")


@dataclass(frozen=True)
class WindowSpec:
    """A look-back window of ``window`` time units cut into ``buckets`` sub-windows, and what to compute."""

    window: float
    buckets: int = 5
    stats: tuple[str, ...] = ("level", "spread", "trend", "min", "max")
    #: fields summarised as a rate (sum per time unit) instead of the stats above
    counters: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.window > 0:
            raise ValueError(f"window must be positive, but was {self.window!r}")
        if self.buckets < 1:
            raise ValueError(f"buckets must be at least 1, but was {self.buckets!r}")
        unknown = set(self.stats) - set(STATS)
        if unknown:
            raise ValueError(f"unknown stats {sorted(unknown)}: choose from {STATS}")

    @property
    def width(self) -> float:
        return self.window / self.buckets

    def stats_for(self, field: str) -> tuple[str, ...]:
        """What is computed for ``field``: its rate for a usage counter, else ``stats``."""
        return ("rate",) if field in self.counters else self.stats

    def feature_names(self, fields: Sequence[str]) -> list[str]:
        """The ``{field}__{stat}`` feature names of ``fields``, in the order every implementation returns them."""
        return [f"{name}__{stat}" for name in fields for stat in self.stats_for(name)]


def counter_fields(kind: AssetKind) -> tuple[str, ...]:
    """Usage counters of a kind: whole-number fields counted 'since the previous report'."""
    return tuple(
        f.name for f in SCHEMAS[kind].fields if f.integer and "since the previous report" in f.description
    )


#: the product's feature window for new training (``facility train-telemetry``, the worker's retrain job): 28
#: days in 7 buckets of 4 days. A 4-week slope shows a unit's wear rate where a 14-day one is mostly noise: in
#: ``bench/policy.py`` the 28-day window cost 1,384 with 135 failures against 14 days' 1,405 with 193
#: (docs/benchmarks.md, "Issue 12"). Serving reads each model's own window from its ``features_spec``.
DEFAULT_WINDOW_DAYS = 28.0
DEFAULT_BUCKETS = 7


def spec_for_kind(
    kind: AssetKind, window_days: float = DEFAULT_WINDOW_DAYS, buckets: int = DEFAULT_BUCKETS
) -> WindowSpec:
    """The window spec of ``kind``'s telemetry features: its usage counters are summarised as rates."""
    return WindowSpec(window=window_days, buckets=buckets, counters=counter_fields(kind))


def bucket_aggregates(frame: pd.DataFrame, t: float, spec: WindowSpec, fields: Sequence[str]) -> pd.DataFrame:
    """Per-bucket aggregates of ``fields`` over ``[t − window, t)``; ``frame`` has a ``time`` column.

    Bucket b (0 = oldest) covers ``[t − window + b·width, t − window + (b+1)·width)``. Missing values
    (NaN) are skipped, as InfluxDB skips absent fields.
    """
    start = t - spec.window
    times = frame["time"].to_numpy(dtype=float)
    mask = (times >= start) & (times < t)
    names = [f for f in fields if f in frame.columns]
    if not mask.any() or not names:
        return pd.DataFrame(columns=list(AGG_COLUMNS))
    values = frame.loc[mask, names].to_numpy(dtype=float)
    bucket = np.minimum(((times[mask] - start) // spec.width).astype(int), spec.buckets - 1)
    parts = []
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for b in np.unique(bucket):
            v = values[bucket == b]
            count = np.sum(~np.isnan(v), axis=0)
            ok = count > 0
            if not ok.any():
                continue
            mean = np.nanmean(np.where(ok, v, 0.0), axis=0)
            std = np.where(count > 1, np.nanstd(v, axis=0, ddof=1) if v.shape[0] > 1 else np.nan, np.nan)
            part = pd.DataFrame(
                {
                    "bucket": int(b),
                    "field": np.asarray(names, dtype=object)[ok],
                    "count": count[ok],
                    "mean": mean[ok],
                    "std": std[ok],
                    "min": np.nanmin(np.where(ok, v, 0.0), axis=0)[ok],
                    "max": np.nanmax(np.where(ok, v, 0.0), axis=0)[ok],
                    "sum": np.nansum(v, axis=0)[ok],
                }
            )
            parts.append(part)
    if not parts:
        return pd.DataFrame(columns=list(AGG_COLUMNS))
    return pd.concat(parts, ignore_index=True)


def summarize(aggs: pd.DataFrame, spec: WindowSpec, fields: Sequence[str]) -> dict[str, float]:
    """Features ``{field}__{stat}`` from bucket aggregates (NaN where the window holds no data)."""
    out: dict[str, float] = {}
    centres = (np.arange(spec.buckets) + 0.5) * spec.width
    field_col = aggs["field"].to_numpy(dtype=object) if len(aggs) else np.zeros(0, dtype=object)
    cols = {c: aggs[c].to_numpy(dtype=float) for c in AGG_COLUMNS[2:]} if len(aggs) else {}
    buckets = aggs["bucket"].to_numpy(dtype=int) if len(aggs) else np.zeros(0, dtype=int)
    for name in fields:
        sel = field_col == name
        stats = spec.stats_for(name)
        n = cols["count"][sel] if len(aggs) else np.zeros(0)
        total = float(n.sum())
        for stat in stats:
            key = f"{name}__{stat}"
            if total == 0:
                out[key] = 0.0 if stat == "rate" else float("nan")
                continue
            means = cols["mean"][sel]
            level = float(n @ means / total)
            if stat == "level":
                out[key] = level
            elif stat == "spread":
                sd = np.nan_to_num(cols["std"][sel])
                ss = float(((n - 1) * sd**2).sum() + (n * (means - level) ** 2).sum())
                out[key] = float(np.sqrt(max(ss, 0.0) / (total - 1))) if total > 1 else 0.0
            elif stat == "trend":
                x = centres[buckets[sel]]
                xm = float(n @ x / total)
                den = float(n @ (x - xm) ** 2)
                out[key] = float(n @ ((x - xm) * (means - level)) / den) if den > 0 else 0.0
            elif stat == "min":
                out[key] = float(cols["min"][sel].min())
            elif stat == "max":
                out[key] = float(cols["max"][sel].max())
            elif stat == "rate":
                out[key] = float(cols["sum"][sel].sum()) / spec.window
    return out


def window_features(
    frame: pd.DataFrame, t: float, spec: WindowSpec, fields: Sequence[str]
) -> dict[str, float]:
    """Both stages on a data frame: the features of one asset at time ``t``."""
    return summarize(bucket_aggregates(frame, t, spec, fields), spec, fields)


def event_counts(events: pd.DataFrame, t: float, window: float, types: Iterable[str]) -> dict[str, float]:
    """Events per type in ``[t − window, t)``; ``events`` has ``time`` and ``type`` columns."""
    times = events["time"].to_numpy(dtype=float) if len(events) else np.zeros(0)
    mask = (times >= t - window) & (times < t)
    kinds = events.loc[mask, "type"].value_counts() if len(events) else pd.Series(dtype=float)
    return {f"events_{name}": float(kinds.get(name, 0)) for name in types}


@dataclass(frozen=True)
class Lifetime:
    """One asset lifetime: from ``start`` (install or last repair) to ``end`` (failure or censoring)."""

    asset: str
    start: float
    end: float
    event: bool

    def __post_init__(self) -> None:
        if not self.end > self.start:
            raise ValueError(f"lifetime of {self.asset!r} ends ({self.end}) before it starts ({self.start})")


@dataclass(frozen=True)
class LandmarkTable:
    """Training rows: one per (lifetime, landmark). ``duration`` is the residual time from the landmark."""

    X: pd.DataFrame
    duration: np.ndarray
    event: np.ndarray
    groups: np.ndarray
    landmark: np.ndarray


FeatureFn = Callable[[str, float], Mapping[str, float]]


def landmarks(lifetime: Lifetime, step: float, first: float) -> np.ndarray:
    """Landmark times s = start + first, + step, … strictly before the lifetime's end."""
    return np.arange(lifetime.start + first, lifetime.end, step, dtype=float)


def landmark_table(
    lifetimes: Iterable[Lifetime],
    features_at: FeatureFn,
    step: float,
    first: float | None = None,
    installed: Mapping[str, float] | None = None,
) -> LandmarkTable:
    """Landmarking: at each landmark s of each lifetime, covariates x(s) from data before s, and the
    residual life (end − s, event) as the outcome. ``features_at(asset, s)`` is the live-scoring function.

    Adds ``since_repair`` = s − start and, when ``installed`` gives install times, ``age`` = s − installed.
    """
    if not step > 0:
        raise ValueError(f"step must be positive, but was {step!r}")
    rows: list[dict[str, float]] = []
    duration, event, groups, marks = [], [], [], []
    for life in lifetimes:
        for s in landmarks(life, step, step if first is None else first):
            row = dict(features_at(life.asset, float(s)))
            row["since_repair"] = float(s - life.start)
            if installed is not None and life.asset in installed:
                row["age"] = float(s - installed[life.asset])
            rows.append(row)
            duration.append(life.end - s)
            event.append(bool(life.event))
            groups.append(life.asset)
            marks.append(float(s))
    return LandmarkTable(
        pd.DataFrame(rows),
        np.asarray(duration, dtype=float),
        np.asarray(event, dtype=bool),
        np.asarray(groups, dtype=object),
        np.asarray(marks, dtype=float),
    )


#: event types counted in the window (see facility.contract.EventType)
EVENT_TYPES = ("fault", "alarm")
DAY_MS = 86_400_000


def asset_features(
    readings: pd.DataFrame,
    events: pd.DataFrame,
    t: float,
    spec: WindowSpec,
    fields: Sequence[str],
    event_types: Sequence[str] = EVENT_TYPES,
) -> dict[str, float]:
    """Window features of the readings plus event counts, for one asset at time ``t`` (the live row)."""
    return window_features(readings, t, spec, fields) | event_counts(events, t, spec.window, event_types)


def kind_fields(kind: AssetKind) -> tuple[str, ...]:
    return tuple(f.name for f in SCHEMAS[kind].fields)
