"""Predict speed: training on a year of history for 1,000 assets, and scoring 10,000 assets. One JSON object.

    .venv/bin/python bench/predict_speed.py

Training = per-asset frames from the history's messages (FrameStore), lifetimes from the repair log,
landmark features (batch code, every 7 days), and the product's training (``train_model``: selection by 3-fold
CV Brier at 30 d, the fit, the out-of-fold shrinkage toward Kaplan-Meier, registration) for all four kinds. Scoring = forecasts (conditional curve, P(fail) 7/30/90 d, window, risk, drivers of the
riskiest 200) for 10,000 feature rows with the trained models; and, separately, computing the live features
of 10,000 assets from frames. Simulating the history is the simulators' cost and is reported apart.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone

from facility.contract import AssetKind
from facility.fleet import parse_fleet
from predict.features import DAY_MS, spec_for_kind
from predict.forecast import AssetInput, ForecastSettings, forecast_assets
from predict.history import (
    FrameStore,
    MaintenanceRecord,
    lifetimes_from_records,
    live_features,
    training_data,
)
from predict.models import default_candidates
from predict.registry import ModelRegistry
from predict.train import train_model
from simulators.history import generate_history


def fleet_of(buildings: int):
    counts = {"elevator": 6, "fire_alarm": 2, "water_pump": 4, "smart_bin": 8}
    return parse_fleet(
        {
            "estates": [
                {
                    "id": "big",
                    "name": "Big estate",
                    "group": "old",
                    "company": "pc",
                    "company_name": "PC",
                    "installed": "2012-01-01",
                    "buildings": [{"id": f"b{i}", "floors": 18, "counts": counts} for i in range(buildings)],
                }
            ]
        }
    )


def main() -> None:
    warnings.simplefilter("ignore")
    fleet = fleet_of(50)  # 1,000 assets
    end_ms = int(dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp() * 1000)
    now_train = dt.datetime.fromtimestamp(end_ms / 1000, dt.UTC)
    t0 = time.perf_counter()
    history = generate_history(fleet, seed=3, end_ms=end_ms, days=365, step_s=6 * 3600, health_every_s=0)
    t_sim = time.perf_counter() - t0

    t0 = time.perf_counter()
    store = FrameStore()
    store.add(history.messages())
    records = [
        MaintenanceRecord(r.asset, r.ts / DAY_MS, r.type, bool(r.preventive))
        for r in history.truth
        if r.type in ("failure", "repair")
    ]
    lives = lifetimes_from_records(
        records, history.start_ms / DAY_MS, history.end_ms / DAY_MS, store.assets()
    )
    t_frames = time.perf_counter() - t0

    t0 = time.perf_counter()
    datasets = {k: training_data(k, store, lives, spec_for_kind(k, 14, 7), step=7) for k in AssetKind}
    t_features = time.perf_counter() - t0

    t0 = time.perf_counter()
    candidates = default_candidates()
    models, chosen = {}, {}
    registry = ModelRegistry(Path(tempfile.mkdtemp()) / "models")
    for kind, data in datasets.items():
        # the product's training (predict.train.train_model, as the worker runs it: splits=0): selection by CV
        # Brier at 30 d, the fit, the out-of-fold shrinkage toward Kaplan-Meier and the threshold, registered
        meta = train_model(data, kind.value, registry, now_train, splits=0, candidates=candidates)
        models[kind] = registry.load(kind.value)[0]
        held = meta.metrics["held_out"]
        chosen[kind.value] = {
            "model": meta.model,
            "rows": len(data.X),
            "shrinkage_weight": held.get("weight"),
            "held_out_brier_30d": held.get("brier"),
            "kaplan_meier_brier_30d": held.get("brier_km"),
        }
    t_fit = time.perf_counter() - t0

    # scoring 10,000 assets: 2,500 of each kind, rows drawn from the training features
    rng = np.random.default_rng(0)
    now = dt.datetime.fromtimestamp(end_ms / 1000, dt.UTC)
    t0 = time.perf_counter()
    n_scored = 0
    for kind, data in datasets.items():
        X = data.X.iloc[rng.integers(0, len(data.X), 2500)].reset_index(drop=True)
        inputs = [AssetInput(f"{kind.value}-{i}", kind.value, 3) for i in range(2500)]
        n_scored += len(forecast_assets(models[kind], "bench", X, inputs, now, settings=ForecastSettings()))
    t_score = time.perf_counter() - t0

    # the same scoring with the gradient-boosted discrete hazard for every kind (fitted on ≤ 4,000 rows per
    # kind: its scoring cost depends on the trees, not on the training size)
    hazard = {}
    for kind, data in datasets.items():
        take = rng.choice(len(data.X), min(4000, len(data.X)), replace=False)
        hazard[kind] = clone(candidates["discrete_hazard_hgb"]).fit(data.X.iloc[take], data.y[take])
    t0 = time.perf_counter()
    for kind, data in datasets.items():
        X = data.X.iloc[rng.integers(0, len(data.X), 2500)].reset_index(drop=True)
        inputs = [AssetInput(f"{kind.value}-{i}", kind.value, 3) for i in range(2500)]
        forecast_assets(hazard[kind], "bench", X, inputs, now, settings=ForecastSettings())
    t_score_hazard = time.perf_counter() - t0

    # live features of 10,000 assets from frames (the 1,000 assets' frames, each scored 10 times), per kind;
    # the first pass also builds each asset's arrays from its year of readings (reported apart)
    t_days = end_ms / DAY_MS
    t0 = time.perf_counter()
    for kind in AssetKind:
        live_features(kind, store, store.assets(kind), t_days, spec_for_kind(kind, 14, 7), {})
    t_arrays = time.perf_counter() - t0
    t0 = time.perf_counter()
    rows = []
    for _ in range(10):
        for kind in AssetKind:
            assets = store.assets(kind)
            rows.append(live_features(kind, store, assets, t_days, spec_for_kind(kind, 14, 7), {}))
    feats = pd.concat(rows, ignore_index=True)
    t_live = time.perf_counter() - t0

    print(
        json.dumps(
            {
                "assets_trained": len(fleet.assets),
                "history_days": 365,
                "reading_every_hours": 6,
                "messages": history.reading_count,
                "failures": len(history.failures()),
                "simulate_seconds": round(t_sim, 2),
                "train_frames_seconds": round(t_frames, 2),
                "train_features_seconds": round(t_features, 2),
                "train_select_and_fit_seconds": round(t_fit, 2),
                "train_total_seconds": round(t_frames + t_features + t_fit, 2),
                "models": chosen,
                "assets_scored": n_scored,
                "score_seconds": round(t_score, 3),
                "score_seconds_discrete_hazard": round(t_score_hazard, 3),
                "live_features_assets": len(feats),
                "live_features_seconds": round(t_live, 2),
                "live_first_pass_1000_assets_with_array_build_seconds": round(t_arrays, 2),
                "load_average": [round(x, 2) for x in os.getloadavg()],
            }
        )
    )


if __name__ == "__main__":
    main()
