"""Probabilities you can trust and repairs that renew (issue 12): shrinkage toward Kaplan–Meier chosen on
held-out rows, Kaplan–Meier for a kind with few failures, the renewal curve after a repair on every model family,
probabilities never 0 or 1, drivers in words."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from predict.calibration import Calibrated, choose_weight, cross_fitted, renewal_curve, renewed_survival
from predict.data import SurvivalData
from predict.explain import describe
from predict.forecast import AssetInput, ForecastSettings, forecast_assets
from predict.models import CoxPH, DiscreteHazard, KaplanMeierModel, SurvivalModel, WeibullAFT, survival_y
from predict.registry import ModelRegistry
from predict.train import MIN_FAILED_ASSETS, train_model

NOW = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
WINDOW = 14.0


def wear_out_fleet(n: int = 160, seed: int = 0) -> SurvivalData:
    """Lifetimes that begin at a repair and wear out (Weibull shape 3, scale set by each unit's wear rate);
    landmark rows every 10 days from one window in: the wear level measured so far, and since_repair."""
    rng = np.random.default_rng(seed)
    rows, time, event, groups, renewals = [], [], [], [], []
    for i in range(n):
        rate = rng.lognormal(0.0, 0.4)
        life = 120.0 / rate * rng.weibull(3.0)
        end = min(life, 200.0)
        failed = life <= 200.0
        renewals.append((max(end, 1e-3), bool(failed)))
        for s in np.arange(WINDOW, end, 10.0):
            rows.append({"wear__level": rate * s + rng.normal(0, 3), "since_repair": s})
            time.append(end - s)
            event.append(int(failed))
            groups.append(f"u{i}")
    return SurvivalData(
        pd.DataFrame(rows),
        np.array(time),
        np.array(event),
        np.array(groups, dtype=object),
        renewals=tuple(renewals),
    )


@pytest.fixture(scope="module")
def fleet() -> SurvivalData:
    return wear_out_fleet()


FAMILIES: dict[str, SurvivalModel] = {
    "cox": CoxPH(penalizer=0.01),
    "weibull_aft": WeibullAFT(penalizer=0.01),
    "discrete_hazard_hgb": DiscreteHazard(classifier="hgb", max_iter=30),
    "discrete_hazard_logistic": DiscreteHazard(classifier="logistic"),
    "kaplan_meier": KaplanMeierModel(),
}


@pytest.mark.parametrize("family", list(FAMILIES))
def test_the_forecast_after_a_resolved_preventive_visit_is_lower_than_before(
    fleet: SurvivalData, family: str
) -> None:
    base = FAMILIES[family].fit(fleet.X, fleet.y)
    model = Calibrated(base, 0.8).fit(fleet.X, fleet.y)
    model.renewal_ = renewal_curve([r[0] for r in fleet.renewals], [r[1] for r in fleet.renewals])
    # a worn unit, 90 days since its last repair; then the same readings half a day after a visit
    worn = pd.DataFrame(
        [{"wear__level": 180.0, "since_repair": 90.0}, {"wear__level": 180.0, "since_repair": 0.5}]
    )
    cfg = ForecastSettings(renewal_days=WINDOW)
    before, after = (
        forecast_assets(model, "v1", worn.iloc[[i]], [AssetInput("a", "elevator")], NOW, settings=cfg)[0]
        for i in (0, 1)
    )
    assert after.p_fail[30] < before.p_fail[30], (after.p_fail, before.p_fail)
    assert after.drivers[0].name == "since_repair" and "repaired 0.5 days ago" in after.drivers[0].text_en
    for f in (before, after):  # invariants: finite, in (0, 1], non-increasing; no probability 0 or 1
        assert all(0 < s <= 1 for s in f.survival) and all(a >= b for a, b in itertools.pairwise(f.survival))
        assert all(0 < p < 1 for p in f.p_fail.values())


def test_shrinkage_weight_is_chosen_on_held_out_rows() -> None:
    rng = np.random.default_rng(1)
    failed = rng.random(2000) < 0.3
    time = np.where(failed, 10.0, 60.0)
    event = np.ones(2000, dtype=int)
    km = np.full(2000, 0.3)
    useless = rng.random(2000)
    assert choose_weight(useless, km, time, event, 30.0)["weight"] == 0.0  # Kaplan–Meier is served
    perfect = np.where(failed, 0.95, 0.05)
    good = choose_weight(perfect, km, time, event, 30.0)
    assert good["weight"] == 1.0 and good["beats_km"] and good["brier"] < good["brier_km"]
    overconfident = np.where(failed, 1.0, np.where(rng.random(2000) < 0.5, 1.0, 0.0))
    mid = choose_weight(overconfident, km, time, event, 30.0)
    assert 0.0 < mid["weight"] < 1.0 and mid["brier"] < mid["brier_model_uncalibrated"]


def test_a_kind_with_three_failures_gets_kaplan_meier_and_a_backtest_is_skipped_not_fatal(
    tmp_path: Path,
) -> None:
    data = wear_out_fleet(n=30, seed=3)
    keep_failed = {g for g in pd.unique(data.groups[data.event == 1])[:3]}
    event = np.where(np.isin(data.groups, list(keep_failed)), data.event, 0)
    few = SurvivalData(data.X, data.time, event, data.groups, renewals=data.renewals)
    assert few.subject_events == 3 < MIN_FAILED_ASSETS
    meta = train_model(few, "fire_alarm", ModelRegistry(tmp_path), NOW)  # default splits: no flags needed
    assert meta.model == "kaplan_meier" and "3 assets with a failure" in meta.metrics["selection"]["reason"]
    assert "skipped" in meta.metrics["backtest"]
    model, _ = ModelRegistry(tmp_path).load("fire_alarm")
    s = model.predict_survival(few.X.iloc[:3], [7.0, 30.0, 90.0])
    assert np.allclose(s, s[0]) and np.all(np.diff(s[0]) <= 0)  # one curve for all: Kaplan–Meier


def test_training_reports_held_out_brier_beside_kaplan_meier_and_a_reliability_table(
    tmp_path: Path,
) -> None:
    small = wear_out_fleet(n=80, seed=5)
    meta = train_model(
        small, "elevator", ModelRegistry(tmp_path), NOW, splits=0, candidates={"cox": CoxPH(0.01)}
    )
    held = meta.metrics["held_out"]
    assert held["served"] == "cox" and 0 < held["weight"] <= 1
    assert held["brier"] < held["brier_km"]  # wear predicts failure: the model beats the constant
    assert sum(r["n"] for r in held["reliability"]) == held["rows"]
    predicted = [r["predicted"] for r in held["reliability"]]
    assert predicted == sorted(predicted)
    model, _ = ModelRegistry(tmp_path).load("elevator")
    assert isinstance(model, Calibrated) and model.renewal_ is not None


def test_drivers_are_words_with_units() -> None:
    row = {"vibration_mm_s__level": 3.9, "vibration_mm_s__trend": 0.167, "events_fault": 2.0}
    assert (
        describe("elevator", "vibration_mm_s__level", row, 14, "en")
        == "car vibration 3.9 mm/s, up 60 % in 14 days"
    )
    assert (
        describe("elevator", "vibration_mm_s__level", row, 14, "zh") == "轿厢振动 3.9 mm/s，14 天内上升 60%"
    )
    assert describe("elevator", "events_fault", row, 14, "en") == "2 faults in 14 days"
    assert (
        describe("elevator", "since_repair", {"since_repair": 18.25}, 14, "en")
        == "18.2 days since the last repair"
    )


def test_survival_y_of_the_renewals_is_valid(fleet: SurvivalData) -> None:
    y = survival_y([r[0] for r in fleet.renewals], [int(r[1]) for r in fleet.renewals])
    curve = renewal_curve(y["time"], y["event"])
    assert curve is not None and float(curve(np.array([0.0]))[0]) == 1.0


def test_a_weight_that_only_its_own_rows_like_is_not_served() -> None:
    """One asset with many rows where the model is right outweighs twenty where it is wrong: chosen on all the
    rows, the weight "beats" Kaplan–Meier; each asset scored with the weight the others chose, it does not."""
    groups = np.array(["big"] * 200 + [f"s{i}" for i in range(20) for _ in range(5)], dtype=object)
    rng = np.random.default_rng(2)
    failed = rng.random(groups.size) < 0.3
    time = np.where(failed, 10.0, 60.0)
    event = np.ones(groups.size, dtype=int)
    p_km = np.full(groups.size, 0.3)
    p_model = np.where(failed, 0.9, 0.1)
    p_model[200:] = 1.0 - p_model[200:]  # wrong on every small asset
    tuned = choose_weight(p_model, p_km, time, event, 30.0)
    assert tuned["weight"] > 0 and tuned["beats_km"]
    honest = cross_fitted(p_model, p_km, time, event, 30.0, groups)
    assert not honest["beats_km"] and honest["brier"] > honest["brier_km"] == tuned["brier_km"]
    assert honest["weights"][list(np.unique(groups.astype(str))).index("big")] == 0.0  # the others' choice


def test_the_renewal_curve_is_never_certain_where_no_renewal_failed() -> None:
    """Forty lifetimes after a repair, none failing in its first 40 days: Kaplan–Meier alone would say
    P(fail within 7 d) = 0 right after a repair; the renewal curve keeps a small hazard there, and still
    says a fresh repair is safer than a worn unit."""
    durations = np.linspace(40.0, 120.0, 40)
    failed = np.arange(40) % 2 == 0
    curve = renewal_curve(durations, failed)
    assert curve is not None
    p = 1.0 - renewed_survival(curve, np.array([0.0, 5.0]), np.array([7.0, 30.0, 90.0]))
    assert np.all(p[:, 0] > 0.001) and np.all(p[:, 0] < 0.05)  # small but not zero
    assert np.all(np.diff(p, axis=1) > 0) and np.all(p < 1.0)
