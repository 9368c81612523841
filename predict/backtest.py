"""Backtests: model selection by cross-validated concordance, scored on held-out assets.

Each of ``splits`` random splits holds out ``test_size`` of the *subjects* (all rows of an asset stay on one
side). On the training part, every candidate model is scored by Harrell's C over ``inner_folds`` grouped
folds; the best is refitted on the whole training part and scored on the test part with Harrell's C, Uno's C
and the integrated Brier score (IPCW, over the 10%–90% quantiles of the test times). Kaplan-Meier and the
plain (unpenalised) Cox model are scored on the same splits as baselines. Figures are averaged over splits.
"""

from __future__ import annotations

import time as _time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import GroupKFold, GroupShuffleSplit

from predict.data import DataError, SurvivalData
from predict.metrics import brier_scores, evaluation_grid, harrell_c, integrated_brier_score, uno_c
from predict.models import CoxPH, FitFailed, KaplanMeierModel, SurvivalModel, default_candidates

#: penalizers tried in turn for the Cox baseline (0 = plain); the first that converges is used
COX_BASELINE_PENALIZERS = (0.0, 1e-3, 1e-2, 1e-1)
#: model selection: "concordance" ranks assets; "brier" (at a horizon) also needs calibrated probabilities
CRITERIA = ("concordance", "brier")
METRICS = ("c_index_harrell", "c_index_uno", "integrated_brier_score", "fit_seconds", "predict_seconds")


@dataclass
class Selection:
    name: str
    scores: dict[str, float] = field(default_factory=dict)


def cv_score(
    model: SurvivalModel,
    data: SurvivalData,
    idx: np.ndarray,
    folds: int,
    seed: int = 0,
    criterion: str = "concordance",
    horizon: float = 30.0,
) -> float:
    """Mean cross-validated score of ``model`` over grouped folds of the rows ``idx``, higher is better:
    Harrell's C (``criterion="concordance"``), or minus the IPCW Brier score of P(failure within ``horizon``)
    (``"brier"``), −inf when a fit fails."""
    if criterion not in CRITERIA:
        raise ValueError(f"unknown selection criterion {criterion!r}: choose from {CRITERIA}")
    y = data.y
    scores = []
    cv = GroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    for tr, te in cv.split(idx, groups=data.groups[idx]):
        a, b = idx[tr], idx[te]
        try:
            fitted = clone(model).fit(data.X.iloc[a], y[a])
            if criterion == "concordance":
                scores.append(harrell_c(y["time"][b], y["event"][b], fitted.predict(data.X.iloc[b])))
            else:
                s = fitted.predict_survival(data.X.iloc[b], [horizon])
                bs = brier_scores(y["time"][a], y["event"][a], y["time"][b], y["event"][b], s, [horizon])
                scores.append(-float(bs[0]))
        except (FitFailed, ValueError):
            return float("-inf")
    return float(np.mean(scores))


def cv_concordance(
    model: SurvivalModel, data: SurvivalData, idx: np.ndarray, folds: int, seed: int = 0
) -> float:
    """Mean Harrell's C of ``model`` over grouped folds of the rows ``idx`` (−inf when a fit fails)."""
    return cv_score(model, data, idx, folds, seed)


def subsample_assets(
    groups: np.ndarray, idx: np.ndarray, max_rows: int | None, seed: int, min_assets: int
) -> np.ndarray:
    """The rows ``idx`` of a random subset of assets holding about ``max_rows`` rows (at least ``min_assets``
    assets); all of ``idx`` when it holds no more than ``max_rows``."""
    if max_rows is None or idx.size <= max_rows:
        return idx
    rng = np.random.default_rng(seed)
    assets = rng.permutation(pd.unique(groups[idx]))
    per_asset = pd.Series(groups[idx]).value_counts()
    n = max(int(np.searchsorted(per_asset[assets].cumsum().to_numpy(), max_rows)), min_assets)
    return idx[np.isin(groups[idx], list(assets[:n]))]


def select_model(
    data: SurvivalData,
    idx: np.ndarray,
    candidates: Mapping[str, SurvivalModel],
    folds: int = 3,
    seed: int = 0,
    max_rows: int | None = 6000,
    criterion: str = "concordance",
    horizon: float = 30.0,
) -> Selection:
    """The candidate with the best cross-validated score (:func:`cv_score`) on the rows ``idx``.

    With more than ``max_rows`` rows, the comparison runs on the rows of a random subset of assets holding
    about ``max_rows`` rows (the chosen model is then fitted on everything by the caller).
    """
    idx = subsample_assets(data.groups, idx, max_rows, seed, 2 * folds)
    folds = min(folds, int(np.unique(data.groups[idx]).size))
    scores = {name: cv_score(m, data, idx, folds, seed, criterion, horizon) for name, m in candidates.items()}
    best = max(scores, key=lambda k: scores[k])
    if not np.isfinite(scores[best]):
        raise FitFailed(
            "every candidate model failed to fit: check the covariates for constant or duplicate columns"
        )
    return Selection(best, scores)


