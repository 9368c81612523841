"""Survival metrics written out in numpy: Kaplan-Meier, Harrell's and Uno's C, IPCW Brier score.

Conventions. ``time`` is the observed time (failure or censoring, any unit, > 0); ``event`` is 1 when the
time is a failure and 0 when the subject was still running then (right-censored). ``risk`` is a score
where **higher means earlier failure**. Survival predictions are a matrix ``S[i, k] = P(T_i > times[k])``.

Harrell's C (1982)
    C = Σ_{i,j} δ_i·1(T_i < T_j)·[1(r_i > r_j) + ½·1(r_i = r_j)] / Σ_{i,j} δ_i·1(T_i < T_j)
    (pairs whose earlier time is censored are not comparable; pairs with equal times are skipped.)

Uno's C (2011), the same with inverse-probability-of-censoring weights, which makes it consistent for a
population concordance that does not depend on the censoring distribution:
    C_τ = Σ δ_i·G(T_i−)^−2·1(T_i < T_j, T_i < τ)·[…] / Σ δ_i·G(T_i−)^−2·1(T_i < T_j, T_i < τ)
    where G is the Kaplan-Meier estimate of the *censoring* survival function on the training data.

Brier score with IPCW (Graf et al. 1999) at time t, and its integral over [t_1, t_K]:
    BS(t) = 1/n Σ_i [ S(t|x_i)²·1(T_i ≤ t, δ_i = 1)/G(T_i−) + (1 − S(t|x_i))²·1(T_i > t)/G(t) ]
    IBS = 1/(t_K − t_1) ∫ BS(t) dt   (trapezoid rule over the given grid)
A model that knows nothing (Kaplan-Meier) scores about 0.2 on typical data; lower is better.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]
#: pairs compared per block in the O(n²) concordance sums (keeps memory at ~8 MB per block)
_BLOCK = 1024


@dataclass(frozen=True)
class StepFunction:
    """A right-continuous step function: ``value(t) = values[k]`` for ``x[k] <= t < x[k+1]``, 1 before x[0]."""

    x: FloatArray
    values: FloatArray
    start: float = 1.0

    def __call__(self, t: ArrayLike) -> FloatArray:
        t = np.asarray(t, dtype=float)
        idx = np.searchsorted(self.x, t, side="right") - 1
        out = np.where(idx >= 0, self.values[np.clip(idx, 0, None)], self.start)
        return np.asarray(out, dtype=float)

    def left(self, t: ArrayLike) -> FloatArray:
        """The left limit ``value(t−)``: the value just before any jump at ``t``."""
        t = np.asarray(t, dtype=float)
        idx = np.searchsorted(self.x, t, side="left") - 1
        out = np.where(idx >= 0, self.values[np.clip(idx, 0, None)], self.start)
        return np.asarray(out, dtype=float)


def _check(time: ArrayLike, event: ArrayLike) -> tuple[FloatArray, NDArray[np.bool_]]:
    t = np.asarray(time, dtype=float).ravel()
    e = np.asarray(event).ravel()
    if t.shape != e.shape:
        raise ValueError(f"time and event must have the same length, got {t.shape[0]} and {e.shape[0]}")
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise ValueError("times must be finite and non-negative")
    if not np.all(np.isin(e, (0, 1, True, False))):
        raise ValueError("event must be 0/1 (1 = failure observed, 0 = censored)")
    return t, e.astype(bool)


def kaplan_meier(time: ArrayLike, event: ArrayLike) -> StepFunction:
    """Kaplan-Meier survival estimate Ŝ(t) = Π_{t_k ≤ t} (1 − d_k / n_k)."""
    t, e = _check(time, event)
    uniq, inv = np.unique(t, return_inverse=True)
    deaths = np.bincount(inv, weights=e.astype(float), minlength=uniq.size)
    counts = np.bincount(inv, minlength=uniq.size).astype(float)
    at_risk = counts[::-1].cumsum()[::-1]
    surv = np.cumprod(1.0 - deaths / at_risk)
    return StepFunction(uniq, surv)


def censoring_survival(time: ArrayLike, event: ArrayLike) -> StepFunction:
    """G(t) = P(C > t): Kaplan-Meier with the roles of failure and censoring swapped."""
    t, e = _check(time, event)
    return kaplan_meier(t, ~e)


def _pair_sums(
    t: FloatArray, e: NDArray[np.bool_], r: FloatArray, w: FloatArray, tau: float
) -> tuple[float, float]:
    num = den = 0.0
    rows = np.flatnonzero(e & (t < tau))
    for start in range(0, rows.size, _BLOCK):
        i = rows[start : start + _BLOCK]
        comparable = t[i, None] < t[None, :]
        conc = (r[i, None] > r[None, :]) + 0.5 * (r[i, None] == r[None, :])
        wi = w[i, None]
        num += float(np.sum(wi * comparable * conc))
        den += float(np.sum(wi * comparable))
    return num, den


def harrell_c(time: ArrayLike, event: ArrayLike, risk: ArrayLike) -> float:
    """Harrell's concordance index (see the module docstring); 0.5 is random, 1 is a perfect ranking."""
    t, e = _check(time, event)
    r = np.asarray(risk, dtype=float).ravel()
    if r.shape != t.shape:
        raise ValueError(f"risk has {r.size} values for {t.size} subjects")
    num, den = _pair_sums(t, e, r, np.ones_like(t), np.inf)
    if den == 0:
        raise ValueError("no comparable pairs: need at least one failure before another subject's time")
    return num / den


