"""The independent check's arithmetic: a served model and the plain baselines scored on held-out rows.

Baselines, fitted on exactly the rows the product trained on: Kaplan–Meier (the constant curve) and the plain
Cox model (lifelines, no penalty; the smallest ridge that converges where it diverges, as the backtest's
baseline does). Scores on the held-out rows: Harrell's C within the kind, and the Brier score of
P(failure within the horizon) on the rows whose outcome at the horizon is known (failed by then, or still
running after it) — the figure ``facility models`` reports.

:func:`cv_concordance` compares ranking on the product's own training rows instead: grouped folds by asset,
the served model family and the plain Cox model fitted on the same training folds and scored on the same
held-out assets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import GroupKFold

from predict.data import SurvivalData
from predict.metrics import harrell_c, kaplan_meier
from predict.models import CoxPH, FitFailed, SurvivalModel

COX_PENALIZERS = (0.0, 1e-3, 1e-2, 1e-1)


@dataclass(frozen=True)
class Scores:
    c_served: float
    c_cox: float
    brier_served: float
    brier_km: float
    rows: int
    failed: int


def plain_cox(data: SurvivalData) -> CoxPH:
    for penalizer in COX_PENALIZERS:
        try:
            return CoxPH(penalizer=penalizer).fit(data.X, data.y)
        except FitFailed:
            continue
    raise FitFailed("no Cox baseline converged")


def score(served: SurvivalModel, train: SurvivalData, test: SurvivalData, horizon: float) -> Scores:
    cox = plain_cox(train)
    km = 1.0 - float(kaplan_meier(train.time, train.event)(np.array([horizon]))[0])
    p = 1.0 - served.predict_survival(test.X, [horizon])[:, 0]
    failed = (test.time <= horizon) & (test.event == 1)
    known = failed | (test.time > horizon)
    y = failed[known].astype(float)
    return Scores(
        c_served=harrell_c(test.time, test.event, served.predict(test.X)),
        c_cox=harrell_c(test.time, test.event, cox.predict(test.X)),
        brier_served=float(np.mean((p[known] - y) ** 2)),
        brier_km=float(np.mean((km - y) ** 2)),
        rows=int(y.size),
        failed=int(y.sum()),
    )


def cv_concordance(
    model: SurvivalModel, data: SurvivalData, folds: int = 5, seed: int = 0
) -> tuple[float, float]:
    """Mean Harrell's C over grouped folds of ``model`` and of the plain Cox model, on the same folds."""
    ours, cox = [], []
    for tr, te in GroupKFold(n_splits=folds, shuffle=True, random_state=seed).split(
        data.X, groups=data.groups
    ):
        train = SurvivalData(data.X.iloc[tr], data.time[tr], data.event[tr], data.groups[tr])
        t, e = data.time[te], data.event[te]
        ours.append(harrell_c(t, e, clone(model).fit(train.X, train.y).predict(data.X.iloc[te])))
        cox.append(harrell_c(t, e, plain_cox(train).predict(data.X.iloc[te])))
    return float(np.mean(ours)), float(np.mean(cox))