def evaluate(
    model: SurvivalModel, data: SurvivalData, train: np.ndarray, test: np.ndarray
) -> dict[str, float]:
    """Fit on ``train`` rows, score on ``test`` rows."""
    y = data.y
    t0 = _time.perf_counter()
    model.fit(data.X.iloc[train], y[train])
    t1 = _time.perf_counter()
    grid = evaluation_grid(y["time"][train], y["time"][test])
    risk = model.predict(data.X.iloc[test])
    surv = model.predict_survival(data.X.iloc[test], grid)
    t2 = _time.perf_counter()
    tt, te = y["time"][train], y["event"][train]
    return {
        "c_index_harrell": harrell_c(y["time"][test], y["event"][test], risk),
        "c_index_uno": uno_c(tt, te, y["time"][test], y["event"][test], risk),
        "integrated_brier_score": integrated_brier_score(
            tt, te, y["time"][test], y["event"][test], surv, grid
        ),
        "fit_seconds": t1 - t0,
        "predict_seconds": t2 - t1,
    }


def _mean(rows: list[dict[str, float]]) -> dict[str, float | None]:
    if not rows:
        return dict.fromkeys(METRICS)
    return {k: round(float(np.mean([r[k] for r in rows])), 4) for k in METRICS}


def run_backtest(
    data: SurvivalData,
    splits: int = 5,
    test_size: float = 0.3,
    seed: int = 0,
    candidates: Mapping[str, SurvivalModel] | None = None,
    inner_folds: int = 3,
) -> dict[str, Any]:
    """The backtest report (one JSON-able dict); see the module docstring."""
    if splits < 1:
        raise DataError(f"--splits must be at least 1, but was {splits}")
    if data.subjects < 2 * inner_folds:
        raise DataError(f"only {data.subjects} assets: a backtest needs at least {2 * inner_folds}")
    candidates = dict(candidates or default_candidates())
    splitter = GroupShuffleSplit(n_splits=splits, test_size=test_size, random_state=seed)
    rows: list[dict[str, float]] = []
    km_rows: list[dict[str, float]] = []
    cox_rows: list[dict[str, float]] = []
    cox_failed = 0
    chosen: Counter[str] = Counter()
    cv_scores: dict[str, list[float]] = {k: [] for k in candidates}
    for k, (train, test) in enumerate(splitter.split(data.X, groups=data.groups)):
        if not data.event[test].any() or not data.event[train].any():
            continue
        sel = select_model(data, train, candidates, inner_folds, seed + k)
        for name, score in sel.scores.items():
            cv_scores[name].append(score)
        # the best candidate by CV; if its refit on the whole training part fails, the next best
        for name in sorted(sel.scores, key=lambda n: -sel.scores[n]):
            try:
                rows.append(evaluate(clone(candidates[name]), data, train, test))
            except FitFailed:
                continue
            chosen[name] += 1
            break
        km_rows.append(evaluate(KaplanMeierModel(), data, train, test))
        # the plain Cox model; where it diverges (separable data), the smallest ridge that converges
        for penalizer in COX_BASELINE_PENALIZERS:
            try:
                cox_rows.append(
                    evaluate(CoxPH(penalizer=penalizer), data, train, test) | {"penalizer": penalizer}
                )
                break
            except FitFailed:
                cox_failed += 1
    if not rows:
        raise DataError("no split had failures on both sides: add failed lifetimes or lower --splits")
    report: dict[str, Any] = {
        "n": data.subjects,
        "rows": len(data.X),
        "events": data.subject_events,
        "covariates": int(data.X.shape[1]),
        "splits": len(rows),
        "model": chosen.most_common(1)[0][0],
        "models_chosen": dict(chosen),
        "cv_concordance": {k: round(float(np.mean(v)), 4) for k, v in cv_scores.items() if v},
        **_mean(rows),
        "baselines": {
            "kaplan_meier": _mean(km_rows),
            "cox": {
                **_mean(cox_rows),
                "penalizer_max": max((r["penalizer"] for r in cox_rows), default=None),
                "failed_fits": cox_failed,
            },
        },
    }
    if data.ignored:
        report["ignored_columns"] = list(data.ignored)
    return report
