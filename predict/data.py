"""Survival data from a property company's own files, validated with one-sentence errors.

Two input shapes (both documented in docs/predict.md):

- **lifetimes**: one row per asset lifetime — a duration column (time from install or last repair to the
  failure or to the end of observation, ≥ 0), an event column (1 = ended in failure, 0 = still running:
  right-censored) and any other columns as covariates (numeric as is, text one-hot).
- **series**: per-asset time series (the NASA C-MAPSS shape) — an id column, a time column holding the asset's
  age (time since install or last repair) and numeric readings; each asset's series ends in a failure, or in
  censoring when an event column says 0 on its last row. The readings go through the same window-feature
  code as live telemetry (:mod:`predict.features`), one landmark row every ``step`` time units.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from predict.batch_features import landmark_table_fast
from predict.features import LandmarkTable, Lifetime, WindowSpec
from predict.models import survival_y

#: text columns with more distinct values than this are not one-hot encoded (ids, dates, free text)
MAX_LEVELS = 50
MIN_ROWS = 10


class DataError(ValueError):
    """Input data that cannot be used; the message says what is wrong and how to fix it."""


@dataclass(frozen=True)
class SurvivalData:
    """Covariates ``X``, outcome (``time``, ``event``) and the subject id of each row (rows of one asset
    stay together when splitting)."""

    X: pd.DataFrame
    time: np.ndarray
    event: np.ndarray
    groups: np.ndarray
    ignored: tuple[str, ...] = ()
    #: (duration, failed) of every lifetime that began at a repair — the renewal curve's data (may be empty)
    renewals: tuple[tuple[float, bool], ...] = ()

    @property
    def y(self) -> np.ndarray:
        return survival_y(self.time, self.event.astype(int))

    @property
    def subjects(self) -> int:
        return int(pd.unique(self.groups).size)

    @property
    def subject_events(self) -> int:
        frame = pd.DataFrame({"g": self.groups, "e": self.event})
        return int(frame.groupby("g")["e"].max().sum())


def read_table(path: str | Path, sep: str = ",", header: bool = True) -> pd.DataFrame:
    sep_arg = r"\s+" if sep in ("ws", "whitespace", " ") else sep
    try:
        frame = pd.read_csv(path, sep=sep_arg, header=0 if header else None, engine="python")
    except FileNotFoundError:
        raise DataError(f"file {str(path)!r} does not exist: check the path") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot parse {str(path)!r} as a table ({exc}): check --sep") from None
    if not header:
        frame.columns = [f"c{i + 1}" for i in range(frame.shape[1])]
    frame = frame.dropna(axis=1, how="all")
    if frame.shape[1] < 2:
        raise DataError(
            f"{str(path)!r} parsed into {frame.shape[1]} column(s): the separator is probably wrong, pass --sep"
        )
    return frame


def _require(frame: pd.DataFrame, name: str | None, flag: str) -> None:
    if name is not None and name not in frame.columns:
        cols = ", ".join(map(str, frame.columns[:12]))
        raise DataError(
            f"column {name!r} is not in the file (columns: {cols}): pass the right name with {flag}"
        )


def _durations(frame: pd.DataFrame, col: str) -> np.ndarray:
    values = pd.to_numeric(frame[col], errors="coerce")
    bad = values.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"duration column {col!r} has {int(bad.sum())} empty or non-numeric values (first at data row "
            f"{row + 1}): fill them or drop those rows"
        )
    neg = values < 0
    if neg.any():
        row = int(np.flatnonzero(neg.to_numpy())[0])
        raise DataError(
            f"duration column {col!r} has {int(neg.sum())} negative values (first at data row {row + 1}, "
            f"{values.iloc[row]}): a duration is the time from install or last repair to failure or censoring, "
            "so it must be 0 or more"
        )
    return values.to_numpy(dtype=float)


def _events(series: pd.Series, col: str) -> np.ndarray:
    mapped = series.map(
        lambda v: (
            1 if v in (1, "1", True, "true", "True") else 0 if v in (0, "0", False, "false", "False") else -1
        )
    )
    bad = series[mapped.to_numpy() < 0]
    if len(bad):
        examples = ", ".join(repr(v) for v in pd.unique(bad)[:3])
        raise DataError(
            f"event column {col!r} must hold 0 (still running, censored) or 1 (failed), but has {examples}: "
            "recode it to 0/1"
        )
    return mapped.to_numpy(dtype=int)


def _check_classes(event: np.ndarray, col: str) -> None:
    if event.size and event.max() == 0:
        raise DataError(
            f"event column {col!r} is 0 on every row (a single class, no failures): a survival model needs "
            "some observed failures, so add lifetimes that ended in failure"
        )


def covariates(frame: pd.DataFrame) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Numeric columns as they are, text columns one-hot (first level dropped), high-cardinality text ignored."""
    parts, ignored = [], []
    for col in frame.columns:
        s = frame[col]
        numeric = pd.to_numeric(s, errors="coerce")
        if numeric.notna().sum() >= 0.9 * s.notna().sum() and s.notna().any():
            parts.append(numeric.rename(str(col)).astype(float))
        elif s.nunique() <= MAX_LEVELS:
            parts.append(pd.get_dummies(s.astype(str), prefix=str(col), drop_first=True, dtype=float))
        else:
            ignored.append(str(col))
    if not parts:
        raise DataError(
            "no covariate columns besides duration and event: add at least one column to model on"
        )
    return pd.concat(parts, axis=1), tuple(ignored)


