"""Survival models with the scikit-learn estimator contract.

Every model takes ``fit(X, y)`` with ``X`` a DataFrame of numeric covariates and ``y`` a structured array from
:func:`survival_y` (fields ``event`` = 1 for an observed failure / 0 for right-censored, ``time`` > 0 in the
data's unit — days for our assets, cycles for C-MAPSS). ``__init__`` stores hyperparameters only, ``fit``
returns ``self``, fitted attributes end in ``_``. After fitting:

- ``predict(X)`` — a risk score, higher = earlier failure (what concordance ranks);
- ``predict_survival(X, times)`` — matrix ``S[i, k] = P(T_i > times[k] | x_i)``, finite, in [0, 1],
  non-increasing in k;
- ``contributions(X)`` — per-covariate contribution to the risk score (the drivers shown on a forecast).

Covariates are scored clipped to the range they had in training (no extrapolation; see ``_Prep``).

A fit that does not converge raises :class:`FitFailed` (lifelines' CoxPH can diverge with only a
ConvergenceWarning and return a near-random model; our Cox fit, which follows lifelines' algorithm, treats every
such case as the failure it is), so the caller keeps the previous model in service.
"""

from __future__ import annotations

import warnings
from typing import Any, Self

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import minimize
from sklearn.base import BaseEstimator
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from predict.cox_fit import CoxDiverged, fit_cox
from predict.metrics import harrell_c, kaplan_meier

FloatArray = NDArray[np.float64]
Y_DTYPE = np.dtype([("event", bool), ("time", float)])


class FitFailed(RuntimeError):
    """The model did not converge; keep the previous one in service."""


def survival_y(time: ArrayLike, event: ArrayLike) -> NDArray[Any]:
    """The ``y`` of every model here: a structured array with fields ``event`` (bool) and ``time``."""
    t = np.asarray(time, dtype=float).ravel()
    e = np.asarray(event).ravel()
    if t.shape != e.shape:
        raise ValueError(f"time and event differ in length ({t.size} vs {e.size})")
    if np.any(~np.isfinite(t)) or np.any(t <= 0):
        raise ValueError("survival times must be finite and positive; add a small positive value to zeros")
    if not np.all(np.isin(e, (0, 1))):
        raise ValueError("event must be 0 (censored) or 1 (failure)")
    y = np.empty(t.size, dtype=Y_DTYPE)
    y["time"], y["event"] = t, e.astype(bool)
    return y


class _Prep:
    """Drop constant columns, fill gaps with the training median, clip to the training range, standardise
    to mean 0 / sd 1.

    Clipping: a model knows nothing about covariate values beyond those it was fitted on, and a linear
    predictor extrapolated there grows without bound — e.g. ``since_repair`` counted from the install date
    (years) for an asset whose repairs predate the history, when training lifetimes are at most the history
    long, gave P(failure within 30 d) = 100 %. Scored at the edge of the training range instead, such an
    asset gets the risk of the most extreme training rows, which the data support.
    """

    def fit(self, X: pd.DataFrame) -> _Prep:
        num = X.astype(float).to_numpy()  # reduced in numpy: pandas took ~50 ms a fit on 50,000 rows
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter(
                "ignore", RuntimeWarning
            )  # all-NaN columns: their sd is NaN, they are dropped
            sd = np.nanstd(num, axis=0)
        keep = np.isfinite(sd) & (sd > 1e-12)
        self.columns = [c for c, k in zip(X.columns, keep, strict=True) if k]
        if not self.columns:
            raise ValueError("every covariate is constant: a model needs at least one that varies")
        kept = num[:, keep]
        median = np.nanmedian(kept, axis=0)
        filled = np.where(np.isnan(kept), median, kept)
        sd_filled = filled.std(axis=0)
        series = {"index": self.columns, "dtype": float}
        self.median = pd.Series(median, **series)
        self.lo, self.hi = pd.Series(filled.min(axis=0), **series), pd.Series(filled.max(axis=0), **series)
        self.mean = pd.Series(filled.mean(axis=0), **series)
        self.sd = pd.Series(np.where(sd_filled == 0.0, 1.0, sd_filled), **series)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in self.columns if c not in X.columns]
        if missing:
            raise ValueError(f"covariates {missing} are missing: score with the columns the model was fit on")
        num = np.empty((len(X), len(self.columns)))
        for j, c in enumerate(self.columns):  # column by column: X[list] costs ~1 ms of pandas per call
            num[:, j] = X[c].to_numpy(dtype=float)
        num = np.where(np.isnan(num), self.median.to_numpy(dtype=float), num)
        if hasattr(self, "lo"):  # models saved before clipping existed score unclipped
            num = np.clip(num, self.lo.to_numpy(dtype=float), self.hi.to_numpy(dtype=float))
        z = (num - self.mean.to_numpy(dtype=float)) / self.sd.to_numpy(dtype=float)
        return pd.DataFrame(z, columns=self.columns, index=X.index)


