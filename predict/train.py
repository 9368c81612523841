"""Training: select by cross-validated Brier score at the horizon, fit on all data, shrink toward Kaplan–Meier
on out-of-fold predictions (:mod:`predict.calibration`), choose the planner threshold, register.

A kind with fewer than ``MIN_FAILED_ASSETS`` assets that failed is served Kaplan–Meier (no covariates): with so
few failures no covariate model can be checked on held-out rows. When every candidate fails to fit, FitFailed:
nothing is registered and the previous version stays in service.
A backtest that cannot run (too few assets or failures for its splits) is recorded as skipped, not an error.

The planner threshold comes from out-of-fold predictions, not a guess: for horizon H, each held-out row has
p = P(T ≤ H | x) = 1 − S(H | x) and a known outcome where it can be known (failed by H: 1; still running at H:
0; censored before H: unknown, skipped). The threshold is the smallest p at which at least ``min_precision``
of the rows flagged failed within H (few false alarms), among thresholds flagging at least one row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import GroupKFold

from predict.backtest import run_backtest, select_model
from predict.calibration import Calibrated, choose_weight, reliability, renewal_curve
from predict.data import DataError, SurvivalData
from predict.metrics import kaplan_meier
from predict.models import FitFailed, SurvivalModel, default_candidates
from predict.registry import ModelRegistry, ModelVersion, new_version

#: below this many assets with a failure, a kind is served Kaplan–Meier
MIN_FAILED_ASSETS = 5


def out_of_fold_probability(
    model: SurvivalModel, data: SurvivalData, horizon: float, folds: int = 3, seed: int = 0
) -> np.ndarray:
    """P(T ≤ horizon | x) for every row, each predicted by a model that did not see that row's asset."""
    return out_of_fold(model, data, horizon, folds, seed)[0]


