"""Forecast per asset: the conditional survival curve from now, failure probabilities, window, risk, drivers.

Two conventions for what a model's time axis means (``ModelVersion.features_spec``):

- **landmark** (telemetry models): the model was trained on residual life from landmark times with covariates
  measured just before each landmark (``since_repair`` among them), so ``S(u | x(now))`` *is* the survival
  curve from now, conditional on the asset running now.
- **static** (lifetimes models, covariates fixed over life): durations run from install / last repair, so the
  curve from now is conditioned on having survived to the current age a:
  ``S(u | T > a, x) = S(a + u | x) / S(a | x)``.

From the conditional curve S_c(u): ``P(fail within h) = 1 − S_c(h)``; the failure window is
``[q₀.₂, q₀.₈]`` with ``q_p = inf{u : 1 − S_c(u) ≥ p}`` (None when beyond the curve's horizon);
``risk = P(fail within risk_horizon) × criticality``; drivers are the covariates with the largest
contributions to the model's risk score (positive = pushes failure earlier); a driver that the asset's peers
(same kind) share is marked ``common`` and its words say so ("its peers alike": a season, not this asset).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from predict.calibration import P_FLOOR, renewed_survival
from predict.explain import describe
from predict.models import SurvivalModel

HORIZONS_DAYS = (7, 30, 90)


@dataclass(frozen=True)
class Driver:
    name: str
    value: float
    contribution: float
    #: the driver in words with units, Chinese and English (:func:`predict.explain.describe`)
    text: str = ""
    text_en: str = ""
    #: the asset's peers (same kind, forecast together) have most of this contribution too: it does not single
    #: the asset out (a reading that follows the season, a fleet-wide change); the texts say so
    common: bool = False


@dataclass(frozen=True)
class AssetInput:
    """What the forecast needs to know about one asset besides its covariates."""

    asset: str
    kind: str
    criticality: int = 3
    #: time since install or last repair (days): used by static models only
    age_days: float = 0.0

    def __post_init__(self) -> None:
        if not 1 <= self.criticality <= 5:
            raise ValueError(f"criticality of {self.asset!r} must be 1..5, but was {self.criticality!r}")


@dataclass(frozen=True)
class Forecast:
    asset: str
    kind: str
    now: dt.datetime
    model_version: str
    #: days from now and the conditional survival probability at each
    curve_days: tuple[float, ...]
    survival: tuple[float, ...]
    p_fail: Mapping[int, float]
    window_start: dt.datetime | None
    window_end: dt.datetime | None
    criticality: int
    risk_horizon_days: int
    risk: float
    drivers: tuple[Driver, ...] = field(default=())

    def probability(self, horizon_days: int) -> float:
        if horizon_days in self.p_fail:
            return self.p_fail[horizon_days]
        return float(1.0 - np.interp(horizon_days, self.curve_days, self.survival))


@dataclass(frozen=True)
class ForecastSettings:
    horizons: tuple[int, ...] = HORIZONS_DAYS
    risk_horizon: int = 30
    curve_days: float = 365.0
    curve_points: int = 74
    window: tuple[float, float] = (0.2, 0.8)
    drivers: int = 3
    #: explain (compute drivers for) only the riskiest N assets; None = all
    explain_top: int | None = 200
    #: assets repaired less than this many days ago (``since_repair``) get the model's renewal curve, when it
    #: has one (:mod:`predict.calibration`); the feature window (None: never)
    renewal_days: float | None = None

    def grid(self) -> np.ndarray:
        grid = np.linspace(0.0, self.curve_days, self.curve_points)
        extra = np.asarray([*self.horizons, self.risk_horizon], dtype=float)
        return np.unique(np.concatenate([grid, extra]))


def conditional_survival(
    model: SurvivalModel, X: pd.DataFrame, grid: np.ndarray, mode: str, age: np.ndarray | None = None
) -> np.ndarray:
    """Rows: assets; columns: ``grid`` (days from now); see the module docstring for ``mode``."""
    if mode == "landmark":
        return model.predict_survival(X, grid)
    if mode != "static":
        raise ValueError(f"mode must be 'landmark' or 'static', but was {mode!r}")
    ages = np.zeros(len(X)) if age is None else np.asarray(age, dtype=float)
    out = np.empty((len(X), grid.size))
    for a in np.unique(ages):
        rows = np.flatnonzero(ages == a)
        s = model.predict_survival(X.iloc[rows], np.concatenate([[a], a + grid]))
        base = np.maximum(s[:, :1], 1e-12)
        out[rows] = np.clip(s[:, 1:] / base, 0.0, 1.0)
    return np.minimum.accumulate(out, axis=1)


def _quantile(grid: np.ndarray, s: np.ndarray, p: float) -> float | None:
    """inf{u : 1 − S(u) ≥ p}, linearly interpolated between grid points; None if not reached."""
    f = 1.0 - s
    hit = np.flatnonzero(f >= p)
    if hit.size == 0:
        return None
    k = int(hit[0])
    if k == 0:
        return float(grid[0])
    f0, f1 = f[k - 1], f[k]
    frac = (p - f0) / (f1 - f0) if f1 > f0 else 1.0
    return float(grid[k - 1] + frac * (grid[k] - grid[k - 1]))


def _quantiles(grid: np.ndarray, s: np.ndarray, p: float) -> np.ndarray:
    """:func:`_quantile` for every row of ``s`` at once (NaN where not reached)."""
    f = 1.0 - s
    reached = f >= p
    k = np.argmax(reached, axis=1)
    rows = np.arange(s.shape[0])
    f0 = f[rows, np.maximum(k - 1, 0)]
    f1 = f[rows, k]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(f1 > f0, (p - f0) / np.where(f1 > f0, f1 - f0, 1.0), 1.0)
    q = grid[np.maximum(k - 1, 0)] + frac * (grid[k] - grid[np.maximum(k - 1, 0)])
    q = np.where(k == 0, grid[0], q)
    return np.where(reached.any(axis=1), q, np.nan)


#: said of a driver that the asset's peers share (:func:`_common_contributions`)
COMMON_ZH = "（同类设备普遍如此）"
COMMON_EN = " (its peers alike)"
#: a driver is common when the median peer has at least this share of the asset's contribution, same sign
COMMON_SHARE = 0.8
#: fewer explained assets of a kind than this: no peers to compare with
MIN_PEERS = 3


def _common_contributions(values: np.ndarray, kinds: Sequence[str]) -> np.ndarray:
    """Per (asset, covariate): is the contribution shared by the asset's peers — the median contribution over the
    explained assets of its kind has the same sign and at least ``COMMON_SHARE`` of its size? Such a driver pushes
    every peer alike (in the demo: December's car temperature for every lift), so it does not say why this asset."""
    out = np.zeros(values.shape, dtype=bool)
    kinds_arr = np.asarray(kinds, dtype=object)
    for kind in set(kinds):
        rows = np.flatnonzero(kinds_arr == kind)
        if rows.size < MIN_PEERS:
            continue
        median = np.median(values[rows], axis=0)
        v = values[rows]
        out[rows] = (np.sign(v) == np.sign(median)) & (np.abs(median) >= COMMON_SHARE * np.abs(v)) & (v != 0)
    return out


def forecast_assets(
    model: SurvivalModel,
    model_version: str,
    X: pd.DataFrame,
    assets: Sequence[AssetInput],
    now: dt.datetime,
    mode: str = "landmark",
    settings: ForecastSettings | None = None,
) -> list[Forecast]:
    """Forecasts for ``assets`` (row i of ``X`` holds asset i's covariates at ``now``), riskiest first."""
    if len(X) != len(assets):
        raise ValueError(f"{len(X)} covariate rows for {len(assets)} assets: give one row per asset")
    if not assets:
        return []
    cfg = settings or ForecastSettings()
    grid = cfg.grid()
    X = X.reset_index(drop=True)
    surv = conditional_survival(model, X, grid, mode, np.array([a.age_days for a in assets]))
    renewal = getattr(model, "renewal_", None)
    renewed = np.zeros(len(X), dtype=bool)
    if renewal is not None and cfg.renewal_days is not None and "since_repair" in X.columns:
        since = X["since_repair"].to_numpy(dtype=float)
        renewed = np.isfinite(since) & (since < cfg.renewal_days)
        if renewed.any():
            surv[renewed] = renewed_survival(renewal, np.maximum(since[renewed], 0.0), grid)
    p_cols = {h: int(np.searchsorted(grid, h)) for h in cfg.horizons}
    risk_col = int(np.searchsorted(grid, cfg.risk_horizon))
    crit = np.array([a.criticality for a in assets], dtype=float)
    risk = (1.0 - surv[:, risk_col]) * crit
    order = np.argsort(-risk, kind="stable")
    explain = order if cfg.explain_top is None else order[: cfg.explain_top]
    drivers: dict[int, tuple[Driver, ...]] = {}
    window = cfg.renewal_days or 14.0
    if cfg.drivers > 0 and explain.size:
        contrib = model.contributions(X.iloc[explain])
        if contrib.shape[1]:
            values = contrib.to_numpy(dtype=float)
            names = list(contrib.columns)
            raw = X[names].to_numpy(dtype=float)[explain]
            all_names, all_raw = list(X.columns), X.to_numpy(dtype=float)
            common = _common_contributions(values, [assets[int(i)].kind for i in explain])
            for j, i in enumerate(explain):
                if renewed[i]:
                    continue
                row = dict(zip(all_names, all_raw[int(i)].tolist(), strict=True))
                kind = assets[int(i)].kind
                top = np.argsort(-np.abs(values[j]))[: cfg.drivers]
                drivers[int(i)] = tuple(
                    Driver(
                        names[k],
                        float(raw[j, k]),
                        round(float(values[j, k]), 4),
                        describe(kind, names[k], row, window, "zh") + (COMMON_ZH if common[j, k] else ""),
                        describe(kind, names[k], row, window, "en") + (COMMON_EN if common[j, k] else ""),
                        bool(common[j, k]),
                    )
                    for k in top
                    if values[j, k] != 0
                )
        for i in np.flatnonzero(renewed):
            d = float(X["since_repair"].iloc[int(i)])
            drivers[int(i)] = (
                Driver(
                    "since_repair",
                    d,
                    0.0,
                    f"{d:.1f} 天前维修过：按同类设备修后的故障曲线预测",
                    f"repaired {d:.1f} days ago: forecast from the kind's post-repair survival",
                ),
            )
    out = []
    lo, hi = cfg.window
    curve_days = tuple(float(g) for g in grid)
    # a forecast is never certain: probabilities stay inside [P_FLOOR, 1 − P_FLOOR] (the curve at u = 0 is 1)
    shown = np.clip(surv, P_FLOOR, 1.0 - P_FLOOR)
    shown[:, grid <= 0] = 1.0
    rounded = np.round(shown, 6)
    p_fail = np.round(np.clip(1.0 - surv[:, list(p_cols.values())], P_FLOOR, 1.0 - P_FLOOR), 6)
    q_lo, q_hi = _quantiles(grid, surv, lo), _quantiles(grid, surv, hi)
    for i in order:
        a = assets[i]
        out.append(
            Forecast(
                asset=a.asset,
                kind=a.kind,
                now=now,
                model_version=model_version,
                curve_days=curve_days,
                survival=tuple(rounded[i].tolist()),
                p_fail=dict(zip(p_cols, p_fail[i].tolist(), strict=True)),
                window_start=None if np.isnan(q_lo[i]) else now + dt.timedelta(days=float(q_lo[i])),
                window_end=None if np.isnan(q_hi[i]) else now + dt.timedelta(days=float(q_hi[i])),
                criticality=a.criticality,
                risk_horizon_days=cfg.risk_horizon,
                risk=round(float(risk[i]), 6),
                drivers=drivers.get(int(i), ()),
            )
        )
    return out