def _frame(X: pd.DataFrame | ArrayLike) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        return X.reset_index(drop=True)
    arr = np.asarray(X, dtype=float)
    return pd.DataFrame(arr, columns=[f"x{i}" for i in range(arr.shape[1])])


def _monotone(s: FloatArray) -> FloatArray:
    s = np.clip(np.nan_to_num(s, nan=1.0), 0.0, 1.0)
    return np.asarray(np.minimum.accumulate(s, axis=1), dtype=float)


class SurvivalModel(BaseEstimator):
    """Shared plumbing: preprocessing, the concordance ``score`` and generic contributions."""

    prep_: _Prep

    def _fit_prep(self, X: pd.DataFrame | ArrayLike) -> pd.DataFrame:
        frame = _frame(X)
        self.prep_ = _Prep().fit(frame)
        self.feature_names_in_ = np.array(list(frame.columns), dtype=object)
        return self.prep_.transform(frame)

    def _z(self, X: pd.DataFrame | ArrayLike) -> pd.DataFrame:
        return self.prep_.transform(_frame(X))

    def fit(self, X: pd.DataFrame | ArrayLike, y: NDArray[Any]) -> Self:
        raise NotImplementedError

    def predict(self, X: pd.DataFrame | ArrayLike) -> FloatArray:
        return self._risk(self._z(X))

    def _risk(self, z: pd.DataFrame) -> FloatArray:
        raise NotImplementedError

    def predict_survival(self, X: pd.DataFrame | ArrayLike, times: ArrayLike) -> FloatArray:
        grid = np.asarray(times, dtype=float).ravel()
        return _monotone(self._survival(self._z(X), grid))

    def _survival(self, z: pd.DataFrame, times: FloatArray) -> FloatArray:
        raise NotImplementedError

    def contributions(self, X: pd.DataFrame | ArrayLike) -> pd.DataFrame:
        """risk(x) − risk(x with covariate k at its training mean), for each covariate k (one batched call)."""
        z = self._z(X)
        n, cols = len(z), list(z.columns)
        base = z.to_numpy(dtype=float)
        stacked = np.tile(base, (len(cols) + 1, 1))
        for k in range(len(cols)):
            stacked[(k + 1) * n : (k + 2) * n, k] = 0.0
        risk = self._risk(pd.DataFrame(stacked, columns=cols)).reshape(len(cols) + 1, n)
        return pd.DataFrame((risk[0][None, :] - risk[1:]).T, columns=cols)

    def score(self, X: pd.DataFrame | ArrayLike, y: NDArray[Any]) -> float:
        return harrell_c(y["time"], y["event"], self.predict(X))


