"""Training: select, fit on all data, shrink toward Kaplan–Meier on out-of-fold predictions
(:mod:`predict.calibration`), choose the planner threshold, register.

Each candidate's out-of-fold P(T ≤ horizon) (5 folds grouped by asset) is shrunk toward Kaplan–Meier by the weight
chosen without the scored asset (:func:`predict.calibration.cross_fitted`); the candidate whose shrunk
probabilities have the lowest Brier score is served, with the weight chosen on all its out-of-fold rows — unless
the cross-fitted probabilities do not beat Kaplan–Meier, which is then served. The held-out Brier score recorded
is the cross-fitted one (only the choice among candidates was made on the same rows).

A kind with fewer than ``MIN_FAILED_ASSETS`` assets that failed is served Kaplan–Meier (no covariates): with so
few failures no covariate model can be checked on held-out rows. When every candidate fails to fit, FitFailed:
nothing is registered and the previous version stays in service.
A backtest that cannot run (too few assets or failures for its splits) is recorded as skipped, not an error.

The outcome at the horizon of a row whose landmark is less than the horizon before the data end is known only
when it failed, so such rows are left out of every held-out figure — the shrinkage weight, the held-out Brier
score and reliability table, the threshold (:func:`predict.threshold.known_at_end`).

The planner threshold comes from the served out-of-fold probabilities: the smallest P whose isotonic fitted
30-day failure rate reaches max(``reference_probability``, the kind's Kaplan–Meier rate)
(:func:`predict.threshold.choose_threshold`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import GroupKFold

from predict.backtest import run_backtest, subsample_assets
from predict.calibration import Calibrated, choose_weight, cross_fitted, reliability, renewal_curve
from predict.data import DataError, SurvivalData
from predict.metrics import kaplan_meier
from predict.models import FitFailed, SurvivalModel, default_candidates
from predict.registry import ModelRegistry, ModelVersion, new_version
from predict.threshold import REFERENCE_PROBABILITY, choose_threshold, kaplan_meier_rate, outcome_event

#: below this many assets with a failure, a kind is served Kaplan–Meier
MIN_FAILED_ASSETS = 5
#: grouped folds of the out-of-fold predictions the shrinkage weight is chosen and checked on (more folds: fold
#: models closer to the one fitted on everything, so less shrinkage toward Kaplan–Meier than it needs)
CALIBRATION_FOLDS = 5
#: model selection compares candidates on the rows of a random subset of assets holding about this many rows
SELECTION_ROWS = 6000


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
    p_model, p_km, _ = out_of_fold_folds(model, data, horizon, folds, seed)
    return p_model, p_km


def out_of_fold_folds(
    model: SurvivalModel | None, data: SurvivalData, horizon: float, folds: int = 3, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`out_of_fold` and the fold each row was held out in."""
    y = data.y
    out = np.full(len(data.X), np.nan)
    km = np.full(len(data.X), np.nan)
    fold = np.zeros(len(data.X), dtype=int)
    cv = GroupKFold(n_splits=max(2, min(folds, data.subjects)), shuffle=True, random_state=seed)
    for k, (tr, te) in enumerate(cv.split(data.X, groups=data.groups)):
        fold[te] = k
        km[te] = 1.0 - float(kaplan_meier(y["time"][tr], y["event"][tr])(np.array([horizon]))[0])
        if model is None:
            continue
        try:
            fitted = clone(model).fit(data.X.iloc[tr], y[tr])
        except (FitFailed, ValueError):
            continue
        out[te] = 1.0 - fitted.predict_survival(data.X.iloc[te], [horizon])[:, 0]
    return out, km, fold


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
    reference_probability: float = REFERENCE_PROBABILITY,
    seed: int = 0,
) -> ModelVersion:
    """Backtest, select, fit on everything, calibrate and register; raises DataError when there are no rows.
    ``reference_probability``: ``Settings.plan_reference_probability`` (the threshold's target rate)."""
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
    selection_info: dict[str, Any] = {"criterion": f"cross_fitted_calibrated_brier_{horizon:g}d"}
    # held-out figures count only rows whose outcome at the horizon would be known whatever it was
    event_known = outcome_event(data.time, data.event, horizon)
    base, name, oof = _select_and_fit(data, candidates, horizon, seed, selection_info, event_known)
    if oof is None:
        p_km = out_of_fold_folds(None, data, horizon, CALIBRATION_FOLDS, seed)[1]
        p_model = np.full(len(data.X), np.nan)
    else:
        p_model, p_km = oof
    cal: dict[str, Any] = {"weight": 0.0}
    honest: dict[str, Any] = {"prob": p_km}
    if base is not None:
        cal = choose_weight(p_model, p_km, data.time, event_known, horizon)
        honest = cross_fitted(p_model, p_km, data.time, event_known, horizon, data.groups)
        if cal["weight"] > 0 and not honest["beats_km"]:
            # the weight looked useful on the rows it was chosen on, not on rows it did not see
            cal |= {"weight": 0.0, "reason": "the cross-fitted model does not beat Kaplan–Meier"}
    weight = float(cal["weight"])
    model = Calibrated(base, weight).fit(data.X, data.y)
    if data.renewals:
        model.renewal_ = renewal_curve([r[0] for r in data.renewals], [r[1] for r in data.renewals])
    # held-out figures and the planner's threshold on the cross-fitted probabilities (as served: shrunk)
    prob = honest["prob"] if weight > 0 else p_km
    served = name if model.base_ is not None else "kaplan_meier"
    threshold = choose_threshold(
        prob,
        data.time,
        data.event,
        horizon,
        reference_probability=reference_probability,
        km_rate=kaplan_meier_rate(data.time, data.event, horizon),
        served_km=served == "kaplan_meier",
    )
    meta = ModelVersion(
        kind=kind,
        version=new_version(now),
        model=served,
        created=now.astimezone(dt.UTC).isoformat(),
        features=tuple(str(c) for c in data.X.columns),
        metrics={
            "selection": selection_info,
            "held_out": _held_out(prob, p_km, data, event_known, horizon, cal, served),
            "backtest": report,
        },
        data={"n": data.subjects, "rows": len(data.X), "events": data.subject_events, **(data_range or {})},
        features_spec=dict(features_spec or {}),
        threshold=threshold,
        time_unit=time_unit,
    )
    return registry.save(model, meta)


