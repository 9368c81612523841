"""Survival models and metrics: curve invariants for every model, metrics against known values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines.utils import concordance_index
from sklearn.base import clone

from predict.metrics import (
    brier_scores,
    censoring_survival,
    harrell_c,
    integrated_brier_score,
    kaplan_meier,
    uno_c,
)
from predict.models import (
    CoxPH,
    DiscreteHazard,
    FitFailed,
    KaplanMeierModel,
    WeibullAFT,
    default_candidates,
    survival_y,
)


def weibull_data(n: int = 300, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Weibull lifetimes whose scale depends on x1 (x2 is noise), with independent uniform censoring."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n), "flat": np.ones(n)})
    t = 50 * np.exp(-0.8 * X["x1"].to_numpy()) * rng.weibull(1.5, n)
    c = rng.uniform(10, 150, n)
    return X, survival_y(np.minimum(t, c), (t <= c).astype(int))


MODELS = {
    "km": KaplanMeierModel(),
    "cox": CoxPH(),
    "weibull": WeibullAFT(),
    "discrete_logistic": DiscreteHazard(classifier="logistic", n_bins=10),
    **default_candidates(),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_survival_curves_are_finite_in_unit_interval_and_non_increasing(name: str) -> None:
    X, y = weibull_data()
    model = clone(MODELS[name]).fit(X.iloc[:200], y[:200])
    times = np.linspace(0, 400, 60)  # beyond the largest observed time too
    s = model.predict_survival(X.iloc[200:], times)
    assert s.shape == (100, 60)
    assert np.all(np.isfinite(s))
    assert np.all((s >= 0) & (s <= 1))
    assert np.all(np.diff(s, axis=1) <= 1e-12)
    assert np.all(np.isfinite(model.predict(X.iloc[200:])))


@pytest.mark.parametrize("name", [n for n in MODELS if n != "km"])
def test_covariate_models_rank_better_than_chance(name: str) -> None:
    X, y = weibull_data()
    model = clone(MODELS[name]).fit(X.iloc[:200], y[:200])
    c = model.score(X.iloc[200:], y[200:])
    assert c > 0.65
    contrib = model.contributions(X.iloc[200:210])
    assert contrib.shape[0] == 10
    # x1 drives the hazard, the constant column was dropped; x1 matters more than noise on average
    assert "flat" not in contrib.columns
    assert contrib["x1"].abs().mean() > contrib["x2"].abs().mean()


def test_cox_convergence_warning_is_a_failed_fit() -> None:
    x = np.arange(40, dtype=float)
    X = pd.DataFrame({"x": x})  # perfectly separates the failure order: lifelines only warns
    y = survival_y(100 - x, np.ones(40, dtype=int))
    with pytest.raises(FitFailed, match="did not converge"):
        CoxPH().fit(X, y)


def test_hyperparameter_errors_say_what_was_wrong() -> None:
    X, y = weibull_data(50)
    with pytest.raises(ValueError, match=r"penalizer must be non-negative, but was -1"):
        CoxPH(penalizer=-1).fit(X, y)
    with pytest.raises(ValueError, match=r"classifier must be 'hgb' or 'logistic', but was 'svm'"):
        DiscreteHazard(classifier="svm").fit(X, y)
    with pytest.raises(ValueError, match="add a small positive value"):
        survival_y([0.0, 1.0], [1, 0])


def test_harrell_c_matches_lifelines_without_ties() -> None:
    rng = np.random.default_rng(1)
    t = rng.exponential(10, 400)
    e = rng.integers(0, 2, 400)
    risk = -t + rng.normal(0, 5, 400)
    assert harrell_c(t, e, risk) == pytest.approx(concordance_index(t, -risk, e), abs=1e-9)


def test_harrell_c_by_hand() -> None:
    # comparable pairs (earlier time is a failure): (0,1) (0,2) (2,1); subject 1 censored at 5
    t, e = np.array([1.0, 5.0, 3.0]), np.array([1, 0, 1])
    assert harrell_c(t, e, [3, 1, 2]) == 1.0
    assert harrell_c(t, e, [1, 3, 2]) == 0.0
    assert harrell_c(t, e, [2, 1, 2]) == pytest.approx((0.5 + 1 + 1) / 3)


def test_uno_c_equals_harrell_without_censoring_and_weights_late_pairs_up() -> None:
    rng = np.random.default_rng(2)
    t = rng.exponential(10, 200)
    risk = -t + rng.normal(0, 4, 200)
    ones = np.ones(200, dtype=int)
    assert uno_c(t, ones, t, ones, risk) == pytest.approx(harrell_c(t, ones, risk))
    c = rng.exponential(10, 200)
    obs, ev = np.minimum(t, c), (t <= c).astype(int)
    assert uno_c(obs, ev, obs, ev, risk) != pytest.approx(harrell_c(obs, ev, risk))


def test_kaplan_meier_and_censoring_survival_by_hand() -> None:
    t, e = np.array([1.0, 2.0, 2.0, 3.0, 4.0]), np.array([1, 1, 0, 1, 0])
    km = kaplan_meier(t, e)
    # S(1) = 4/5, S(2) = 4/5 · 3/4 = 3/5, S(3) = 3/5 · 1/2 = 3/10
    assert km([0.5, 1, 2, 3, 10]).tolist() == pytest.approx([1, 0.8, 0.6, 0.3, 0.3])
    assert km.left(np.array([2.0])).tolist() == pytest.approx([0.8])
    g = censoring_survival(t, e)
    assert g([1, 2, 4]).tolist() == pytest.approx([1.0, 0.75, 0.0])


def test_brier_score_perfect_and_uninformative_predictions() -> None:
    t = np.array([1.0, 2.0, 3.0, 4.0])
    e = np.ones(4, dtype=int)
    grid = np.array([1.5, 2.5, 3.5])
    perfect = (t[:, None] > grid[None, :]).astype(float)
    assert brier_scores(t, e, t, e, perfect, grid).tolist() == pytest.approx([0, 0, 0])
    half = np.full((4, 3), 0.5)
    assert integrated_brier_score(t, e, t, e, half, grid) == pytest.approx(0.25)


@pytest.mark.parametrize("classifier", ["hgb", "logistic"])
def test_discrete_hazard_contributions_skip_only_covariates_that_cannot_move_the_risk(
    classifier: str,
) -> None:
    """The pruned contributions equal the generic ones (every covariate set to 0, one at a time)."""
    from predict.models import SurvivalModel

    X, y = weibull_data(400, seed=2)
    X["x3"] = np.random.default_rng(5).normal(size=len(X))
    model = DiscreteHazard(classifier=classifier, n_bins=8, max_iter=30).fit(X, y)
    fast = model.contributions(X.iloc[:60])
    slow = SurvivalModel.contributions(model, X.iloc[:60])
    assert list(fast.columns) == list(slow.columns) == ["x1", "x2", "x3"]
    np.testing.assert_allclose(fast.to_numpy(), slow.to_numpy(), rtol=1e-9, atol=1e-12)
    assert np.abs(fast["x1"].to_numpy()).max() > 0.1  # the covariate that drives the lifetimes


@pytest.mark.parametrize("name", ["cox", "weibull", "discrete_logistic", "cox_ridge"])
def test_covariates_beyond_the_training_range_score_as_its_edge(name: str) -> None:
    # x1 shortens life (scale exp(-0.8 x1)); far beyond the data a linear predictor would say "fails at once"
    X, y = weibull_data()
    model = clone(MODELS[name]).fit(X, y)
    times = [1.0, 10.0, 30.0]
    row = X.iloc[[0]].copy()
    edge_hi, far_hi = row.assign(x1=X["x1"].max()), row.assign(x1=X["x1"].max() + 25.0)
    edge_lo, far_lo = row.assign(x1=X["x1"].min()), row.assign(x1=X["x1"].min() - 25.0)
    np.testing.assert_allclose(model.predict_survival(far_hi, times), model.predict_survival(edge_hi, times))
    np.testing.assert_allclose(model.predict_survival(far_lo, times), model.predict_survival(edge_lo, times))
    assert model.predict(far_hi)[0] == pytest.approx(model.predict(edge_hi)[0])
    # scored as the riskiest training profile (mean life about 4 days), not as failing at once
    assert model.predict_survival(far_hi, times)[0, 0] > 0.5
    # inside the range nothing changes: scores follow x1
    inside = row.assign(x1=float(X["x1"].quantile(0.9)))
    assert model.predict(edge_hi)[0] > model.predict(inside)[0] > model.predict(edge_lo)[0]


class Overconfident(CoxPH):
    """Cox's ranking with extreme probabilities: S(t | x)^8 (same order of risks, far too sure of failure)."""

    def predict_survival(self, X: pd.DataFrame, times: np.ndarray) -> np.ndarray:
        return np.asarray(super().predict_survival(X, times)) ** 8


