"""Training: select by cross-validated concordance, fit on all data, choose the planner threshold, register.

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
from predict.data import SurvivalData
from predict.models import SurvivalModel, default_candidates
from predict.registry import ModelRegistry, ModelVersion, new_version


def out_of_fold_probability(
    model: SurvivalModel, data: SurvivalData, horizon: float, folds: int = 3, seed: int = 0
) -> np.ndarray:
    """P(T ≤ horizon | x) for every row, each predicted by a model that did not see that row's asset."""
    y = data.y
    out = np.full(len(data.X), np.nan)
    cv = GroupKFold(n_splits=min(folds, data.subjects), shuffle=True, random_state=seed)
    for tr, te in cv.split(data.X, groups=data.groups):
        fitted = clone(model).fit(data.X.iloc[tr], y[tr])
        out[te] = 1.0 - fitted.predict_survival(data.X.iloc[te], [horizon])[:, 0]
    return out


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
    """Backtest, select, fit on everything and register; raises FitFailed (nothing registered) on failure."""
    candidates = dict(candidates or default_candidates())
    report = run_backtest(data, splits=splits, seed=seed, candidates=candidates) if splits > 0 else {}
    every = np.arange(len(data.X))
    # the planner thresholds P(failure within the horizon): choose the model whose probabilities are right, not
    # only well ranked (concordance cannot tell an overconfident model from a calibrated one)
    selection = select_model(data, every, candidates, seed=seed, criterion="brier", horizon=horizon)
    model = clone(candidates[selection.name]).fit(data.X, data.y)
    prob = out_of_fold_probability(candidates[selection.name], data, horizon, seed=seed)
    threshold = choose_threshold(prob, data.time, data.event, horizon, min_precision)
    meta = ModelVersion(
        kind=kind,
        version=new_version(now),
        model=selection.name,
        created=now.astimezone(dt.UTC).isoformat(),
        features=tuple(str(c) for c in data.X.columns),
        metrics={
            "selection": {"criterion": f"brier_{horizon:g}d", "cv_minus_brier": selection.scores},
            "backtest": report,
        },
        data={"n": data.subjects, "rows": len(data.X), "events": data.subject_events, **(data_range or {})},
        features_spec=dict(features_spec or {}),
        threshold=threshold,
        time_unit=time_unit,
    )
    return registry.save(model, meta)
