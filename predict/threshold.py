"""The planner's probability threshold of a kind: a statement about the asset being proposed.

**Which rows.** Each landmark row has an out-of-fold P = P(T ≤ H | x) (cross-fitted, as served) and, where it can
be known, its outcome: failed within H (1) or still running at H (0). A row whose landmark is less than H before
the data end has a known outcome only when it failed (had it survived, it would be censored), so keeping such
rows counts failures and not survivals: in the demo all 53 known lift rows of the last 30 days were failures,
which lifted the base rate from 0.262 to 0.305. Only rows whose landmark is at least H before the data end are
used (:func:`known_at_end`), for the threshold as for the shrinkage weight and the held-out figures
(:mod:`predict.train`).

**Marginal, not cumulative.** The observed 30-day failure rate is fitted on P isotonically (non-decreasing in P,
:class:`sklearn.isotonic.IsotonicRegression`); the threshold p* is the smallest P whose *fitted* rate reaches the
target r* = p_ref. So the rows at the threshold fail at r* or more themselves — a cumulative precision ("≥ 50 %
of all rows above p failed") lets rows that fail at 8 % in because the rows far above them fail at 63 %.
``p_ref`` (``Settings.plan_reference_probability``, 0.3) is the cost-optimal P for an asset of reference
criticality 3 that the closed-loop policy benchmark measured (visit : failure cost 1 : 5; per-kind tuned values
0.25–0.35, docs/benchmarks.md "Issue 12"). The kind's Kaplan–Meier rate is recorded beside it but is not a floor:
it is the risk of the run-to-failure history, well above a maintained asset's, and in the benchmark a floor at it
(0.31–0.38 per kind) raised lift failures from 146 to 208 on ten tuning years at the same cost. When no P reaches
r* (a weak model), or Kaplan–Meier itself is served (P says nothing about the asset), there is no threshold and
the kind gets no predictive proposals; the reason is recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.isotonic import IsotonicRegression

from facility.settings import Settings
from predict.metrics import kaplan_meier

#: the settings' default (``Settings.plan_reference_probability``), for callers that pass none
REFERENCE_PROBABILITY: float = float(Settings.model_fields["plan_reference_probability"].default)


def known_at_end(time: np.ndarray, horizon: float) -> np.ndarray:
    """Which rows have a landmark at least ``horizon`` before the data end, for rows in landmark order (as
    :func:`predict.influx_training.training_data_influx` builds them).

    A row's time to its lifetime's end is at most its time to the data end, with equality for a lifetime
    censored at the end; and the time to the data end does not increase along the rows. So the largest
    ``time`` among a row and the rows after it is a lower bound of its time to the data end, exact as soon as
    one of them (at the same landmark or later) is censored at the end — which in a fleet some asset is at
    every landmark. A row is kept when that bound is ≥ ``horizon``: every survivor past the horizon is, and a
    failure within the horizon only when a later row shows the data ran on for ``horizon`` after it."""
    t = np.asarray(time, dtype=float)
    if t.size == 0:
        return np.zeros(0, dtype=bool)
    return np.asarray(np.maximum.accumulate(t[::-1])[::-1] >= horizon, dtype=bool)


def outcome_event(time: np.ndarray, event: np.ndarray, horizon: float) -> np.ndarray:
    """``event`` with the failures of rows less than ``horizon`` before the data end turned into censoring
    (their outcome at the horizon becomes unknown, as a survival there would be)."""
    return np.where(known_at_end(time, horizon), np.asarray(event), 0)


def kaplan_meier_rate(time: np.ndarray, event: np.ndarray, horizon: float) -> float:
    """The Kaplan–Meier P(T ≤ horizon) of all rows (censoring handled by the estimator)."""
    return 1.0 - float(kaplan_meier(time, event)(np.array([horizon]))[0])


def probability_for_target(curve: Sequence[Sequence[float]], target: float) -> float | None:
    """The smallest P of the isotonic ``curve`` ([[P, fitted rate], ...] with P ascending) whose fitted rate
    reaches ``target``; None when none does."""
    for p, rate in curve:
        if rate >= target - 1e-12:
            return float(p)
    return None


def choose_threshold(
    prob: np.ndarray,
    time: np.ndarray,
    event: np.ndarray,
    horizon: float,
    *,
    reference_probability: float = REFERENCE_PROBABILITY,
    km_rate: float | None = None,
    served_km: bool = False,
) -> dict[str, Any]:
    """The kind's probability threshold p* and the numbers behind it (see the module docstring); ``prob`` the
    out-of-fold P(T ≤ horizon) in landmark order, ``km_rate`` the kind's Kaplan–Meier rate (default: of these
    rows). ``probability`` is None, with a ``reason``, when the kind should get no predictive proposals."""
    prob, time, event = np.asarray(prob, dtype=float), np.asarray(time, dtype=float), np.asarray(event)
    km = kaplan_meier_rate(time, event, horizon) if km_rate is None else float(km_rate)
    target = float(reference_probability)
    failed = (time <= horizon) & (event == 1)
    at_end = known_at_end(time, horizon)
    known = (failed | (time > horizon)) & at_end & np.isfinite(prob)
    p, y = prob[known], failed[known].astype(float)
    result: dict[str, Any] = {
        "rule": "marginal",
        "horizon": horizon,
        "reference_probability": round(float(reference_probability), 4),
        "km_rate": round(km, 4),
        "target_rate": round(target, 4),
        "known_rows": int(y.size),
        "known_failed": int(y.sum()),
        "base_rate": round(float(y.mean()), 4) if y.size else None,
        # failures within the horizon left out: their landmark is less than the horizon before the data end
        "excluded_near_end": int((failed & ~at_end).sum()),
        "probability": None,
    }
    if served_km:
        return result | {
            "reason": "Kaplan–Meier is served: it does not tell one asset of the kind from another"
        }
    if y.sum() == 0:
        return result | {"reason": "no failures within the horizon among the rows with a known outcome"}
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip").fit(p, y)
    steps = [[float(a), float(b)] for a, b in zip(iso.X_thresholds_, iso.y_thresholds_, strict=True)]
    result["curve"] = [[round(a, 4), round(b, 4)] for a, b in steps]
    p_star = probability_for_target(steps, target)
    if p_star is None:
        top = float(np.max(iso.y_thresholds_))
        return result | {
            "reason": f"no probability reaches the target rate {target:.3f} (highest held-out rate {top:.3f})"
        }
    above = p >= p_star
    return result | {
        "probability": p_star,
        "rate_at_threshold": round(float(iso.predict(np.array([p_star]))[0]), 4),
        "rows_at_or_above": int(above.sum()),
        "observed_rate_at_or_above": round(float(y[above].mean()), 4),
        "recall": round(float(y[above].sum() / y.sum()), 4),
    }