def _subset(data: SurvivalData, idx: np.ndarray) -> SurvivalData:
    return SurvivalData(
        data.X.iloc[idx].reset_index(drop=True), data.time[idx], data.event[idx], data.groups[idx]
    )


def _select_and_fit(
    data: SurvivalData,
    candidates: Mapping[str, SurvivalModel],
    horizon: float,
    seed: int,
    info: dict[str, Any],
    event_known: np.ndarray,
) -> tuple[SurvivalModel | None, str, tuple[np.ndarray, np.ndarray] | None]:
    """The candidate whose *calibrated* out-of-fold probabilities have the best cross-fitted Brier score,
    fitted on every row, with its out-of-fold P(T ≤ horizon) and Kaplan–Meier's on every row — or
    (None, "kaplan_meier", None) when the data hold too few failures (the reason goes into ``info``).
    Raises FitFailed when every candidate fails.

    Candidates are compared on what would be served — each one's out-of-fold probabilities shrunk toward
    Kaplan–Meier by the weight chosen without the scored asset (:func:`predict.calibration.cross_fitted`) —
    not on their raw probabilities: compared raw, a ridge-penalised Cox model whose probabilities are merely
    less extreme was chosen over one that ranked better (on a held-out fleet of lifts C 0.64 against the
    plain Cox model's 0.69), although the shrinkage that follows corrects the extremes. With more than
    ``SELECTION_ROWS`` rows the comparison runs on a random subset of assets. ``event_known``: the events with
    the failures of rows less than the horizon before the data end censored (the scoring's outcomes)."""
    if data.subject_events < MIN_FAILED_ASSETS:
        info["reason"] = (
            f"{data.subject_events} assets with a failure (fewer than {MIN_FAILED_ASSETS}): Kaplan–Meier is served"
        )
        info["min_failed_assets"] = MIN_FAILED_ASSETS
        return None, "kaplan_meier", None
    idx = subsample_assets(data.groups, np.arange(len(data.X)), SELECTION_ROWS, seed, 2 * CALIBRATION_FOLDS)
    sub = data if idx.size == len(data.X) else _subset(data, idx)
    scores: dict[str, float] = {}
    oof: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, candidate in candidates.items():
        p_model, p_km, _ = out_of_fold_folds(candidate, sub, horizon, CALIBRATION_FOLDS, seed)
        honest = cross_fitted(p_model, p_km, sub.time, event_known[idx], horizon, sub.groups)
        # a candidate that failed to fit any fold is out, as in cross-validated selection
        ok = bool(np.all(np.isfinite(p_model))) and "brier" in honest
        scores[name] = float(honest["brier"]) if ok else float("inf")
        oof[name] = (p_model, p_km)
    info["cross_fitted_brier"] = scores
    info["rows_compared"] = int(idx.size)
    for name in sorted(scores, key=lambda n: scores[n]):
        if not np.isfinite(scores[name]):
            break
        try:
            fitted = clone(candidates[name]).fit(data.X, data.y)
        except FitFailed:
            continue
        if sub is not data:
            p_model, p_km, _ = out_of_fold_folds(candidates[name], data, horizon, CALIBRATION_FOLDS, seed)
            oof[name] = (p_model, p_km)
        return fitted, name, oof[name]
    raise FitFailed(
        "every candidate model failed to fit: check the covariates for constant or duplicate columns"
    )


def _held_out(
    prob: np.ndarray,
    p_km: np.ndarray,
    data: SurvivalData,
    event_known: np.ndarray,
    horizon: float,
    cal: Mapping[str, Any],
    served: str,
) -> dict[str, Any]:
    """Out-of-fold Brier score at the horizon of what is served and of the Kaplan–Meier constant, and the
    reliability table of the served probabilities (rows whose outcome at the horizon is known whatever it was:
    ``event_known``, :func:`predict.threshold.outcome_event`)."""
    failed = (data.time <= horizon) & (event_known == 1)
    known = failed | (data.time > horizon)
    y = failed[known].astype(float)
    p = prob[known]
    out: dict[str, Any] = {
        "horizon_days": horizon,
        "served": served,
        "weight": cal.get("weight", 0.0),
        "rows": int(y.size),
        "failed": int(y.sum()),
        # failures within the horizon less than the horizon before the data end (outcome known only as failed)
        "excluded_near_end": int(((data.time <= horizon) & (data.event == 1) & (event_known == 0)).sum()),
        # each fold scored with the weight chosen on the other folds (predict.calibration.cross_fitted)
        "weight_choice": "cross-fitted",
    }
    if "reason" in cal:
        out["reason"] = cal["reason"]
    if y.size:
        out |= {
            "brier": round(float(np.mean((p - y) ** 2)), 5),
            "brier_km": round(float(np.mean((p_km[known] - y) ** 2)), 5),
            "brier_model_uncalibrated": cal.get("brier_model_uncalibrated"),
            "reliability": reliability(p, y),
        }
    return out
