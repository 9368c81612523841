"""The predictive policy of the benchmark: models trained on history from training seeds, then the product's
own feature code, forecast and planner run every simulated day on the telemetry the fleet sends."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from policy_loop import DAY_MS, LoopState, Policy
from sklearn.base import clone

from facility.contract import AssetKind
from facility.fleet import Fleet
from predict.backtest import select_model
from predict.data import SurvivalData
from predict.features import WindowSpec, spec_for_kind
from predict.forecast import AssetInput, ForecastSettings, forecast_assets
from predict.history import (
    FrameStore,
    MaintenanceRecord,
    lifetimes_from_records,
    live_features,
    training_data,
)
from predict.models import CoxPH, DiscreteHazard, SurvivalModel
from predict.planner import PlannerSettings, plan_work_orders
from simulators.history import generate_history

WINDOW_DAYS = 14.0
STEP_DAYS = 3.0


@dataclass(frozen=True)
class KindModel:
    kind: AssetKind
    model: SurvivalModel
    spec: WindowSpec
    name: str
    cv_concordance: float


def _concat(parts: Sequence[SurvivalData]) -> SurvivalData:
    return SurvivalData(
        pd.concat([p.X for p in parts], ignore_index=True),
        np.concatenate([p.time for p in parts]),
        np.concatenate([p.event for p in parts]),
        np.concatenate([p.groups for p in parts]),
    )


def train_models(
    fleet: Fleet, seeds: Sequence[int], end_ms: int, days: int = 365
) -> dict[AssetKind, KindModel]:
    """History from each training seed → lifetimes + landmark rows → one selected model per kind."""
    per_kind: dict[AssetKind, list[SurvivalData]] = {k: [] for k in AssetKind}
    for seed in seeds:
        history = generate_history(fleet, seed=seed, end_ms=end_ms, days=days, step_s=3600, health_every_s=0)
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
        for kind in AssetKind:
            data = training_data(kind, store, lives, spec_for_kind(kind, WINDOW_DAYS, 7), STEP_DAYS)
            groups = np.array([f"{seed}:{g}" for g in data.groups], dtype=object)
            per_kind[kind].append(SurvivalData(data.X, data.time, data.event, groups))
    candidates = {
        "cox_ridge": CoxPH(penalizer=0.1),
        "discrete_hazard_logistic": DiscreteHazard(classifier="logistic"),
    }
    out = {}
    for kind, parts in per_kind.items():
        data = _concat(parts)
        sel = select_model(data, np.arange(len(data.X)), candidates)
        model = clone(candidates[sel.name]).fit(data.X, data.y)
        out[kind] = KindModel(
            kind, model, spec_for_kind(kind, WINDOW_DAYS, 7), sel.name, sel.scores[sel.name]
        )
    return out


def predictive(
    fleet: Fleet,
    models: dict[AssetKind, KindModel],
    risk_threshold: float,
    score_every: int = 3,
    use_criticality: bool = False,
) -> Policy:
    """Every ``score_every`` days: features from the telemetry so far, forecasts, and the planner's orders
    for the coming days (one planner call covers them; each day's slots are served on that day). Assets
    serviced less than one feature window ago are not scored (their window mixes before and after the
    repair, which training rows never do)."""
    store = FrameStore()
    plan: dict[int, list[str]] = {}
    specs = {a.id: a for a in fleet.assets}
    cfg = ForecastSettings(curve_days=90, curve_points=10, drivers=0, explain_top=0)
    plan_cfg = PlannerSettings(
        risk_threshold=risk_threshold,
        work_hours=(0, 8),
        work_days=frozenset(range(7)),
        job_hours=2.0,
        horizon_days=score_every - 1,
        auto_approve=True,
        tz="UTC",
    )

    def decide(state: LoopState, capacity: int) -> list[str]:
        store.add(state.messages)
        t = state.now_ms / DAY_MS
        day = int(t)
        if day % score_every:
            return plan.pop(day, [])
        plan.clear()
        store.forget_before(t - WINDOW_DAYS - 1)
        now = dt.datetime.fromtimestamp(state.now_ms / 1000, dt.UTC)
        forecasts = []
        for kind, km in models.items():
            assets = [
                a
                for a in store.assets(kind)
                if a not in state.down and state.now_ms - state.last_service_ms[a] >= WINDOW_DAYS * DAY_MS
            ]
            if not assets:
                continue
            since = {a: t - state.last_service_ms[a] / DAY_MS for a in assets}
            X = live_features(kind, store, assets, t, km.spec, since)
            # the benchmark's costs do not depend on the kind, so by default every asset weighs the same
            inputs = [
                AssetInput(a, kind.value, specs[a].criticality if use_criticality else 3) for a in assets
            ]
            forecasts += forecast_assets(km.model, km.name, X, inputs, now, settings=cfg)
        blocked = sorted(state.pending | state.down)
        orders = plan_work_orders(forecasts, blocked, {"crew": capacity}, now, plan_cfg)
        for o in orders:
            plan.setdefault(int(o.start.timestamp() * 1000 // DAY_MS), []).append(o.asset)
        return plan.pop(day, [])

    return decide