def load_lifetimes(
    path: str | Path, duration_col: str, event_col: str, id_col: str | None = None, sep: str = ","
) -> SurvivalData:
    """The lifetimes shape (see the module docstring). Zero durations become 1e-6 (models need > 0)."""
    frame = read_table(path, sep)
    _require(frame, duration_col, "--duration-col")
    _require(frame, event_col, "--event-col")
    _require(frame, id_col, "--id-col")
    if len(frame) < MIN_ROWS:
        raise DataError(
            f"{str(path)!r} has {len(frame)} rows: a backtest needs at least {MIN_ROWS} lifetimes"
        )
    time = np.maximum(_durations(frame, duration_col), 1e-6)
    event = _events(frame[event_col], event_col)
    _check_classes(event, event_col)
    groups = frame[id_col].astype(str).to_numpy() if id_col else np.arange(len(frame)).astype(str)
    rest = frame.drop(columns=[c for c in (duration_col, event_col, id_col) if c is not None])
    X, ignored = covariates(rest)
    return SurvivalData(X.reset_index(drop=True), time, event, groups.astype(object), ignored)


@dataclass(frozen=True)
class SeriesData:
    """Per-asset readings (``time`` column = age) with each asset's lifetime."""

    readings: dict[str, pd.DataFrame]
    lifetimes: tuple[Lifetime, ...]
    fields: tuple[str, ...]


def load_series(
    path: str | Path,
    id_col: str,
    time_col: str,
    event_col: str | None = None,
    sep: str = ",",
    header: bool = True,
) -> SeriesData:
    """The series shape (see the module docstring); without ``event_col`` every series ends in failure."""
    frame = read_table(path, sep, header)
    _require(frame, id_col, "--id-col")
    _require(frame, time_col, "--time-col")
    _require(frame, event_col, "--event-col")
    time = _durations(frame, time_col)
    frame = frame.assign(time=time)
    event = _events(frame[event_col], event_col) if event_col else np.ones(len(frame), dtype=int)
    frame = frame.assign(_event=event)
    skip = {id_col, time_col, event_col, "time", "_event"}
    fields = tuple(str(c) for c in frame.columns if c not in skip and pd.api.types.is_numeric_dtype(frame[c]))
    if not fields:
        raise DataError("the series file has no numeric reading columns besides id, time and event")
    readings: dict[str, pd.DataFrame] = {}
    lifetimes = []
    for asset, part in frame.groupby(id_col, sort=True):
        part = part.sort_values("time")
        key = str(asset)
        readings[key] = part[["time", *fields]].reset_index(drop=True)
        end = float(part["time"].iloc[-1])
        if end > 0:
            lifetimes.append(Lifetime(key, 0.0, end, bool(part["_event"].iloc[-1])))
    if len(lifetimes) < MIN_ROWS:
        raise DataError(
            f"the series file holds {len(lifetimes)} assets: a backtest needs at least {MIN_ROWS}"
        )
    _check_classes(np.array([int(x.event) for x in lifetimes]), event_col or "(all failed)")
    return SeriesData(readings, tuple(lifetimes), fields)


def series_table(data: SeriesData, spec: WindowSpec, step: float, first: float | None = None) -> SurvivalData:
    """Landmark rows from the series, through the live window-feature code."""

    table: LandmarkTable = landmark_table_fast(
        data.lifetimes,
        data.readings,
        {},
        spec,
        data.fields,
        step,
        spec.window if first is None else first,
        (),
    )
    if len(table.X) < MIN_ROWS:
        raise DataError(
            f"only {len(table.X)} landmark rows: the series are short for --window {spec.window} and --step {step}, "
            "lower them"
        )
    return SurvivalData(table.X, table.duration, table.event.astype(int), table.groups)