def test_training_selects_by_brier_at_the_horizon_so_an_overconfident_model_loses() -> None:
    from predict.backtest import cv_score, select_model
    from predict.data import SurvivalData

    X, y = weibull_data(400, seed=3)
    data = SurvivalData(X, y["time"], y["event"], np.array([f"a{i}" for i in range(len(X))], dtype=object))
    rows = np.arange(len(X))
    candidates = {"overconfident": Overconfident(), "cox": CoxPH()}
    by_c = select_model(data, rows, candidates, criterion="concordance")
    assert by_c.scores["overconfident"] == pytest.approx(by_c.scores["cox"])  # the same ranking
    by_brier = select_model(data, rows, candidates, criterion="brier", horizon=30.0)
    assert by_brier.name == "cox"
    assert by_brier.scores["cox"] > by_brier.scores["overconfident"]
    # the score is minus the mean fold Brier score at the horizon, which Kaplan-Meier bounds for a useful model
    km = cv_score(KaplanMeierModel(), data, rows, 3, criterion="brier", horizon=30.0)
    assert -0.25 < km < by_brier.scores["cox"] < 0
    with pytest.raises(ValueError, match="unknown selection criterion 'auc'"):
        cv_score(CoxPH(), data, rows, 3, criterion="auc")


def test_weibull_aft_is_lifelines_model_fitted_in_numpy() -> None:
    """Same model and objective as lifelines' WeibullAFTFitter (mean negative log-likelihood + ridge on the
    slopes), fitted with an analytic gradient: the coefficients agree."""
    from lifelines import WeibullAFTFitter

    X, y = weibull_data(400, seed=4)
    ours = WeibullAFT(penalizer=0.01).fit(X, y)
    z = ours.prep_.transform(X)
    frame = z.assign(_time=y["time"], _event=y["event"].astype(int))
    ref = WeibullAFTFitter(penalizer=0.01).fit(frame, "_time", "_event")
    coef = ref.params_.loc["lambda_"].reindex(z.columns).to_numpy()
    assert np.allclose(ours.coef_, coef, atol=0.01)
    assert ours.intercept_ == pytest.approx(float(ref.params_.loc[("lambda_", "Intercept")]), abs=0.01)
    assert ours.rho_ == pytest.approx(float(np.exp(ref.params_.loc[("rho_", "Intercept")])), rel=0.01)
    assert ours.coef_[list(z.columns).index("x1")] == pytest.approx(-0.8, abs=0.15)  # t ∝ exp(−0.8·x1)