class KaplanMeierModel(SurvivalModel):
    """The no-covariate baseline: everyone gets the Kaplan-Meier curve; every risk is equal."""

    def fit(self, X: pd.DataFrame | ArrayLike, y: NDArray[Any]) -> Self:
        self.feature_names_in_ = np.array(list(_frame(X).columns), dtype=object)
        self.km_ = kaplan_meier(y["time"], y["event"])
        return self

    def predict(self, X: pd.DataFrame | ArrayLike) -> FloatArray:
        return np.zeros(len(_frame(X)))

    def predict_survival(self, X: pd.DataFrame | ArrayLike, times: ArrayLike) -> FloatArray:
        s = self.km_(np.asarray(times, dtype=float).ravel())
        return np.tile(s, (len(_frame(X)), 1))

    def contributions(self, X: pd.DataFrame | ArrayLike) -> pd.DataFrame:
        return pd.DataFrame(index=range(len(_frame(X))))


class CoxPH(SurvivalModel):
    """Cox proportional hazards: h(t|x) = h₀(t)·exp(βᵀz), z the standardised covariates.

    ``penalizer`` and ``l1_ratio`` are lifelines' ridge/elastic-net strength and mix (0 = the plain,
    unpenalised Cox model). Fitted by :func:`predict.cox_fit.fit_cox`: lifelines' ``CoxPHFitter`` model,
    objective (Efron's ties, the penalty on the coefficients of the sample-standardised columns), Newton–Raphson
    and Breslow baseline, written out in numpy with the risk-set sums as cumulative sums; a fit that lifelines
    would report as not converged raises FitFailed.
    """

    def __init__(self, penalizer: float = 0.0, l1_ratio: float = 0.0) -> None:
        self.penalizer = penalizer
        self.l1_ratio = l1_ratio

    def fit(self, X: pd.DataFrame | ArrayLike, y: NDArray[Any]) -> Self:
        if self.penalizer < 0:
            raise ValueError(f"penalizer must be non-negative, but was {self.penalizer!r}")
        z = self._fit_prep(X)
        time = np.maximum(np.asarray(y["time"], dtype=float), 1e-6)
        try:
            fit = fit_cox(
                z.to_numpy(dtype=float),
                time,
                np.asarray(y["event"], dtype=bool),
                self.penalizer,
                self.l1_ratio,
            )
        except CoxDiverged as exc:
            raise FitFailed(f"CoxPH did not converge: {exc}") from exc
        if not np.all(np.isfinite(fit.coef)):
            raise FitFailed("CoxPH returned non-finite coefficients")
        self.coef_ = fit.coef
        # the baseline is at the covariates' training mean (≈ 0 after standardising)
        self.baseline_times_ = fit.baseline_times
        self.baseline_cumhaz_ = fit.baseline_cumhaz
        self.mean_offset_ = float(fit.mean @ self.coef_)
        return self

    def _risk(self, z: pd.DataFrame) -> FloatArray:
        return np.asarray(z.to_numpy(dtype=float) @ self.coef_ - self.mean_offset_, dtype=float)

    def _survival(self, z: pd.DataFrame, times: FloatArray) -> FloatArray:
        idx = np.searchsorted(self.baseline_times_, times, side="right") - 1
        h0 = np.where(idx >= 0, self.baseline_cumhaz_[np.clip(idx, 0, None)], 0.0)
        return np.asarray(np.exp(-np.exp(self._risk(z))[:, None] * h0[None, :]), dtype=float)

    def contributions(self, X: pd.DataFrame | ArrayLike) -> pd.DataFrame:
        z = self._z(X)
        return pd.DataFrame(z.to_numpy(dtype=float) * self.coef_, columns=z.columns)


