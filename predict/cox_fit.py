"""The penalised Cox partial likelihood fitted in numpy, as lifelines' ``CoxPHFitter`` fits it.

Same model, objective, algorithm and failure rules as lifelines 0.30 (``CoxPHFitter._newton_raphson_for_efron_model``
with its defaults), so the coefficients agree to the optimiser's precision and a fit fails where lifelines' does;
what differs is the cost of one iteration. lifelines loops over the distinct times in Python; here the risk-set
sums are reverse cumulative sums over the time-sorted rows and the Hessian is one weighted ``Xᵀ·diag(w)·X``:
O(n·p²) per iteration in a handful of numpy calls.

Conventions (lifelines'):

- the covariates are centred and divided by their sample standard deviation (ddof = 1) before fitting; the
  penalty acts on the coefficients of these scaled columns, β̃ = β·sd;
- ties: Efron. At a time t with d failures D, risk set R, φᵢ = exp(β̃ᵀx̃ᵢ), for j = 0..d−1:
  Dⱼ = Σ_R φ − (j/d)·Σ_D φ; log-likelihood ℓ = Σ_t [Σ_D β̃ᵀx̃ − Σⱼ log Dⱼ];
- penalised objective ℓ − n·penalizer·(l1_ratio·|β̃|ₐ + ½·(1 − l1_ratio)·‖β̃‖²), with |·|ₐ lifelines' smooth
  absolute value (1/a)·(log(1 + e^(−aβ)) + log(1 + e^(aβ))) and a = 1.3^iteration;
- Newton–Raphson from β̃ = 0 with lifelines' step-size rule (start 0.95; ×0.1 when ‖Δ‖ ≥ 15, ×0.25 when
  5 < ‖Δ‖ < 15, ×1.3 up to 1 after three decreasing ‖Δ‖); converged when ‖Δ‖ < 1e-7, the relative change of ℓ
  < 1e-9 or the Newton decrement < 1e-7; failed after 500 steps, a step below 1e-5, ℓ ≈ 0 with ‖Δ‖ > 1
  (separation), ‖Δ‖ > 0.1 at convergence, a Hessian that is not negative definite or non-finite values;
- baseline: Breslow, H₀(t) = Σ_{s ≤ t} d(s) / Σ_{Tᵢ ≥ s} exp(β̃ᵀx̃ᵢ), at every distinct time (censored-only
  times add 0), i.e. for a subject at the covariate mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.linalg import LinAlgError, solve
from threadpoolctl import threadpool_limits

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

STEP_SIZE = 0.95
PRECISION = 1e-7
R_PRECISION = 1e-9
MAX_STEPS = 500


class CoxDiverged(RuntimeError):
    """Newton–Raphson did not converge (where lifelines raises ConvergenceError or warns)."""


@dataclass(frozen=True)
class CoxFit:
    """Coefficients on the covariates as given, the covariates' mean, and the Breslow baseline at that mean."""

    coef: FloatArray
    mean: FloatArray
    baseline_times: FloatArray
    baseline_cumhaz: FloatArray
    iterations: int


@dataclass(frozen=True)
class _Sorted:
    """Rows sorted by time, latest first, so that a risk set {Tᵢ ≥ t} is a prefix; prepared once per fit.

    A "failure time" below is a distinct time with at least one failure; its tied failures are D, their number d.
    """

    x: FloatArray  # (n, p) centred and scaled, latest time first
    last_row: IntArray  # per failure time: the last row of its time, so rows [0, last_row] are its risk set
    deaths: IntArray  # row of each failure, grouped by failure time
    death_time: IntArray  # per failure: index of its failure time
    fraction: FloatArray  # per failure: Efron's j/d, j = 0..d−1 within its time
    tied: IntArray  # failure times with d > 1
    tied_rows: IntArray  # rows of the failures at those times, grouped by time
    tied_start: IntArray  # per tied failure time: its first position in ``tied_rows``
    x_death_sum: FloatArray  # Σ over failures of x̃


