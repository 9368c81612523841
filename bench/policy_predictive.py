"""The predictive policy of the benchmark: models trained on history from training seeds, then the product's
own feature code, forecast and planner run on the telemetry the fleet sends; and the calibration of those
models' forecasts on held-out run-to-failure years."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from policy_loop import DAY_MS, LoopConfig, LoopState, Policy, simulate
from sklearn.base import clone
from sklearn.model_selection import GroupKFold

from facility.contract import AssetKind
from facility.fleet import Fleet
from predict.data import SurvivalData
from predict.features import DEFAULT_BUCKETS, DEFAULT_WINDOW_DAYS, WindowSpec, kind_fields, spec_for_kind
from predict.forecast import AssetInput, Forecast, ForecastSettings, forecast_assets
from predict.history import (
    FrameStore,
    MaintenanceRecord,
    lifetimes_from_records,
    live_features,
    training_data,
)
from predict.metrics import brier_scores, harrell_c, kaplan_meier
from predict.models import CoxPH, DiscreteHazard, FitFailed, SurvivalModel
from predict.planner import REFERENCE_CRITICALITY, PlannerSettings, plan_work_orders
from simulators.asset import Batch

#: the product's feature window (28 days in 7 buckets): it measured better than 14 days here
#: (docs/benchmarks.md, "Issue 12"): a slope over four weeks shows a unit's wear rate, over two it is noise
WINDOW_DAYS = DEFAULT_WINDOW_DAYS
STEP_DAYS = 3.0
HORIZON_DAYS = 30
CANDIDATES: dict[str, SurvivalModel] = {
    **{f"cox_ridge_{p:g}": CoxPH(penalizer=p) for p in (0.1, 0.3, 1.0, 3.0)},
    "discrete_hazard_logistic": DiscreteHazard(classifier="logistic"),
}
FORECAST = ForecastSettings(curve_days=90, curve_points=10, drivers=0, explain_top=0)


@dataclass(frozen=True)
class KindModel:
    kind: AssetKind
    model: SurvivalModel
    spec: WindowSpec
    name: str
    cv_concordance: float
    #: Kaplan-Meier P(failure within 30 d) of the training landmark rows (the no-covariate reference)
    km_p30: float
    #: every candidate's cross-validated Brier score at 30 d and concordance
    cv: Mapping[str, Mapping[str, float]] = field(default_factory=dict)


def _concat(parts: Sequence[SurvivalData]) -> SurvivalData:
    return SurvivalData(
        pd.concat([p.X for p in parts], ignore_index=True),
        np.concatenate([p.time for p in parts]),
        np.concatenate([p.event for p in parts]),
        np.concatenate([p.groups for p in parts]),
    )


def training_part(fleet: Fleet, seed: int, end_ms: int, days: int = 365) -> dict[AssetKind, SurvivalData]:
    """A run-to-failure year ending at ``end_ms`` from one training seed (the simulators' history rule: a
    failed asset is repaired after a lognormal call-out delay, median 24 h) → lifetimes and the product's
    landmark rows per kind (``training_data``: the same window features as live scoring)."""
    cfg = LoopConfig(start_ms=end_ms - days * DAY_MS, days=days)
    policy = Policy()
    policy.telemetry = True
    state = simulate(fleet, seed, cfg, policy)
    store = BatchStore()
    _take(store, state)
    records = [MaintenanceRecord(r.asset, r.ts / DAY_MS, r.type, bool(r.preventive)) for r in state.truth]
    lives = lifetimes_from_records(records, cfg.start_ms / DAY_MS, end_ms / DAY_MS, store.assets())
    out = {}
    for kind in AssetKind:
        data = training_data(kind, store, lives, spec_for_kind(kind, WINDOW_DAYS, DEFAULT_BUCKETS), STEP_DAYS)
        groups = np.array([f"{seed}:{g}" for g in data.groups], dtype=object)
        out[kind] = SurvivalData(data.X, data.time, data.event, groups)
    return out


def cross_validate(
    model: SurvivalModel, data: SurvivalData, horizon: float, folds: int = 3
) -> tuple[float, float]:
    """Mean IPCW Brier score of P(failure within ``horizon``) and mean Harrell's C, over folds grouped by asset."""
    y, brier, conc = data.y, [], []
    for tr, te in GroupKFold(n_splits=folds, shuffle=True, random_state=0).split(data.X, groups=data.groups):
        fitted = clone(model).fit(data.X.iloc[tr], y[tr])
        s = fitted.predict_survival(data.X.iloc[te], [horizon])
        brier.append(
            brier_scores(y["time"][tr], y["event"][tr], y["time"][te], y["event"][te], s, [horizon])[0]
        )
        conc.append(harrell_c(y["time"][te], y["event"][te], fitted.predict(data.X.iloc[te])))
    return float(np.mean(brier)), float(np.mean(conc))