class WeibullAFT(SurvivalModel):
    """Weibull accelerated failure time: S(t|x) = exp(−(t/λ(x))^ρ), log λ(x) = a + bᵀz.

    Fitted by maximum likelihood written out in numpy (analytic gradient, L-BFGS-B) — the same model and
    objective as lifelines' ``WeibullAFTFitter`` (mean negative log-likelihood + ``penalizer``/2·‖b‖², the
    intercepts a and log ρ not penalised) at a hundredth of its time: lifelines differentiates through
    autograd and computes a Hessian we never use. With δ = 1 for a failure, u = ρ·(log t − log λ):
    log-likelihood ℓ = δ·(log ρ + (ρ − 1)·log t − ρ·log λ) − e^u, ∂ℓ/∂log λ = ρ·(e^u − δ),
    ∂ℓ/∂log ρ = δ·(1 + u) − u·e^u. Times are divided by their median while fitting (the optimiser works
    near unit scale); a fit that does not converge raises FitFailed.
    """

    def __init__(self, penalizer: float = 0.0) -> None:
        self.penalizer = penalizer

    def fit(self, X: pd.DataFrame | ArrayLike, y: NDArray[Any]) -> Self:
        if self.penalizer < 0:
            raise ValueError(f"penalizer must be non-negative, but was {self.penalizer!r}")
        z = self._fit_prep(X).to_numpy(dtype=float)
        t = np.maximum(np.asarray(y["time"], dtype=float), 1e-6)
        scale = float(np.median(t)) or 1.0
        log_t = np.log(t / scale)
        d = np.asarray(y["event"], dtype=float)
        if d.sum() == 0:
            raise FitFailed("WeibullAFT did not converge: no failures in the training data")
        n, p = z.shape
        pen = float(self.penalizer)

        def objective(theta: FloatArray) -> tuple[float, FloatArray]:
            a, b, s = theta[0], theta[1 : p + 1], theta[p + 1]
            rho = np.exp(s)
            eta = a + z @ b
            u = np.clip(rho * (log_t - eta), -700.0, 700.0)
            e = np.exp(u)
            ll = d * (s + (rho - 1.0) * log_t - rho * eta) - e
            g_eta = rho * (e - d)  # ∂ℓ/∂η
            g_s = d * (1.0 + u) - u * e  # ∂ℓ/∂log ρ
            grad = np.empty(p + 2)
            grad[0] = -g_eta.sum() / n
            grad[1 : p + 1] = -(z.T @ g_eta) / n + pen * b
            grad[p + 1] = -g_s.sum() / n
            return float(-ll.sum() / n + 0.5 * pen * float(b @ b)), grad

        # start from the no-covariate fit's scale with ρ = 1 (an exponential model)
        theta0 = np.zeros(p + 2)
        theta0[0] = float(np.log(max(t.sum() / scale / d.sum(), 1e-6)))
        # one BLAS thread: on a shared 2-core machine threads made these small products 3-4x slower
        with np.errstate(over="ignore", invalid="ignore"), threadpool_limits(limits=1):
            res = minimize(objective, theta0, jac=True, method="L-BFGS-B", options={"maxiter": 2000})
        if not res.success or not np.all(np.isfinite(res.x)):
            raise FitFailed(f"WeibullAFT did not converge: {res.message}")
        self.coef_ = np.asarray(res.x[1 : p + 1], dtype=float)
        self.intercept_ = float(res.x[0]) + float(np.log(scale))
        self.rho_ = float(np.exp(res.x[p + 1]))
        return self

    def _log_scale(self, z: pd.DataFrame) -> FloatArray:
        return np.asarray(self.intercept_ + z.to_numpy(dtype=float) @ self.coef_, dtype=float)

    def _risk(self, z: pd.DataFrame) -> FloatArray:
        return -self._log_scale(z)

    def _survival(self, z: pd.DataFrame, times: FloatArray) -> FloatArray:
        lam = np.exp(self._log_scale(z))
        return np.asarray(np.exp(-((times[None, :] / lam[:, None]) ** self.rho_)), dtype=float)

    def contributions(self, X: pd.DataFrame | ArrayLike) -> pd.DataFrame:
        z = self._z(X)
        return pd.DataFrame(-z.to_numpy(dtype=float) * self.coef_, columns=z.columns)