def _prepare(x: FloatArray, time: FloatArray, event: NDArray[np.bool_]) -> _Sorted:
    order = np.argsort(-time, kind="stable")
    xs, t, e = x[order], time[order], event[order]
    new_time = np.r_[True, t[1:] != t[:-1]]
    time_of_row = np.cumsum(new_time) - 1
    last_of_time = np.r_[np.flatnonzero(new_time)[1:] - 1, t.size - 1]
    deaths = np.flatnonzero(e)
    times, start, counts = np.unique(time_of_row[deaths], return_index=True, return_counts=True)
    death_time = np.repeat(np.arange(times.size), counts)
    tied = np.flatnonzero(counts > 1)
    in_tied = np.isin(death_time, tied)
    return _Sorted(
        x=xs,
        last_row=last_of_time[times],
        deaths=deaths,
        death_time=death_time,
        fraction=(np.arange(deaths.size) - start[death_time]) / counts[death_time],
        tied=tied,
        tied_rows=deaths[in_tied],
        tied_start=np.r_[0, np.cumsum(counts[tied])[:-1]].astype(np.int64),
        x_death_sum=xs[deaths].sum(axis=0),
    )


def efron(s: _Sorted, beta: FloatArray) -> tuple[FloatArray, FloatArray, float]:
    """Hessian, gradient and log partial likelihood (Efron's ties) at ``beta``, unpenalised.

    With R₀, R₁ the sums of φ and φx̃ over a failure time's risk set, T₀, T₁ over its failures, fⱼ = j/d and
    Dⱼ = R₀ − fⱼT₀: gradient Σ_D x̃ − Σⱼ (R₁ − fⱼT₁)/Dⱼ, Hessian Σⱼ Sⱼ Sⱼᵀ − Σⱼ (Σ_R φx̃x̃ᵀ − fⱼ Σ_D φx̃x̃ᵀ)/Dⱼ with
    Sⱼ = (R₁ − fⱼT₁)/Dⱼ. Each sum over j reduces to a few scalars per failure time (Σ 1/D, Σ f/D, Σ 1/D², …),
    and the x̃x̃ᵀ sums to one weighted cross-product: row i is in the risk set of every failure time up to its
    own, and in the tie set of its own if it failed.
    """
    x, p = s.x, s.x.shape[1]
    n_times = s.last_row.size
    if n_times == 0:
        return np.zeros((p, p)), np.zeros(p), 0.0
    phi = np.exp(x @ beta)
    phi_x = x * phi[:, None]
    risk0 = np.cumsum(phi)[s.last_row]
    risk1 = np.cumsum(phi_x, axis=0)[s.last_row]
    k, f = s.death_time, s.fraction
    tie0 = np.bincount(k, weights=phi[s.deaths], minlength=n_times)
    inv = 1.0 / (risk0[k] - f * tie0[k])  # 1/Dⱼ per failure
    c0 = np.bincount(k, weights=inv, minlength=n_times)
    loglik = float(s.x_death_sum @ beta + np.log(inv).sum())
    gradient = s.x_death_sum - c0 @ risk1
    q0 = np.bincount(k, weights=inv * inv, minlength=n_times)
    a2 = (risk1 * q0[:, None]).T @ risk1
    steps = np.zeros(x.shape[0])
    steps[s.last_row] = c0
    w = phi * np.cumsum(steps[::-1])[::-1]  # Σ 1/Dⱼ over the failure times whose risk set holds row i
    if s.tied.size:
        c1 = np.bincount(k, weights=f * inv, minlength=n_times)[s.tied]
        q1 = np.bincount(k, weights=f * inv * inv, minlength=n_times)[s.tied]
        q2 = np.bincount(k, weights=f * f * inv * inv, minlength=n_times)[s.tied]
        tie1 = np.add.reduceat(phi_x[s.tied_rows], s.tied_start, axis=0)
        r1 = risk1[s.tied]
        gradient += c1 @ tie1
        cross = (r1 * q1[:, None]).T @ tie1
        a2 += (tie1 * q2[:, None]).T @ tie1 - cross - cross.T
        w[s.tied_rows] -= phi[s.tied_rows] * np.repeat(c1, np.diff(np.r_[s.tied_start, s.tied_rows.size]))
    hessian = a2 - (x * w[:, None]).T @ x
    return hessian, gradient, loglik


class _StepSizer:
    """lifelines.utils.StepSizer: the step-size rule of its Newton–Raphson, constants included."""

    def __init__(self, initial: float) -> None:
        self.initial = self.step = initial
        self.temper_back_up = False
        self.norms: list[float] = []

    def update(self, norm_delta: float) -> float:
        self.norms.append(norm_delta)
        if self.temper_back_up:
            self.step = min(self.step * 1.3, self.initial)
        if norm_delta >= 15.0:
            self.step *= 0.1
            self.temper_back_up = True
        elif 15.0 > norm_delta > 5.0:
            self.step *= 0.25
            self.temper_back_up = True
        if len(self.norms) >= 3:
            if np.all(np.diff(self.norms[-3:]) < 0):
                self.step = min(self.step * 1.3, 1.0)
            else:
                self.step *= 0.98
        return self.step