def fit_kind(kind: AssetKind, parts: Sequence[SurvivalData]) -> KindModel:
    """The candidate with the best cross-validated Brier score at 30 d, refitted on every training row of the
    kind. The planner thresholds that probability, so it must be calibrated as well as ranked: concordance only
    ranks, and cannot tell a well-penalised model from an overconfident one (fire panels: 12 training assets
    for 33 covariates, where ridge 0.1 said P ≥ 0.9 for panels of which 0.66 failed)."""
    data = _concat(parts)
    scores = {}
    for name, candidate in CANDIDATES.items():
        try:
            scores[name] = cross_validate(candidate, data, HORIZON_DAYS)
        except FitFailed:
            continue
    best = min(scores, key=lambda n: scores[n][0])
    model = clone(CANDIDATES[best]).fit(data.X, data.y)
    km = kaplan_meier(data.time, data.event)
    p30 = float(1.0 - km(np.array([float(HORIZON_DAYS)]))[0])
    cv = {n: {"brier_30d": round(b, 4), "concordance": round(c, 4)} for n, (b, c) in scores.items()}
    return KindModel(
        kind, model, spec_for_kind(kind, WINDOW_DAYS, DEFAULT_BUCKETS), best, scores[best][1], p30, cv
    )


def train_models(
    fleet: Fleet, seeds: Sequence[int], end_ms: int, days: int = 365
) -> dict[AssetKind, KindModel]:
    parts = [training_part(fleet, s, end_ms, days) for s in seeds]
    return {kind: fit_kind(kind, [p[kind] for p in parts]) for kind in AssetKind}