class DiscreteHazard(SurvivalModel):
    """Discrete-time hazard classifier (the machine-learning challenger).

    Time is cut into ``n_bins`` intervals (e_{j−1}, e_j] at quantiles of the training failure times. Each
    subject contributes one row per interval it entered (person-period data); the target is 1 in the interval
    where it failed. A classifier estimates h_j(x) = P(T ∈ interval j | T > e_{j−1}, x), and
    S(e_j | x) = Π_{k ≤ j} (1 − h_k(x)); log S is interpolated linearly inside an interval and extended past
    the last edge at the last interval's rate. A subject censored inside an interval counts as surviving it
    when censored after the interval's midpoint. ``classifier`` is ``"hgb"`` (gradient-boosted trees, the
    interval index a feature) or ``"logistic"`` (one intercept per interval, linear in z).
    """

    def __init__(
        self, n_bins: int = 20, classifier: str = "hgb", max_iter: int = 100, random_state: int = 0
    ) -> None:
        self.n_bins = n_bins
        self.classifier = classifier
        self.max_iter = max_iter
        self.random_state = random_state

    def _design(self, z: FloatArray, bins: NDArray[np.int64]) -> FloatArray:
        j = len(self.edges_) - 1
        if self.classifier == "logistic":
            onehot = np.zeros((bins.size, j))
            onehot[np.arange(bins.size), bins] = 1.0
            return np.hstack([z, onehot])
        return np.hstack([z, bins[:, None].astype(float)])

    def fit(self, X: pd.DataFrame | ArrayLike, y: NDArray[Any]) -> Self:
        if self.classifier not in ("hgb", "logistic"):
            raise ValueError(f"classifier must be 'hgb' or 'logistic', but was {self.classifier!r}")
        if self.n_bins < 2:
            raise ValueError(f"n_bins must be at least 2, but was {self.n_bins!r}")
        z = self._fit_prep(X).to_numpy(dtype=float)
        t, e = y["time"].astype(float), y["event"].astype(bool)
        if not e.any():
            raise FitFailed("no failures in the training data: a hazard model needs at least one")
        qs = np.quantile(t[e], np.linspace(0, 1, self.n_bins + 1)[1:])
        self.edges_ = np.concatenate([[0.0], np.unique(qs)])
        n_int = len(self.edges_) - 1
        # interval index containing each time (times past the last edge go to the last interval)
        k = np.clip(np.searchsorted(self.edges_, t, side="left") - 1, 0, n_int - 1)
        mid = (self.edges_[k] + self.edges_[k + 1]) / 2
        last = np.where(e | (t >= mid), k, k - 1)  # the last interval each subject is counted in
        rows = np.repeat(np.arange(t.size), np.maximum(last + 1, 0))
        bins = np.concatenate([np.arange(n + 1) for n in last if n >= 0]).astype(np.int64)
        target = ((bins == k[rows]) & e[rows]).astype(int)
        if target.min() == target.max():
            raise FitFailed("person-period data has a single class: too few failures or intervals")
        design = self._design(z[rows], bins)
        if self.classifier == "logistic":
            clf: Any = LogisticRegression(C=1.0, max_iter=1000)
        else:
            clf = HistGradientBoostingClassifier(
                max_iter=self.max_iter,
                learning_rate=0.1,
                max_leaf_nodes=15,
                min_samples_leaf=40,
                l2_regularization=1.0,
                early_stopping=False,
                random_state=self.random_state,
            )
        with threadpool_limits(limits=1):  # OpenMP threads only slow trees down on a shared 2-core machine
            clf.fit(design, target)
        self.clf_ = clf
        return self

    def _edge_survival(self, z: pd.DataFrame) -> FloatArray:
        zz = z.to_numpy(dtype=float)
        n, n_int = zz.shape[0], len(self.edges_) - 1
        bins = np.tile(np.arange(n_int), n)
        with threadpool_limits(limits=1):
            h = self.clf_.predict_proba(self._design(np.repeat(zz, n_int, axis=0), bins))[:, 1]
        h = np.clip(h.reshape(n, n_int), 1e-9, 1 - 1e-9)
        return np.asarray(np.cumsum(np.log1p(-h), axis=1), dtype=float)  # log S at edges 1..J

    def _moves(self, base: FloatArray) -> NDArray[np.bool_]:
        """(n, covariates): True where setting z_k to 0 can change the prediction of row i.

        Trees: only when some split on covariate k has its threshold between z_k and 0 (a sample goes left
        when its value is ≤ the threshold), so elsewhere the contribution is exactly 0 and is not computed.
        """
        n_cov = base.shape[1]
        if self.classifier == "logistic":
            used = np.abs(np.asarray(self.clf_.coef_)[0, :n_cov]) > 0
            return np.asarray((base != 0) & used[None, :])
        thresholds: list[list[float]] = [[] for _ in range(n_cov)]
        for stage in self.clf_._predictors:
            for tree in stage:
                nodes = tree.nodes[tree.nodes["is_leaf"] == 0]
                for f, th in zip(nodes["feature_idx"].tolist(), nodes["num_threshold"].tolist(), strict=True):
                    if f < n_cov:
                        thresholds[f].append(th)
        moves = np.zeros(base.shape, dtype=bool)
        lo, hi = np.minimum(base, 0.0), np.maximum(base, 0.0)
        for k, th in enumerate(thresholds):
            if th:
                s = np.sort(np.asarray(th))
                moves[:, k] = np.searchsorted(s, hi[:, k], "left") > np.searchsorted(s, lo[:, k], "left")
        return moves

    def contributions(self, X: pd.DataFrame | ArrayLike) -> pd.DataFrame:
        """risk(x) − risk(x with z_k = 0), computed only where z_k = 0 can change the prediction."""
        z = self._z(X)
        cols = list(z.columns)
        base = z.to_numpy(dtype=float)
        rows, ks = np.nonzero(self._moves(base))
        stacked = np.vstack([base, base[rows]])
        stacked[base.shape[0] + np.arange(rows.size), ks] = 0.0
        risk = self._risk(pd.DataFrame(stacked, columns=cols))
        out = np.zeros(base.shape)
        out[rows, ks] = risk[rows] - risk[base.shape[0] :]
        return pd.DataFrame(out, columns=cols)

    def _risk(self, z: pd.DataFrame) -> FloatArray:
        log_s = self._edge_survival(z)
        widths = np.diff(self.edges_)
        # restricted mean survival time up to the last edge, negated (shorter expected life = riskier)
        s_start = np.exp(np.hstack([np.zeros((log_s.shape[0], 1)), log_s[:, :-1]]))
        return -np.asarray((s_start + np.exp(log_s)) / 2 @ widths, dtype=float)

    def _survival(self, z: pd.DataFrame, times: FloatArray) -> FloatArray:
        log_s = np.hstack([np.zeros((len(z), 1)), self._edge_survival(z)])
        edges = self.edges_
        rate = (log_s[:, -1] - log_s[:, -2]) / (edges[-1] - edges[-2])
        k = np.clip(np.searchsorted(edges, times, side="right"), 1, edges.size - 1)
        frac = np.clip((times - edges[k - 1]) / (edges[k] - edges[k - 1]), 0.0, 1.0)
        inside = log_s[:, k - 1] + frac[None, :] * (log_s[:, k] - log_s[:, k - 1])
        beyond = log_s[:, -1:] + rate[:, None] * (times[None, :] - edges[-1])
        out = np.where(times[None, :] > edges[-1], beyond, inside)
        return np.asarray(np.exp(out), dtype=float)


def default_candidates() -> dict[str, SurvivalModel]:
    """The models model selection chooses from (per asset kind, by cross-validated concordance)."""
    return {
        "cox": CoxPH(penalizer=0.001),
        "cox_ridge": CoxPH(penalizer=0.1),
        "weibull_aft": WeibullAFT(penalizer=0.01),
        "discrete_hazard_hgb": DiscreteHazard(classifier="hgb"),
    }