def out_of_fold(
    model: SurvivalModel | None, data: SurvivalData, horizon: float, folds: int = 3, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold P(T ≤ horizon) of ``model`` and of Kaplan–Meier, each row predicted by fits that did not see
    its asset (NaN where the model failed to fit that fold)."""
    y = data.y
    out = np.full(len(data.X), np.nan)
    km = np.full(len(data.X), np.nan)
    cv = GroupKFold(n_splits=max(2, min(folds, data.subjects)), shuffle=True, random_state=seed)
    for tr, te in cv.split(data.X, groups=data.groups):
        km[te] = 1.0 - float(kaplan_meier(y["time"][tr], y["event"][tr])(np.array([horizon]))[0])
        if model is None:
            continue
        try:
            fitted = clone(model).fit(data.X.iloc[tr], y[tr])
        except (FitFailed, ValueError):
            continue
        out[te] = 1.0 - fitted.predict_survival(data.X.iloc[te], [horizon])[:, 0]
    return out, km


def choose_threshold(
    prob: np.ndarray, time: np.ndarray, event: np.ndarray, horizon: float, min_precision: float = 0.5
) -> dict[str, Any]:
    """The smallest probability threshold with precision ≥ ``min_precision`` (see the module docstring)."""
    failed = (time <= horizon) & (event == 1)
    known = failed | (time > horizon)
    p, outcome = prob[known], failed[known].astype(float)
    result: dict[str, Any] = {"horizon": horizon, "min_precision": min_precision, "rows": int(known.sum())}
    if outcome.sum() == 0:
        return result | {"probability": None, "reason": "no failures within the horizon in the data"}
    order = np.argsort(-p)
    hits = np.cumsum(outcome[order])
    flagged = np.arange(1, p.size + 1)
    precision = hits / flagged
    ok = np.flatnonzero(precision >= min_precision)
    if ok.size == 0:
        return result | {"probability": None, "reason": f"no threshold reaches precision {min_precision}"}
    k = int(ok.max())  # the most rows flagged while keeping the precision
    return result | {
        "probability": round(float(p[order][k]), 4),
        "precision": round(float(precision[k]), 4),
        "recall": round(float(hits[k] / outcome.sum()), 4),
    }


def train_model(
    data: SurvivalData,
    kind: str,
    registry: ModelRegistry,
    now: dt.datetime,
    *,
    horizon: float = 30.0,
    splits: int = 3,
    candidates: Mapping[str, SurvivalModel] | None = None,
    data_range: Mapping[str, Any] | None = None,
    features_spec: Mapping[str, Any] | None = None,
    time_unit: str = "days",
    min_precision: float = 0.5,
    seed: int = 0,
) -> ModelVersion:
    """Backtest, select, fit on everything, calibrate and register; raises DataError when there are no rows."""
    if len(data.X) == 0:
        raise DataError(f"no training rows for {kind}: ingest telemetry and fault events first")
    candidates = dict(candidates or default_candidates())
    report: dict[str, Any] = {}
    if splits > 0 and data.subject_events < MIN_FAILED_ASSETS:
        report = {"skipped": f"{data.subject_events} assets with a failure: too few for a backtest"}
    elif splits > 0:
        try:
            report = run_backtest(data, splits=splits, seed=seed, candidates=candidates)
        except (DataError, FitFailed) as exc:
            report = {"skipped": str(exc)}
    selection_info: dict[str, Any] = {"criterion": f"brier_{horizon:g}d"}
    base, name = _select_and_fit(data, candidates, horizon, seed, selection_info)
    p_model, p_km = out_of_fold(candidates[name] if base is not None else None, data, horizon, seed=seed)
    cal = (
        choose_weight(p_model, p_km, data.time, data.event, horizon) if base is not None else {"weight": 0.0}
    )
    weight = float(cal["weight"])
    model = Calibrated(base, weight).fit(data.X, data.y)
    if data.renewals:
        model.renewal_ = renewal_curve([r[0] for r in data.renewals], [r[1] for r in data.renewals])
    prob = np.where(np.isfinite(p_model), weight * p_model + (1.0 - weight) * p_km, p_km)
    threshold = choose_threshold(prob, data.time, data.event, horizon, min_precision)
    served = name if model.base_ is not None else "kaplan_meier"
    meta = ModelVersion(
        kind=kind,
        version=new_version(now),
        model=served,
        created=now.astimezone(dt.UTC).isoformat(),
        features=tuple(str(c) for c in data.X.columns),
        metrics={
            "selection": selection_info,
            "held_out": _held_out(prob, p_km, data, horizon, cal, served),
            "backtest": report,
        },
        data={"n": data.subjects, "rows": len(data.X), "events": data.subject_events, **(data_range or {})},
        features_spec=dict(features_spec or {}),
        threshold=threshold,
        time_unit=time_unit,
    )
    return registry.save(model, meta)


def _select_and_fit(
    data: SurvivalData,
    candidates: Mapping[str, SurvivalModel],
    horizon: float,
    seed: int,
    info: dict[str, Any],
) -> tuple[SurvivalModel | None, str]:
    """The candidate with the best CV Brier score, fitted on every row — or (None, "kaplan_meier") when the data
    hold too few failures (the reason goes into ``info``). Raises FitFailed when every candidate fails."""
    if data.subject_events < MIN_FAILED_ASSETS:
        info["reason"] = (
            f"{data.subject_events} assets with a failure (fewer than {MIN_FAILED_ASSETS}): Kaplan–Meier is served"
        )
        return None, "kaplan_meier"
    # the planner thresholds P(failure within the horizon): choose the model whose probabilities are right, not
    # only well ranked (concordance cannot tell an overconfident model from a calibrated one); FitFailed when
    # every candidate fails: the previous version stays in service
    selection = select_model(
        data, np.arange(len(data.X)), candidates, seed=seed, criterion="brier", horizon=horizon
    )
    info["cv_minus_brier"] = selection.scores
    for name in sorted(selection.scores, key=lambda n: -selection.scores[n]):
        if not np.isfinite(selection.scores[name]):
            break
        try:
            return clone(candidates[name]).fit(data.X, data.y), name
        except FitFailed:
            continue
    raise FitFailed("every candidate failed to fit on all the rows")


def _held_out(
    prob: np.ndarray,
    p_km: np.ndarray,
    data: SurvivalData,
    horizon: float,
    cal: Mapping[str, Any],
    served: str,
) -> dict[str, Any]:
    """Out-of-fold Brier score at the horizon of what is served and of the Kaplan–Meier constant, and the
    reliability table of the served probabilities (rows whose outcome at the horizon is known)."""
    failed = (data.time <= horizon) & (data.event == 1)
    known = failed | (data.time > horizon)
    y = failed[known].astype(float)
    p = prob[known]
    out: dict[str, Any] = {
        "horizon_days": horizon,
        "served": served,
        "weight": cal.get("weight", 0.0),
        "rows": int(y.size),
        "failed": int(y.sum()),
    }
    if y.size:
        out |= {
            "brier": round(float(np.mean((p - y) ** 2)), 5),
            "brier_km": round(float(np.mean((p_km[known] - y) ** 2)), 5),
            "brier_model_uncalibrated": cal.get("brier_model_uncalibrated"),
            "reliability": reliability(p, y),
        }
    return out