def lifelines_cox(model: CoxPH, X: pd.DataFrame, y: np.ndarray) -> tuple[object, pd.DataFrame]:
    """lifelines' CoxPHFitter on the covariates our model was fitted on (standardised, constant columns dropped)."""
    import warnings

    from lifelines import CoxPHFitter

    z = model.prep_.transform(X)
    frame = z.assign(_time=np.maximum(y["time"], 1e-6), _event=y["event"].astype(int))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a ConvergenceWarning would make the comparison meaningless
        ref = CoxPHFitter(penalizer=model.penalizer, l1_ratio=model.l1_ratio).fit(frame, "_time", "_event")
    return ref, z


def cox_datasets() -> dict[str, tuple[pd.DataFrame, np.ndarray]]:
    from predict.data import load_series, series_table
    from predict.features import WindowSpec
    from tests.conftest import SHARED_DATA

    X, y = weibull_data(400, seed=4)
    tx, ty = weibull_data(600, seed=5)  # times rounded up to 5 days: many tied failures
    tied = survival_y(np.ceil(ty["time"] / 5) * 5, ty["event"].astype(int))
    maint = pd.read_csv(SHARED_DATA / "pysurvival" / "maintenance.csv", sep=";")
    mx = pd.get_dummies(maint.drop(columns=["lifetime", "broken"]), dtype=float)
    series = load_series(SHARED_DATA / "cmapss" / "train_FD001.txt", "c1", "c2", sep="ws", header=False)
    cmapss = series_table(series, WindowSpec(30, 5, stats=("level", "trend")), step=20)
    return {
        "weibull": (X, y),
        "tied_times": (tx, tied),
        "maintenance": (mx, survival_y(maint["lifetime"], maint["broken"])),  # integer lifetimes, ties
        "cmapss": (cmapss.X, survival_y(cmapss.time, cmapss.event)),  # landmark rows, integer cycles
    }


