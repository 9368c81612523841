"""Forecasts, the model registry, training, and landmarking without leakage (frame code)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from predict.data import SurvivalData
from predict.features import Lifetime, WindowSpec, landmark_table, window_features
from predict.forecast import AssetInput, ForecastSettings, forecast_assets
from predict.models import CoxPH, FitFailed, WeibullAFT, survival_y
from predict.registry import ModelRegistry
from predict.train import train_model
from tests.unit.test_predict_models import weibull_data

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def assets(n: int, age: float = 0.0) -> list[AssetInput]:
    return [AssetInput(f"a{i}", "water_pump", criticality=1 + i % 5, age_days=age) for i in range(n)]


@pytest.mark.parametrize("mode", ["landmark", "static"])
def test_forecast_curve_probabilities_window_and_risk_agree(mode: str) -> None:
    X, y = weibull_data()
    model = CoxPH().fit(X, y)
    out = forecast_assets(model, "v1", X.iloc[:20], assets(20, age=15.0), NOW, mode=mode)
    assert [f.risk for f in out] == sorted((f.risk for f in out), reverse=True)
    for f in out:
        s = np.array(f.survival)
        assert np.all(np.isfinite(s)) and np.all((s >= 0) & (s <= 1)) and np.all(np.diff(s) <= 0)
        assert s[0] == pytest.approx(1.0)
        for h in (7, 30, 90):
            assert f.p_fail[h] == pytest.approx(1 - s[f.curve_days.index(h)], abs=1e-6)
        assert f.p_fail[7] <= f.p_fail[30] <= f.p_fail[90]
        assert f.risk == pytest.approx(f.p_fail[30] * f.criticality, abs=1e-5)
        if f.window_start is not None and f.window_end is not None:
            assert NOW <= f.window_start <= f.window_end
            # the window holds the 20%..80% quantiles of the conditional time to failure
            u_lo = (f.window_start - NOW).total_seconds() / 86400
            assert 1 - np.interp(u_lo, f.curve_days, s) == pytest.approx(0.2, abs=0.02)
    assert all(f.drivers for f in out)
    assert out[0].drivers[0].name in X.columns


def test_static_forecast_conditions_on_current_age() -> None:
    # Weibull shape > 1: wear-out, so an old asset is likelier to fail in the next 30 days than a new one
    X, y = weibull_data()
    model = WeibullAFT().fit(X, y)
    assert model.rho_ > 1.2
    row = X.iloc[:1]
    young = forecast_assets(model, "v", row, assets(1, age=0.0), NOW, mode="static")[0]
    old = forecast_assets(model, "v", row, assets(1, age=60.0), NOW, mode="static")[0]
    assert old.p_fail[30] > young.p_fail[30] + 0.05
    s = model.predict_survival(row, [60.0, 90.0])[0]
    assert old.p_fail[30] == pytest.approx(1 - s[1] / s[0], abs=1e-4)


def test_explain_top_limits_drivers() -> None:
    X, y = weibull_data()
    model = CoxPH().fit(X, y)
    out = forecast_assets(model, "v", X.iloc[:10], assets(10), NOW, settings=ForecastSettings(explain_top=3))
    assert [bool(f.drivers) for f in out] == [True] * 3 + [False] * 7


def test_window_quantiles_of_all_assets_equal_the_per_curve_reference() -> None:
    from predict.forecast import _quantile, _quantiles

    rng = np.random.default_rng(3)
    grid = ForecastSettings().grid()
    # random non-increasing curves: some fall fast (quantile at the first step), some never reach 0.8
    drops = rng.exponential(rng.choice([0.001, 0.02, 0.3], size=(200, 1)), size=(200, grid.size))
    drops[:, 0] = np.where(rng.random(200) < 0.05, 0.5, 0.0)  # a few start below 1 (hit at u = 0)
    surv = np.exp(-np.cumsum(drops, axis=1))
    surv[:5] = np.repeat(surv[:5, :1], grid.size, axis=1)  # flat curves
    for p in (0.2, 0.8):
        fast = _quantiles(grid, surv, p)
        ref = [_quantile(grid, s, p) for s in surv]
        assert sum(q is None for q in ref) > 0 and sum(q is not None for q in ref) > 0
        assert [None if np.isnan(q) else q for q in fast] == pytest.approx(ref)


def survival_data(n: int = 300) -> SurvivalData:
    X, y = weibull_data(n)
    return SurvivalData(
        X, y["time"], y["event"].astype(int), np.array([f"a{i}" for i in range(n)], dtype=object)
    )


def test_train_registers_a_version_with_metrics_range_and_threshold(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "models")
    meta = train_model(
        survival_data(),
        "water_pump",
        registry,
        NOW,
        horizon=30,
        splits=1,
        candidates={"cox": CoxPH()},
        data_range={"first": "2025-11-01", "last": "2026-11-01"},
        time_unit="days",
    )
    assert registry.current("water_pump") == meta
    model, loaded = registry.load("water_pump")
    assert loaded.version == "v20261123T120000" and loaded.model == "cox"
    assert loaded.data["first"] == "2025-11-01" and loaded.data["n"] == 300
    assert loaded.metrics["backtest"]["c_index_harrell"] > 0.65
    t = loaded.threshold
    assert 0 < t["probability"] < 1 and t["rate_at_threshold"] >= t["target_rate"] == 0.3
    X, _ = weibull_data()
    assert np.allclose(model.predict(X.iloc[:5]), registry.load("water_pump")[0].predict(X.iloc[:5]))


def test_a_failed_fit_keeps_the_previous_model_in_service(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "models")
    first = train_model(survival_data(), "pump", registry, NOW, splits=0, candidates={"cox": CoxPH()})
    x = np.arange(40, dtype=float)
    separable = SurvivalData(
        pd.DataFrame({"x": x}),
        100 - x,
        np.ones(40, dtype=int),
        np.array([f"s{i}" for i in range(40)], dtype=object),
    )
    with pytest.raises(FitFailed):
        train_model(
            separable, "pump", registry, NOW + dt.timedelta(days=1), splits=0, candidates={"cox": CoxPH()}
        )
    assert registry.current("pump") == first
    assert len(registry.versions("pump")) == 1
    with pytest.raises(LookupError, match="no trained model for 'lift': run `facility train --kind lift"):
        registry.load("lift")


def test_landmark_rows_do_not_change_when_data_after_the_landmark_is_added() -> None:
    rng = np.random.default_rng(3)
    t = np.sort(rng.uniform(0, 100, 2000))
    full = pd.DataFrame({"time": t, "v": rng.normal(size=t.size).cumsum(), "w": rng.normal(size=t.size)})
    spec = WindowSpec(window=10, buckets=5)
    life = Lifetime("a", 0.0, 100.0, True)
    rows = landmark_table([life], lambda a, s: window_features(full, s, spec, ["v", "w"]), step=7)
    for k, s in enumerate(rows.landmark):
        past = full[full["time"] < s]
        alone = window_features(past, s, spec, ["v", "w"])
        assert alone == pytest.approx(rows.X.iloc[k][list(alone)].to_dict(), nan_ok=True)
        assert rows.X.iloc[k]["since_repair"] == s and rows.duration[k] == pytest.approx(100 - s)
    # a reading exactly at the landmark time is the future, not the past
    at = pd.concat([full[full["time"] < 50], pd.DataFrame({"time": [50.0], "v": [1e6], "w": [1e6]})])
    assert window_features(at, 50.0, spec, ["v"]) == window_features(
        full[full["time"] < 50], 50.0, spec, ["v"]
    )


def test_since_repair_counted_from_install_is_not_extrapolated_to_certain_failure() -> None:
    # the demo's pump: training lifetimes run at most the history (180 d) long, but a live asset with no
    # repair on record counts since_repair from its install date, years back; its 30-day P(failure) was 100 %
    rng = np.random.default_rng(3)
    since = rng.uniform(0, 180, 400)
    X = pd.DataFrame({"since_repair": since, "vibration": rng.normal(size=400)})
    t = 60 * np.exp(-0.005 * since - 0.3 * X["vibration"].to_numpy()) * rng.weibull(1.5, 400)
    model = CoxPH(penalizer=0.001).fit(X, survival_y(t, np.ones(400, dtype=int)))
    live = pd.DataFrame({"since_repair": [180.0 + 14 * 365.0, since.max()], "vibration": [0.0, 0.0]})
    installed_2012, oldest_in_training = forecast_assets(model, "v", live, assets(2), NOW)
    assert installed_2012.p_fail[30] == pytest.approx(oldest_in_training.p_fail[30])
    assert 0.2 < installed_2012.p_fail[30] < 0.99
