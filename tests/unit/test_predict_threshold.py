"""The planner's probability threshold: marginal held-out rate, rows with a known outcome, weak models."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from predict.calibration import Calibrated
from predict.data import SurvivalData
from predict.jobs import kind_thresholds
from predict.models import CoxPH, survival_y
from predict.registry import ModelRegistry, ModelVersion, model_summary
from predict.threshold import choose_threshold, known_at_end, outcome_event
from predict.train import train_model

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)

# out-of-fold P and 30-day outcomes, 4 rows at each P: failed 4/4 at 0.9, 3/4 at 0.6, 1/4 at 0.4, 0/4 at 0.2.
# Failures at 10 d, survivors at 100 d (landmarks far from the data end); the last row is a survivor.
P = np.repeat([0.9, 0.6, 0.4, 0.2], 4)
FAILED = np.array([1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0])
TIME = np.where(FAILED == 1, 10.0, 100.0)


def cumulative_rule(p: np.ndarray, y: np.ndarray, min_precision: float) -> float:
    """The rule replaced: the smallest p at which >= min_precision of all rows above it failed."""
    order = np.argsort(-p, kind="stable")
    precision = np.cumsum(y[order]) / np.arange(1, p.size + 1)
    return float(p[order][np.flatnonzero(precision >= min_precision).max()])


def test_the_threshold_is_where_the_rows_themselves_fail_at_the_target_rate_not_the_rows_above() -> None:
    assert cumulative_rule(P, FAILED, 0.5) == 0.2  # 8 of 16 above 0.2 failed, though none at 0.2 itself did
    out = choose_threshold(P, TIME, FAILED, 30.0, reference_probability=0.5)
    # isotonic rates 0, 0.25, 0.75, 1: the first P whose own rows fail at >= 0.5 is 0.6
    assert out["target_rate"] == 0.5 and out["probability"] == 0.6 and out["rate_at_threshold"] == 0.75
    assert out["known_rows"] == 16 and out["known_failed"] == 8 and out["base_rate"] == 0.5
    assert out["rows_at_or_above"] == 8 and out["observed_rate_at_or_above"] == 0.875
    assert out["curve"] == [[0.2, 0.0], [0.4, 0.25], [0.6, 0.75], [0.9, 1.0]]
    assert choose_threshold(P, TIME, FAILED, 30.0, reference_probability=0.8)["probability"] == 0.9
    assert choose_threshold(P, TIME, FAILED, 30.0, reference_probability=0.2)["probability"] == 0.4


def test_the_kaplan_meier_rate_is_recorded_but_is_no_floor() -> None:
    """The run-to-failure history's typical risk (here 8 of 16 by 30 d) is above a maintained asset's: the
    policy benchmark measured more failures at the same cost with it as a floor (predict.threshold)."""
    out = choose_threshold(P, TIME, FAILED, 30.0, reference_probability=0.25)
    assert out["km_rate"] == 0.5 and out["target_rate"] == 0.25
    assert out["probability"] == 0.4 and out["rate_at_threshold"] == 0.25 < out["km_rate"]


def test_isotonic_pools_rates_that_go_the_wrong_way() -> None:
    p = np.array([0.3, 0.3, 0.5, 0.5, 0.7, 0.7])
    y = np.array([0, 0, 1, 0, 0, 0])  # 0.5 fails at 1/2, 0.7 at 0/2: pooled to 1/4 each
    time = np.where(y == 1, 5.0, 60.0)
    out = choose_threshold(p, time, y, 30.0, reference_probability=0.25, km_rate=0.1)
    assert out["probability"] == 0.5 and out["rate_at_threshold"] == 0.25


def test_rows_less_than_the_horizon_before_the_data_end_are_left_out() -> None:
    # landmark order: time to the data end is at least the largest time among a row and those after it
    assert known_at_end(np.array([100.0, 10, 40, 5, 20, 3]), 30.0).tolist() == [1, 1, 1, 0, 0, 0]
    assert outcome_event(np.array([100.0, 10, 40, 5, 20]), np.array([0, 1, 0, 1, 0]), 30.0).tolist() == [
        0,
        1,
        0,
        0,
        0,
    ]
    # the last landmarks: four failures at P 0.4 (known only because they failed) and two rows still running
    p = np.concatenate([P, [0.4] * 4 + [0.4, 0.2]])
    time = np.concatenate([TIME, [5.0, 5, 5, 5, 20, 20]])
    event = np.concatenate([FAILED, [1, 1, 1, 1, 0, 0]])
    out = choose_threshold(p, time, event, 30.0, reference_probability=0.3, km_rate=0.5)
    assert out["excluded_near_end"] == 4 and out["known_rows"] == 16 and out["base_rate"] == 0.5
    assert out["probability"] == 0.6
    # had the data run on for 30 days more (a survivor at the end), they would count: 5 of 8 failed at 0.4
    counted = choose_threshold(
        np.append(p, 0.2),
        np.append(time, 100.0),
        np.append(event, 0),
        30.0,
        reference_probability=0.3,
        km_rate=0.5,
    )
    assert (
        counted["excluded_near_end"] == 0 and counted["known_failed"] == 12 and counted["probability"] == 0.4
    )


def test_a_weak_model_or_kaplan_meier_gets_no_threshold() -> None:
    flat = np.tile([0, 0, 0, 1], 4)  # a 25 % rate at every P: nothing about the asset
    out = choose_threshold(P, np.where(flat == 1, 10.0, 100.0), flat, 30.0, reference_probability=0.3)
    assert out["probability"] is None and out["target_rate"] == 0.3
    assert out["reason"] == "no probability reaches the target rate 0.300 (highest held-out rate 0.250)"
    km = choose_threshold(P, TIME, FAILED, 30.0, served_km=True)
    assert km["probability"] is None and km["reason"].startswith("Kaplan–Meier is served")


def landmark_data(n_assets: int = 40, seed: int = 0) -> SurvivalData:
    """Landmark rows every 5 days over 200 days, in landmark order, failures driven by x."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n_assets)
    life = rng.exponential(120.0 * np.exp(-1.2 * x))
    rows, time, event, groups = [], [], [], []
    for t in range(0, 200, 5):
        for a in range(n_assets):
            if t < min(life[a], 200.0):
                end = min(life[a], 200.0)
                rows.append({"x": x[a] + rng.normal(scale=0.1)})
                time.append(end - t)
                event.append(int(life[a] < 200.0))
                groups.append(f"a{a}")
    return SurvivalData(pd.DataFrame(rows), np.array(time), np.array(event), np.array(groups, dtype=object))