@pytest.mark.parametrize(("penalizer", "l1_ratio"), [(0.001, 0.0), (0.1, 0.0), (0.1, 0.5)])
def test_cox_is_lifelines_model_fitted_in_numpy(penalizer: float, l1_ratio: float) -> None:
    """Same model, objective, Newton-Raphson and Breslow baseline as lifelines' CoxPHFitter (Efron's ties, the
    penalty on the sample-standardised columns): coefficients and survival curves agree on simulated data with
    and without ties, maintenance.csv and C-MAPSS landmark rows."""
    for name, (X, y) in cox_datasets().items():
        ours = CoxPH(penalizer=penalizer, l1_ratio=l1_ratio).fit(X, y)
        ref, z = lifelines_cox(ours, X, y)
        coef = ref.params_.reindex(z.columns).to_numpy()
        np.testing.assert_allclose(ours.coef_, coef, atol=1e-6, err_msg=name)
        base = ref.baseline_cumulative_hazard_.iloc[:, 0]
        np.testing.assert_allclose(ours.baseline_times_, base.index.to_numpy(), err_msg=name)
        np.testing.assert_allclose(ours.baseline_cumhaz_, base.to_numpy(), rtol=1e-6, atol=1e-9, err_msg=name)
        # at observed times (lifelines interpolates linearly between them, ours is the step function)
        times = np.unique(y["time"])[:: max(1, np.unique(y["time"]).size // 25)]
        rows = z.iloc[:: max(1, len(z) // 50)]
        expected = ref.predict_survival_function(rows, times=times).to_numpy().T
        np.testing.assert_allclose(ours.predict_survival(X.iloc[rows.index], times), expected, atol=1e-6)
        assert np.all(ours.predict(X) == pytest.approx(np.log(ref.predict_partial_hazard(z).to_numpy())))


def test_cox_fails_where_lifelines_fails_and_converges_with_a_penalty() -> None:
    """Separable data (x orders the failures exactly): lifelines' Newton-Raphson stalls and only warns; ours
    raises FitFailed. With a ridge penalty the optimum is finite and both find it."""
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceWarning

    x = np.arange(40, dtype=float)
    X = pd.DataFrame({"x": x})
    y = survival_y(100 - x, np.ones(40, dtype=int))
    with pytest.raises(FitFailed, match="CoxPH did not converge: the Newton step shrank"):
        CoxPH().fit(X, y)
    z = (x - x.mean()) / x.std()
    with pytest.warns(ConvergenceWarning, match="failed to converge"):
        CoxPHFitter().fit(pd.DataFrame({"x": z, "t": 100 - x, "e": 1}), "t", "e")
    ridge = CoxPH(penalizer=0.1).fit(X, y)
    ref, _ = lifelines_cox(ridge, X, y)
    assert ridge.coef_[0] == pytest.approx(float(ref.params_["x"]), abs=1e-9)
    assert ridge.coef_[0] > 0.5  # the later the row, the earlier it failed


def test_cox_without_a_penalty_on_collinear_dummies_fails_as_lifelines_does() -> None:
    """maintenance.csv's one-hot team and provider columns each sum to 1: the unpenalised Hessian is
    singular, lifelines raises ConvergenceError, we raise FitFailed (the backtest then uses the smallest ridge)."""
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceError

    X, y = cox_datasets()["maintenance"]
    with pytest.raises(FitFailed, match="Hessian is singular"):
        CoxPH().fit(X, y)
    model = CoxPH(penalizer=0.001)
    z = model._fit_prep(X)
    with pytest.raises(ConvergenceError):
        CoxPHFitter().fit(z.assign(_time=y["time"], _event=y["event"].astype(int)), "_time", "_event")