def uno_c(
    train_time: ArrayLike,
    train_event: ArrayLike,
    time: ArrayLike,
    event: ArrayLike,
    risk: ArrayLike,
    tau: float | None = None,
) -> float:
    """Uno's IPCW concordance, censoring distribution G estimated on the training data.

    ``tau`` (default: the largest training time) truncates the comparison where G is still estimable.
    """
    g = censoring_survival(train_time, train_event)
    t, e = _check(time, event)
    r = np.asarray(risk, dtype=float).ravel()
    if tau is None:
        tau = float(np.max(np.asarray(train_time, dtype=float)))
    g_left = g.left(t)
    usable = g_left > 0
    w = np.zeros_like(t)
    w[usable] = 1.0 / g_left[usable] ** 2
    num, den = _pair_sums(t, e & usable, r, w, tau)
    if den == 0:
        raise ValueError("no comparable pairs below tau: need failures observed before tau")
    return num / den


def brier_scores(
    train_time: ArrayLike,
    train_event: ArrayLike,
    time: ArrayLike,
    event: ArrayLike,
    survival: ArrayLike,
    times: ArrayLike,
) -> FloatArray:
    """IPCW Brier score at each of ``times`` (``survival[i, k]`` = predicted P(T_i > times[k]))."""
    g = censoring_survival(train_time, train_event)
    t, e = _check(time, event)
    grid = np.asarray(times, dtype=float).ravel()
    s = np.asarray(survival, dtype=float)
    if s.shape != (t.size, grid.size):
        raise ValueError(f"survival must have shape {(t.size, grid.size)}, got {s.shape}")
    g_ti = g.left(t)
    g_t = g(grid)
    floor = 1e-12
    died = (t[:, None] <= grid[None, :]) & e[:, None]
    alive = t[:, None] > grid[None, :]
    term_died = np.where(died, s**2 / np.maximum(g_ti[:, None], floor), 0.0)
    term_alive = np.where(alive, (1.0 - s) ** 2 / np.maximum(g_t[None, :], floor), 0.0)
    return np.asarray(np.mean(term_died + term_alive, axis=0), dtype=float)


def integrated_brier_score(
    train_time: ArrayLike,
    train_event: ArrayLike,
    time: ArrayLike,
    event: ArrayLike,
    survival: ArrayLike,
    times: ArrayLike,
) -> float:
    """Brier score integrated over ``times`` by the trapezoid rule and divided by the span."""
    grid = np.asarray(times, dtype=float).ravel()
    if grid.size < 2 or np.any(np.diff(grid) <= 0):
        raise ValueError("times must be at least two increasing values")
    bs = brier_scores(train_time, train_event, time, event, survival, grid)
    return float(np.trapezoid(bs, grid) / (grid[-1] - grid[0]))


def evaluation_grid(
    train_time: ArrayLike, time: ArrayLike, n: int = 50, lo: float = 0.1, hi: float = 0.9
) -> FloatArray:
    """Times between the ``lo`` and ``hi`` quantiles of the test times, capped at the training maximum."""
    t = np.asarray(time, dtype=float)
    a, b = np.quantile(t, [lo, hi])
    b = min(float(b), float(np.max(np.asarray(train_time, dtype=float))) * 0.999)
    if not b > a:
        raise ValueError("test times span no interval: cannot integrate the Brier score")
    return np.linspace(float(a), b, n)
