"""Training from stored telemetry: the job behind `facility train-telemetry` and the demo's model refresh."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from facility.contract import AssetKind
from facility.fleet import Fleet
from facility.settings import Settings
from ingest.influx import InfluxClient
from predict.down import DownAsset, last_evidence
from predict.features import DAY_MS, DEFAULT_BUCKETS, DEFAULT_WINDOW_DAYS, spec_for_kind
from predict.forecast import Forecast
from predict.influx_training import first_readings, training_data_influx
from predict.planner import CrewSpec, PlannedOrder, PlannerSettings, plan_work_orders, threshold_from_backtest
from predict.registry import ModelRegistry, ModelVersion
from predict.repairs import RepairLog, down_source, repair_source
from predict.service import ForecastService
from predict.threshold import REFERENCE_PROBABILITY, probability_for_target
from predict.train import train_model

if TYPE_CHECKING:
    from maintenance.db import Database

#: preventive jobs a crew can take a day (crews in the store carry no capacity of their own)
CREW_CAPACITY_PER_DAY = 3


def train_from_telemetry(
    client: InfluxClient,
    registry: ModelRegistry,
    kind: AssetKind,
    now: dt.datetime,
    *,
    days: float = 365.0,
    window: float = DEFAULT_WINDOW_DAYS,
    buckets: int = DEFAULT_BUCKETS,
    step: float = 2.0,
    horizon: float = 30.0,
    splits: int = 3,
    seed: int = 0,
    repairs: RepairLog | None = None,
    reference_probability: float | None = None,
) -> ModelVersion:
    """Landmark training data from ``days`` of telemetry and fault events before ``now``; selects, fits and
    registers a model. Raises FitFailed (the previous model stays current), DataError or InfluxError.

    ``repairs`` (:func:`predict.repairs.order_log`): the work-order store's repairs, added to InfluxDB's
    ``recovery`` events — without them a preventive visit (it sends no event) neither censors a lifetime nor
    restarts ``since_repair``. ``reference_probability``: ``Settings.plan_reference_probability`` (default: the
    setting's default; the planner reads p* again for the live setting, :func:`kind_thresholds`)."""
    if days <= window:
        raise ValueError(f"--days ({days}) must exceed the feature --window ({window})")
    end_ms = int(now.timestamp() * 1000)
    start_ms = end_ms - int(days * DAY_MS)
    spec = spec_for_kind(kind, window, buckets)
    extra = repairs(kind, start_ms, end_ms) if repairs is not None else []
    data = training_data_influx(client, kind, start_ms, end_ms, spec, step, extra=extra)
    observed = first_readings(client, kind, start_ms, end_ms)
    first_ms = round(min(observed.values()) * DAY_MS) if observed else start_ms
    return train_model(
        data,
        kind.value,
        registry,
        now,
        horizon=horizon,
        splits=splits,
        data_range={
            # where observation starts (the first reading), not where --days reaches back to
            "first": dt.datetime.fromtimestamp(first_ms / 1000, dt.UTC).isoformat(),
            "last": now.isoformat(),
        },
        features_spec={
            "source": "telemetry",
            "mode": "landmark",
            "window": spec.window,
            "buckets": spec.buckets,
            "step": step,
            "repairs": "events+orders" if repairs is not None else "events",
        },
        seed=seed,
        reference_probability=REFERENCE_PROBABILITY
        if reference_probability is None
        else reference_probability,
    )


@dataclass(frozen=True)
class PlanResult:
    """What one forecast → plan round did."""

    forecasts: list[Forecast]
    #: assets left out because they are down (open fault, offline, under maintenance)
    down: list[DownAsset]
    planned: list[PlannedOrder]
    #: ids of the preventive orders created (empty when ``create=False``)
    created: list[int] = field(default_factory=list)


def kind_thresholds(
    registry: ModelRegistry, kinds: Iterable[str], reference_probability: float | None = None
) -> dict[str, float]:
    """Each kind's planner risk threshold: its probability threshold p* × the reference criticality (3), so a
    critical asset is visited at a proportionally lower P (the cost weighting the policy benchmark validated).
    A kind whose model has no threshold (weak model, Kaplan–Meier served: the reason is in its model version)
    gets ∞: no predictive proposals. ``reference_probability`` other than the one the model was trained with:
    p* is read again off the model's isotonic curve (:func:`predict.threshold.probability_for_target`)."""
    out = {}
    for kind in kinds:
        meta = registry.current(kind)
        if meta is None:
            continue
        p = _probability_threshold(meta.threshold or {}, reference_probability)
        out[kind] = threshold_from_backtest(p) if p else math.inf
    return out


def _probability_threshold(threshold: Mapping[str, Any], reference: float | None) -> float | None:
    p = threshold.get("probability")
    curve = threshold.get("curve")
    if reference is None or curve is None or reference == threshold.get("reference_probability"):
        return float(p) if p else None
    return probability_for_target(curve, reference)


def store_crews(db: Database, capacity: int = CREW_CAPACITY_PER_DAY) -> list[CrewSpec]:
    """The active crews of the store (the registry's crews): skills, estates, hours and time zone."""
    from maintenance.crews import crew_profiles

    with db.transaction() as s:
        profiles = crew_profiles(s)
    return [
        CrewSpec(
            p.id,
            frozenset(k.value for k in p.skills),
            frozenset(p.estates),
            p.hours,
            p.timezone,
            capacity,
        )
        for p in profiles
        if p.active
    ]


def _day(t: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(t * DAY_MS / 1000, dt.UTC)


def kind_windows(service: ForecastService, kinds: Iterable[str]) -> dict[str, float]:
    """Each kind's feature window (days) as its current model was trained: the planner's cool-down after a
    visit (for one window the forecast is the kind's renewal curve, not news about the asset)."""
    out = {}
    for kind in kinds:
        meta = service.registry.current(kind)
        if meta is not None:
            out[kind] = service.spec(AssetKind(kind), meta).window
    return out


def planner_settings(
    base: PlannerSettings, service: ForecastService, kinds: Iterable[str], *, auto_approve: bool = False
) -> PlannerSettings:
    """``base`` with the kinds' model thresholds (:func:`kind_thresholds`, with the settings'
    ``plan_reference_probability``) and, as cool-downs, their models' feature windows. Kinds whose threshold
    ``base`` lists keep its values (an explicit threshold is the caller's). No Kaplan–Meier floor: in the policy
    benchmark it raised failures at the same cost (:mod:`predict.threshold`); ``base.min_probability`` is kept
    for a deployment that wants one."""
    kinds = sorted(kinds)
    reference = service.settings.plan_reference_probability
    return replace(
        base,
        kind_thresholds=kind_thresholds(service.registry, kinds, reference) | dict(base.kind_thresholds),
        cooldown_days=kind_windows(service, kinds) | dict(base.cooldown_days),
        auto_approve=auto_approve or base.auto_approve,
    )


def visits_and_evidence(
    service: ForecastService, kinds: Iterable[str], now: dt.datetime
) -> tuple[dict[str, dt.datetime], dict[str, dt.datetime]]:
    """Each asset's last visit (recovery event or resolved order) and last alarm or fault before ``now``: the
    planner's cool-down starts at the visit, and evidence after it lifts the cool-down."""
    now_ms = int(now.timestamp() * 1000)
    visits: dict[str, dt.datetime] = {}
    evidence: dict[str, dt.datetime] = {}
    for kind in sorted(kinds):
        k = AssetKind(kind)
        visits |= {a: _day(t) for a, t in service.last_repairs(k, now_ms).items()}
        evidence |= {a: _day(t / DAY_MS) for a, t in last_evidence(service.influx, k, now_ms).items()}
    return visits, evidence


def run_forecast_and_plan(
    settings: Settings,
    db: Database,
    influx: InfluxClient,
    now: dt.datetime,
    *,
    fleet: Fleet | None = None,
    create: bool = True,
    auto_approve: bool = False,
    capacity: int = CREW_CAPACITY_PER_DAY,
    planner: PlannerSettings | None = None,
) -> PlanResult:
    """The worker's forecast job: forecast every asset that is up (storing the hour's window features —
    the API never writes them), and let the planner propose preventive orders (awaiting an engineer's
    approval unless ``auto_approve``) for those whose risk passes their kind's threshold, by crews with the
    kind's skill in the asset's estate; no proposal for an asset with an open order or in its cool-down after
    a visit (one feature window of its kind's model, unless an alarm or fault arrived since). ``create=False``
    plans without writing orders; ``planner`` overrides the planner's settings (:func:`planner_settings` adds
    the kinds' model thresholds and windows where it lists none)."""
    from maintenance.preventive import create_preventive_orders, open_order_assets

    service = ForecastService(
        settings, influx, fleet, repairs=repair_source(db), write_features=True, down=down_source(db)
    )
    try:
        report = service.ranking_report(now)
        kinds = {f.kind for f in report.forecasts}
        visits, evidence = visits_and_evidence(service, kinds, now)
        estates = {a.id: a.ref.estate for a in service.fleet.assets}
        cfg = planner_settings(planner or PlannerSettings(), service, kinds, auto_approve=auto_approve)
    finally:
        service.close()
    crews = store_crews(db, capacity)
    with db.transaction() as s:
        blocked = open_order_assets(s)
        planned = plan_work_orders(
            report.forecasts, blocked, crews, now, cfg, estates=estates, last_visits=visits, evidence=evidence
        )
        created = create_preventive_orders(s, planned, now) if create else []
    return PlanResult(report.forecasts, report.down, planned, created)