@dataclass
class BatchStore(FrameStore):
    """The FrameStore that ``live_features`` reads, filled straight from the simulators' batches: the same
    readings and events their messages carry, without building a Message object per reading."""

    _chunks: dict[str, list[tuple[np.ndarray, np.ndarray]]] = field(default_factory=dict)

    def add_batch(self, asset: str, kind: AssetKind, batch: Batch) -> None:
        self.kinds.setdefault(asset, kind)
        emit = batch.emit
        n = int(emit.sum())
        cols = [
            batch.values[f][emit].astype(float) if f in batch.values else np.full(n, np.nan)
            for f in kind_fields(kind)
        ]
        t = batch.ends[emit] / DAY_MS
        self._chunks.setdefault(asset, []).append((t, np.column_stack(cols) if cols else np.zeros((n, 0))))
        self._events.setdefault(asset, []).extend(
            (ts / DAY_MS, etype.value, code) for ts, etype, code, _ in batch.events
        )

    def arrays(self, asset: str, fields: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        if fields != kind_fields(self.kinds[asset]):
            raise ValueError(f"BatchStore holds the fields of {self.kinds[asset].value}, not {fields}")
        chunks = self._chunks.get(asset, [])
        if len(chunks) > 1:
            chunks[:] = [(np.concatenate([c[0] for c in chunks]), np.vstack([c[1] for c in chunks]))]
        if not chunks:
            return np.zeros(0), np.zeros((0, len(fields)))
        return chunks[0]

    def readings(self, asset: str) -> pd.DataFrame:
        fields = kind_fields(self.kinds[asset])
        t, v = self.arrays(asset, fields)
        return pd.DataFrame({"time": t, **{f: v[:, j] for j, f in enumerate(fields)}})

    def forget_before(self, t: float) -> None:
        for chunks in self._chunks.values():
            kept = [(ts[ts >= t], v[ts >= t]) for ts, v in chunks]
            chunks[:] = [c for c in kept if c[0].size]
        for asset, evs in self._events.items():
            self._events[asset] = [e for e in evs if e[0] >= t]


def _take(store: BatchStore, state: LoopState) -> None:
    assert state.batches is not None
    for asset, batches in state.batches.items():
        kind = state.assets[asset].kind
        for b in batches:
            store.add_batch(asset, kind, b)
        batches.clear()


class Predictive(Policy):
    """Every ``score_every`` days: features from the telemetry so far, forecasts, and the planner's orders for
    the coming days (one planner call covers them; each day's slots are served on that day). Assets serviced
    less than one feature window ago are not scored (their window mixes before and after the repair, which
    training rows never do).

    ``max_interval``: per kind, a calendar under the predictions (days since the last visit; the planner's
    ``max_interval_days``).

    ``p_thresholds``: per kind (or one for all), the P(failure within 30 d) at which an asset of the reference
    criticality (3) gets an order. The planner thresholds risk = P × criticality at p × 3, so an asset of
    criticality c is visited from P ≥ 3p / c: the expected failure cost a visit averts, P × 5 × c / 3, is weighed
    against the visit's, as the cost model weighs them (a fire panel from P ≥ 0.6p, a bin from P ≥ 1.5p). With
    ``criticality`` None every asset has the reference criticality (equal weights): P ≥ p."""

    telemetry = True

    def __init__(
        self,
        fleet: Fleet,
        models: Mapping[AssetKind, KindModel],
        p_thresholds: float | Mapping[str, float],
        score_every: int = 3,
        criticality: Mapping[str, int] | None = None,
        max_interval: Mapping[str, float] | None = None,
    ) -> None:
        self.models = models
        self.score_every = score_every
        self.store = BatchStore()
        self.plan: dict[int, list[str]] = {}
        ids = [a.id for a in fleet.assets]
        self.crit = (
            dict(criticality) if criticality is not None else dict.fromkeys(ids, REFERENCE_CRITICALITY)
        )
        kinds = {a.kind.value for a in fleet.assets}
        p = {k: (p_thresholds[k] if isinstance(p_thresholds, Mapping) else p_thresholds) for k in kinds}
        self.kind_thresholds = {k: round(float(p[k]) * REFERENCE_CRITICALITY, 6) for k in sorted(kinds)}
        self.planner = PlannerSettings(
            risk_threshold=min(self.kind_thresholds.values()),
            kind_thresholds=self.kind_thresholds,
            work_hours=(0, 8),
            work_days=frozenset(range(7)),
            job_hours=2.0,
            horizon_days=score_every - 1,
            auto_approve=True,
            tz="UTC",
            max_interval_days=dict(max_interval or {}),
        )

    def decide(self, state: LoopState, capacity: int) -> list[str]:
        day = (state.now_ms - state.start_ms) // DAY_MS
        if day % self.score_every:
            return self.plan.pop(day, [])
        self.plan.clear()
        # assets serviced less than a window ago are not scored: they catch up at a later scoring (a repair
        # since the last look only makes the last service later, so this is exact)
        window_ms = WINDOW_DAYS * DAY_MS
        state.sync(
            a for a in state.assets if a in state.down or state.now_ms - state.last_service_ms[a] >= window_ms
        )
        _take(self.store, state)
        t = state.now_ms / DAY_MS
        self.store.forget_before(t - WINDOW_DAYS - 1)
        now = dt.datetime.fromtimestamp(state.now_ms / 1000, dt.UTC)
        forecasts: list[Forecast] = []
        for kind, km in self.models.items():
            assets = [
                a
                for a in self.store.assets(kind)
                if a not in state.down and state.now_ms - state.last_service_ms[a] >= window_ms
            ]
            if not assets:
                continue
            since = {a: t - state.last_service_ms[a] / DAY_MS for a in assets}
            X = live_features(kind, self.store, assets, t, km.spec, since)
            inputs = [AssetInput(a, kind.value, self.crit[a]) for a in assets]
            forecasts += forecast_assets(km.model, km.name, X, inputs, now, settings=FORECAST)
        visits = {
            f.asset: dt.datetime.fromtimestamp(state.last_service_ms[f.asset] / 1000, dt.UTC)
            for f in forecasts
        }
        orders = plan_work_orders(
            forecasts, sorted(state.down), {"crew": capacity}, now, self.planner, last_visits=visits
        )
        for o in orders:
            d = (int(o.start.timestamp() * 1000) - state.start_ms) // DAY_MS
            self.plan.setdefault(d, []).append(o.asset)
        return self.plan.pop(day, [])


def calibration_rows(
    models: Mapping[AssetKind, KindModel], state: LoopState, step_days: float = 2 * STEP_DAYS
) -> list[tuple[str, float, int, float]]:
    """(kind, predicted P(failure within 30 d), failed within 30 d (0/1), Kaplan-Meier P) at landmarks every
    ``step_days`` of a run-to-failure year (a reactive run with telemetry kept: no preventive visit censors
    the outcome), for the assets the policy would score there (up, serviced at least one window ago)."""
    assert state.batches is not None
    store = BatchStore()
    _take(store, state)
    cfg = state.cfg
    start, end = cfg.start_ms / DAY_MS, (cfg.start_ms + cfg.days * DAY_MS) / DAY_MS
    fails: dict[str, list[float]] = {a: [] for a in state.assets}
    repairs: dict[str, list[float]] = {a: [] for a in state.assets}
    for r in state.truth:
        (fails if r.type == "failure" else repairs)[r.asset].append(r.ts / DAY_MS)
    rows = []
    for t in np.arange(start + WINDOW_DAYS, end - HORIZON_DAYS + 1e-9, step_days):
        now = dt.datetime.fromtimestamp(t * 86400.0, dt.UTC)
        for kind, km in models.items():
            assets, since = [], {}
            for a in store.assets(kind):
                last_fail = max((f for f in fails[a] if f < t), default=-np.inf)
                last_rep = max((r for r in repairs[a] if r < t), default=start)
                if last_fail > last_rep or t - last_rep < WINDOW_DAYS:
                    continue  # down at t, or serviced less than a window ago
                assets.append(a)
                since[a] = t - last_rep
            if not assets:
                continue
            X = live_features(kind, store, assets, t, km.spec, since)
            inputs = [AssetInput(a, kind.value) for a in assets]
            for f in forecast_assets(km.model, km.name, X, inputs, now, settings=FORECAST):
                failed = any(t < x <= t + HORIZON_DAYS for x in fails[f.asset])
                rows.append((kind.value, f.p_fail[HORIZON_DAYS], int(failed), km.km_p30))
    return rows


def calibration_summary(rows: Sequence[tuple[str, float, int, float]], bins: int = 10) -> dict:
    """Brier score at 30 d (model vs Kaplan-Meier), and mean predicted vs observed by decile of prediction."""
    if not rows:
        return {}
    kinds = np.array([r[0] for r in rows])
    p = np.array([r[1] for r in rows], dtype=float)
    y = np.array([r[2] for r in rows], dtype=float)
    km = np.array([r[3] for r in rows], dtype=float)
    order = np.argsort(p, kind="stable")
    deciles = []
    for idx in np.array_split(order, bins):
        if idx.size:
            deciles.append(
                {
                    "n": int(idx.size),
                    "mean_predicted": round(float(p[idx].mean()), 4),
                    "observed": round(float(y[idx].mean()), 4),
                }
            )
    by_kind = {}
    for k in sorted(set(kinds.tolist())):
        m = kinds == k
        by_kind[k] = {
            "n": int(m.sum()),
            "mean_predicted": round(float(p[m].mean()), 4),
            "observed": round(float(y[m].mean()), 4),
            "brier": round(float(np.mean((p[m] - y[m]) ** 2)), 4),
            "brier_km": round(float(np.mean((km[m] - y[m]) ** 2)), 4),
        }
    return {
        "horizon_days": HORIZON_DAYS,
        "n": int(p.size),
        "mean_predicted": round(float(p.mean()), 4),
        "observed": round(float(y.mean()), 4),
        "brier": round(float(np.mean((p - y) ** 2)), 4),
        "brier_km": round(float(np.mean((km - y) ** 2)), 4),
        "max_predicted": round(float(p.max()), 4),
        "share_predicted_over_0_95": round(float(np.mean(p > 0.95)), 4),
        "deciles": deciles,
        "by_kind": by_kind,
    }
