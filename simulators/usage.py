"""Usage patterns and weather: pure, vectorised functions of epoch milliseconds.

The estates are in China (UTC+8, no daylight saving); usage follows local time. Every function accepts a
numpy array of timestamps (or a scalar) and returns an array of the same shape.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from facility.contract import AssetKind

Array = npt.NDArray[np.float64]

#: local time of the estates relative to UTC
LOCAL_UTC_OFFSET_S = 8 * 3600
_DAY_S = 86_400.0

# (centre hour, width hours, amplitude) of the daily peaks; `base` is the night floor
_PROFILES: dict[AssetKind, dict[str, tuple[float, tuple[tuple[float, float, float], ...]]]] = {
    AssetKind.ELEVATOR: {
        "weekday": (0.04, ((8.0, 1.0, 1.0), (12.5, 1.5, 0.35), (18.5, 1.5, 0.9), (14.0, 5.0, 0.25))),
        "weekend": (0.04, ((10.0, 2.0, 0.6), (17.5, 2.5, 0.6), (14.0, 5.0, 0.2))),
    },
    AssetKind.WATER_PUMP: {
        "weekday": (0.12, ((7.0, 1.2, 0.9), (12.0, 1.5, 0.3), (19.5, 1.6, 0.85))),
        "weekend": (0.12, ((9.0, 2.0, 0.75), (19.5, 2.0, 0.85))),
    },
    AssetKind.SMART_BIN: {
        "weekday": (0.02, ((7.5, 1.5, 0.7), (19.0, 2.0, 1.0))),
        "weekend": (0.02, ((10.0, 2.5, 0.8), (19.0, 2.5, 1.0))),
    },
}


def local_hour(ts_ms: npt.ArrayLike) -> Array:
    """Hour of the local day in [0, 24)."""
    s = np.asarray(ts_ms, dtype=np.float64) / 1000.0 + LOCAL_UTC_OFFSET_S
    return np.asarray(np.mod(s, _DAY_S) / 3600.0)


def local_day(ts_ms: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Local calendar day number (days since 1970-01-01 local)."""
    s = np.asarray(ts_ms, dtype=np.float64) / 1000.0 + LOCAL_UTC_OFFSET_S
    return np.floor(s / _DAY_S).astype(np.int64)


def is_weekend(ts_ms: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    # 1970-01-01 was a Thursday (weekday 3); Saturday = 5, Sunday = 6
    return np.asarray(np.mod(local_day(ts_ms) + 3, 7) >= 5)


def _profile(hour: Array, spec: tuple[float, tuple[tuple[float, float, float], ...]]) -> Array:
    base, peaks = spec
    out = np.full_like(hour, base)
    for centre, width, amp in peaks:
        d = np.abs(hour - centre)
        d = np.minimum(d, 24.0 - d)  # wrap around midnight
        out += amp * np.exp(-0.5 * (d / width) ** 2)
    return np.asarray(np.minimum(out, 1.0))


def _usage_exact(kind: AssetKind, ts: Array) -> Array:
    if kind is AssetKind.FIRE_ALARM:
        return np.ones_like(ts)
    hour = local_hour(ts)
    weekend = is_weekend(ts)
    prof = _PROFILES[kind]
    return np.asarray(np.where(weekend, _profile(hour, prof["weekend"]), _profile(hour, prof["weekday"])))


_WEEK_MIN = 7 * 24 * 60
#: usage per minute of the local week, Monday 00:00 first (1970-01-05 was a Monday)
_TABLES = {
    kind: _usage_exact(
        kind, (np.arange(_WEEK_MIN, dtype=np.float64) * 60.0 + 4 * _DAY_S - LOCAL_UTC_OFFSET_S) * 1000
    )
    for kind in AssetKind
}


def usage(kind: AssetKind, ts_ms: npt.ArrayLike) -> Array:
    """Relative use intensity in [0, 1] at local time: elevator trips, water demand, bin lid openings.

    Fire-alarm panels have no use cycle: their intensity is a constant 1 (they wear with age only).
    Looked up per minute of the local week (the profile is a sum of Gaussian peaks over the hour of day,
    one shape for weekdays and one for weekends).
    """
    minute = _week_minute(np.asarray(ts_ms, dtype=np.float64)) % _WEEK_MIN
    return np.asarray(_TABLES[kind][minute])


_CUMULATIVE = {kind: np.concatenate(([0.0], np.cumsum(table))) for kind, table in _TABLES.items()}


def _week_minute(ts_ms: Array) -> npt.NDArray[np.int64]:
    """Minutes since a local Monday 00:00 (not wrapped)."""
    return np.floor((ts_ms / 1000.0 + LOCAL_UTC_OFFSET_S - 4 * _DAY_S) / 60.0).astype(np.int64)


def step_usage(kind: AssetKind, start_ms: npt.ArrayLike, end_ms: npt.ArrayLike) -> Array:
    """Mean use intensity over each step ``[start, end)``: exact for any step length (no aliasing of
    coarse steps onto the daily pattern). Steps shorter than a minute take the value at their start."""
    lo = _week_minute(np.asarray(start_ms, dtype=np.float64))
    hi = _week_minute(np.asarray(end_ms, dtype=np.float64))
    cum = _CUMULATIVE[kind]

    def integral(m: npt.NDArray[np.int64]) -> Array:
        return np.asarray((m // _WEEK_MIN) * cum[-1] + cum[m % _WEEK_MIN])

    span = hi - lo
    point = _TABLES[kind][lo % _WEEK_MIN]
    return np.asarray(np.where(span > 0, (integral(hi) - integral(lo)) / np.maximum(span, 1), point))


def mean_usage(kind: AssetKind) -> float:
    """Average of `usage` over a week (used to calibrate wear rates)."""
    return float(_TABLES[kind].mean())


def outdoor_temp_c(ts_ms: npt.ArrayLike) -> Array:
    """A North-China climate: about 0 °C in mid-January, 28 °C in mid-July, ±5 °C between night and day."""
    ts = np.asarray(ts_ms, dtype=np.float64)
    day_of_year = np.mod(ts / 1000.0 / _DAY_S, 365.2425)
    seasonal = 14.0 - 14.0 * np.cos(2 * np.pi * (day_of_year - 15.0) / 365.2425)
    diurnal = 5.0 * np.cos(2 * np.pi * (local_hour(ts) - 15.0) / 24.0)
    return np.asarray(seasonal + diurnal)