def test_training_leaves_out_failures_near_the_data_end_everywhere(tmp_path: Path) -> None:
    data = landmark_data()
    near = (data.time <= 30) & (data.event == 1) & ~known_at_end(data.time, 30.0)
    meta = train_model(
        data, "water_pump", ModelRegistry(tmp_path), NOW, splits=0, candidates={"cox": CoxPH()}
    )
    held, t = meta.metrics["held_out"], meta.threshold
    assert near.sum() > 0 and held["excluded_near_end"] == t["excluded_near_end"] == int(near.sum())
    known = ((data.time <= 30) & (data.event == 1) & ~near) | (data.time > 30)
    assert held["rows"] == t["known_rows"] == int(known.sum())
    if t["probability"] is not None:
        assert t["rate_at_threshold"] >= t["target_rate"] == 0.3
    assert model_summary(meta)["plan_threshold"]["known_rows"] == t["known_rows"]
    assert "curve" not in model_summary(meta)["plan_threshold"]
    assert model_summary(meta)["served_reason"] is None  # a model is served
    assert model_summary(meta)["served_why"] is None


def test_the_summary_says_why_kaplan_meier_is_served(tmp_path: Path) -> None:
    data = landmark_data(n_assets=12, seed=3)
    few = SurvivalData(
        data.X, data.time, np.where(np.isin(data.groups, ["a0", "a1", "a2"]), data.event, 0), data.groups
    )
    meta = train_model(few, "fire_alarm", ModelRegistry(tmp_path), NOW, splits=0, candidates={"cox": CoxPH()})
    summary = model_summary(meta)
    assert summary["served"] == "kaplan_meier"
    assert (
        summary["served_reason"]
        == f"{few.subject_events} assets with a failure (fewer than 5): Kaplan–Meier is served"
    )
    assert summary["served_why"] == {"code": "few_failed_assets", "n": few.subject_events, "min": 5}


def save(registry: ModelRegistry, kind: str, threshold: dict[str, object]) -> None:
    X = pd.DataFrame({"x": [0.0, 1.0]})
    model = Calibrated(None, 0.0).fit(X, survival_y(np.array([10.0, 50.0]), np.array([1, 0])))
    meta = ModelVersion(kind, "v1", "cox", NOW.isoformat(), ("x",), threshold=threshold)
    registry.save(model, meta)


def test_planner_thresholds_weak_kinds_get_none_and_the_live_reference_is_read_off_the_curve(
    tmp_path: Path,
) -> None:
    registry = ModelRegistry(tmp_path)
    strong = choose_threshold(P, TIME, FAILED, 30.0, reference_probability=0.3, km_rate=0.2)
    flat = np.tile([0, 0, 0, 1], 4)
    weak = choose_threshold(P, np.where(flat == 1, 10.0, 100.0), flat, 30.0, reference_probability=0.3)
    save(registry, "elevator", strong)
    save(registry, "water_pump", weak)
    got = kind_thresholds(registry, ["elevator", "water_pump", "smart_bin"])
    # target 0.3: the rows at 0.4 fail at 0.25, at 0.6 at 0.75
    assert got == {"elevator": pytest.approx(3 * 0.6), "water_pump": math.inf}
    assert kind_thresholds(registry, ["elevator"], 0.3)["elevator"] == pytest.approx(3 * 0.6)
    assert kind_thresholds(registry, ["elevator"], 0.8)["elevator"] == pytest.approx(3 * 0.9)
    assert kind_thresholds(registry, ["elevator"], 0.2)["elevator"] == pytest.approx(3 * 0.4)
    assert kind_thresholds(registry, ["elevator"], 0.1)["elevator"] == pytest.approx(3 * 0.4)  # no lower P