def _penalty(
    beta: FloatArray, n: int, penalizer: float, l1_ratio: float, a: float
) -> tuple[float, FloatArray, FloatArray]:
    """n·penalizer·(l1·|β|ₐ + ½(1 − l1)·β²): value, gradient and the Hessian's diagonal."""
    ab = a * beta
    soft_abs = (np.logaddexp(0.0, -ab) + np.logaddexp(0.0, ab)) / a
    value = n * penalizer * float((l1_ratio * soft_abs + 0.5 * (1 - l1_ratio) * beta**2).sum())
    grad = n * penalizer * (l1_ratio * np.tanh(ab / 2) + (1 - l1_ratio) * beta)
    curv = n * penalizer * (l1_ratio * a / 2 / np.cosh(ab / 2) ** 2 + (1 - l1_ratio))
    return value, grad, curv


def _newton(s: _Sorted, penalizer: float, l1_ratio: float) -> tuple[FloatArray, int]:
    n, p = s.x.shape
    beta, delta = np.zeros(p), np.zeros(p)
    sizer = _StepSizer(STEP_SIZE)
    step, previous_ll, i = sizer.step, 0.0, 0
    while True:
        beta = beta + step * delta
        i += 1
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            h, g, ll = efron(s, beta)
            if penalizer > 0:
                value, grad, curv = _penalty(beta, n, penalizer, l1_ratio, 1.3**i)
                ll, g = ll - value, g - grad
                h[np.diag_indices(p)] -= curv
        if not (np.all(np.isfinite(h)) and np.all(np.isfinite(g))):
            raise CoxDiverged("the Hessian or gradient is not finite (overflow: near-separable data?)")
        try:
            delta = solve(-h, g, assume_a="pos", check_finite=False)
        except LinAlgError as exc:
            raise CoxDiverged("the Hessian is singular (collinear covariates, or no failures)") from exc
        if np.any(np.isnan(delta)):
            raise CoxDiverged("the Newton step is not a number")
        norm_delta = float(np.linalg.norm(delta))
        relative = abs(ll - previous_ll) / (-previous_ll) if previous_ll != 0 else np.inf
        if norm_delta < PRECISION or relative < R_PRECISION or float(g @ delta) / 2 < PRECISION:
            break
        if i >= MAX_STEPS:
            raise CoxDiverged(f"no convergence after {MAX_STEPS} Newton steps")
        if step <= 0.00001:
            raise CoxDiverged("the Newton step shrank below 1e-5")
        if abs(ll) < 0.0001 and norm_delta > 1.0:
            raise CoxDiverged("the log-likelihood is near 0 with a large step: complete separation")
        previous_ll = ll
        step = sizer.update(norm_delta)
    if norm_delta > 0.1:
        raise CoxDiverged(f"converged with a step still {norm_delta:.3f} long: collinearity or separation")
    return beta, i


def breslow(
    time: FloatArray, event: NDArray[np.bool_], partial_hazard: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Distinct times and H₀ at them: Σ failures / Σ partial hazards of those still at risk, accumulated."""
    times, inverse = np.unique(time, return_inverse=True)
    at_time = np.bincount(inverse, weights=partial_hazard, minlength=times.size)
    failures = np.bincount(inverse, weights=event.astype(float), minlength=times.size)
    at_risk = np.cumsum(at_time[::-1])[::-1]
    return times, np.cumsum(failures / at_risk)


def fit_cox(
    x: FloatArray, time: FloatArray, event: NDArray[np.bool_], penalizer: float, l1_ratio: float = 0.0
) -> CoxFit:
    """Fit the penalised Cox model; raises CoxDiverged where lifelines fails or warns of non-convergence."""
    mean = x.mean(axis=0)
    sd = x.std(axis=0, ddof=1)
    if np.any(~(sd**2 >= 1e-4)):  # lifelines' check_low_var warns (a ConvergenceWarning) below this
        raise CoxDiverged("a covariate has variance below 1e-4")
    scaled = (x - mean) / sd
    with threadpool_limits(limits=1):  # BLAS threads only slow these small products down on a shared machine
        beta, iterations = _newton(_prepare(scaled, time, event), penalizer, l1_ratio)
    times, cumhaz = breslow(time, event, np.exp(scaled @ beta))
    return CoxFit(beta / sd, mean, times, cumhaz, iterations)
