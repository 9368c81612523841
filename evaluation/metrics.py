"""Every metric of one dataset over one period, by name (the names a scoring scheme may use).

Each function is pure over the plain inputs of ``evaluation.inputs``; formulas are in docs/evaluation.md.
Narrow the dataset first (``ds.where(kind="elevator")``, ``ds.where(estate="lvyuan")``) for per-kind,
per-building, per-estate or per-company figures.
"""

from __future__ import annotations

from dataclasses import replace

from evaluation import availability as av
from evaluation import service as sv
from evaluation.external import EXTERNAL, aggregate
from evaluation.inputs import Dataset
from evaluation.kinds import kind_metrics
from evaluation.metric_types import INCIDENT_MATCH, MetricSettings, MetricValue
from evaluation.periods import Period
from evaluation.timeline import Episode, episodes
from facility.contract import AssetKind

#: metrics counted from device events (InfluxDB), unknown when the events could not be read
EVENT_METRICS = frozenset(
    {
        "elevator_entrapments",
        "elevator_entrapment_rate",
        "fire_alarm_false_alarm_rate",
        "fire_alarm_unconfirmed_rate",
        "water_pump_dry_run_events",
        "water_pump_pressure_loss_hours",
        "smart_bin_overflow_hours",
    }
)

#: metrics from the state timeline (and the kind's events), each carrying the monitoring coverage of its
#: assets: the whole scope's, or its kind's for ``<kind>_...`` metrics
TIMELINE_METRICS = frozenset(
    {
        "intactness_rate",
        "failures",
        "down_hours",
        "fault_rate_per_100_asset_months",
        "fault_rate_per_1000_asset_days",
        "mtbf_hours",
        "mttr_hours",
        "failures_preceded_rate",
        "elevator_entrapments",
        "elevator_entrapment_rate",
        "elevator_out_of_service_hours",
        "fire_alarm_fault_rate",
        "fire_alarm_false_alarm_rate",
        "fire_alarm_unconfirmed_rate",
        "fire_alarm_offline_rate",
        "water_pump_dry_run_events",
        "water_pump_pressure_loss_hours",
        "smart_bin_overflow_hours",
    }
)

#: metric name → what it measures (for docs, the API and scheme validation)
CATALOGUE: dict[str, str] = {
    "monitoring_coverage": "share of the assets' hours in the period the platform observed (known)",
    "intactness_rate": "time-weighted share of known asset-hours in working order",
    "failures": "failures (outages with a fault) starting in the period",
    "down_hours": "asset-hours not in working order",
    "fault_rate_per_100_asset_months": "failures per 100 asset-months (30 asset-days)",
    "fault_rate_per_1000_asset_days": "failures per 1,000 asset-days",
    "mtbf_hours": "working hours per failure (censored up-time counted)",
    "mttr_hours": "mean hours from failure to working order, repairs finished in the period",
    "response_on_time_rate": "reactive orders acknowledged by their deadline",
    "resolve_on_time_rate": "reactive orders resolved by their deadline",
    "first_time_fix_rate": "resolved reactive orders never reopened nor flagged rework",
    "rework_rate": "resolved reactive orders reopened or flagged rework",
    "follow_up_rate": "closed reactive orders followed up with the resident",
    "rejection_rate": "orders rejected (退单) at least once",
    "order_satisfaction_rate": "rated reactive orders the resident rated 4 or 5 of 5",
    "response_minutes_mean": "mean minutes from creation to acknowledgement",
    "response_minutes_p90": "90th percentile (nearest rank) of response minutes",
    "resolution_hours_mean": "mean hours from creation to resolution",
    "resolution_hours_p90": "90th percentile (nearest rank) of resolution hours",
    "preventive_share": "preventive orders among preventive + reactive orders",
    "preventive_on_time_rate": "preventive orders resolved by the end of their window",
    "failures_preceded_rate": "failures preceded by a preventive order on the asset",
    "elevator_entrapments": "entrapment episodes starting in the period",
    "elevator_entrapment_rate": "entrapments per 100 elevator-months",
    "elevator_out_of_service_hours": "elevator-hours not in working order",
    "fire_alarm_fault_rate": "fire-alarm failures per 100 panel-months",
    "fire_alarm_false_alarm_rate": "fire alarms confirmed false among all fire alarms (tests left out)",
    "fire_alarm_unconfirmed_rate": "fire alarms with no confirmed outcome among all fire alarms (tests left out)",
    "fire_alarm_offline_rate": "share of known fire-alarm hours offline",
    "water_pump_dry_run_events": "dry-run episodes starting in the period",
    "water_pump_pressure_loss_hours": "hours of pressure-loss episodes",
    "smart_bin_overflow_hours": "hours of overflow episodes",
    "hotline_complaint_density": "12345 hotline complaints per 100 assets per month",
} | {name: spec.description for name, spec in EXTERNAL.items()}


def complaint_density(complaints: MetricValue, assets: int, months: int) -> MetricValue:
    """Complaints × 100 / (assets in scope × months): Shanghai's complaint density, per asset for want of
    household counts."""
    if complaints.value is None or assets <= 0 or months <= 0:
        return MetricValue("hotline_complaint_density", None, "per 100 asset-months", note="no data")
    value = complaints.value * 100.0 / (assets * months)
    return MetricValue(
        "hotline_complaint_density", value, "per 100 asset-months", complaints.value, assets * months,
        complaints.evidence,
    )  # fmt: skip


#: the asset kinds whose names prefix kind-specific metrics
KINDS = tuple(k.value for k in AssetKind)


def _with_coverage(out: dict[str, MetricValue], ds: Dataset, tl: av.Timelines, p: Period) -> None:
    """Attach each timeline metric's monitoring coverage (its kind's for kind-specific metrics)."""
    kinds: dict[str, frozenset[str]] = {}
    for a in ds.assets:
        kinds[a.kind] = kinds.get(a.kind, frozenset()) | {a.asset_id}
    scope = out["monitoring_coverage"]
    per_kind = {k: av.coverage(tl.of(ids), p) for k, ids in kinds.items()}
    for name in TIMELINE_METRICS:
        kind = next((k for k in KINDS if name.startswith(k + "_")), None)
        cov = scope if kind is None else per_kind.get(kind)
        if cov is not None:
            out[name] = av.with_coverage(out[name], cov)


def _failure_counts_without(
    tl: av.Timelines, p: Period, eps: list[Episode], codes: frozenset[str]
) -> dict[str, MetricValue]:
    """The failure counts and fault rates without failures that began with an incident of ``codes`` (an
    indicator of its own counts those: each incident once per rule)."""
    onsets: dict[str, list[Episode]] = {}
    for e in eps:
        if e.code in codes:
            onsets.setdefault(e.asset_id, []).append(e)
    drop = {
        (o.asset_id, o.start)
        for o in av.failures_in(tl, p)
        if any(abs(e.start - o.start) <= INCIDENT_MATCH for e in onsets.get(o.asset_id, ()))
    }
    if not drop:
        return {}
    kept = av.Timelines(
        tl.segments, tuple(o for o in tl.outages if (o.asset_id, o.start) not in drop), tl.lives
    )
    note = f"{len(drop)} failure(s) left out: counted by the {', '.join(sorted(codes))} indicator"
    return {
        m.name: replace(m, note="; ".join(x for x in (m.note, note) if x))
        for m in (
            av.failure_count(kept, p),
            av.fault_rate_per_100_asset_months(kept, p),
            av.fault_rate_per_1000_asset_days(kept, p),
        )
    }


NO_INFLUX_NOTE = "InfluxDB not read: an asset counts as observed only from its first recorded state change"


def compute_all(
    ds: Dataset, p: Period, s: MetricSettings, tl: av.Timelines | None = None
) -> dict[str, MetricValue]:
    """Every metric of ``ds`` over ``p``. ``tl``: the dataset's timelines when already normalised (a month's
    entities share one normalisation of the whole fleet; ``Timelines.of`` narrows it)."""
    tl = av.timelines(ds, s) if tl is None else tl
    cov = av.coverage(tl, p)
    if not ds.events_loaded:
        cov = replace(cov, note="; ".join(x for x in (cov.note, NO_INFLUX_NOTE) if x))
    out: dict[str, MetricValue] = {
        "monitoring_coverage": cov,
        "intactness_rate": av.intactness(tl, p),
        "failures": av.failure_count(tl, p),
        "down_hours": av.down_hours(tl, p),
        "fault_rate_per_100_asset_months": av.fault_rate_per_100_asset_months(tl, p),
        "fault_rate_per_1000_asset_days": av.fault_rate_per_1000_asset_days(tl, p),
        "mtbf_hours": av.mtbf_hours(tl, p),
        "mttr_hours": av.mttr_hours(tl, p),
        "response_on_time_rate": sv.response_on_time_rate(ds.orders, p, s),
        "resolve_on_time_rate": sv.resolve_on_time_rate(ds.orders, p, s),
        "first_time_fix_rate": sv.first_time_fix_rate(ds.orders, p),
        "rework_rate": sv.rework_rate(ds.orders, p),
        "follow_up_rate": sv.follow_up_rate(ds.orders, p),
        "rejection_rate": sv.rejection_rate(ds.orders, p),
        "order_satisfaction_rate": sv.order_satisfaction_rate(ds.orders, p),
        "preventive_share": sv.preventive_share(ds.orders, p),
        "preventive_on_time_rate": sv.preventive_on_time_rate(ds.orders, p, s),
        "failures_preceded_rate": sv.failures_preceded_rate(ds.orders, av.failures_in(tl, p), s),
    }
    rm, rp = sv.response_times(ds.orders, p)
    hm, hp = sv.resolution_times(ds.orders, p)
    out.update({m.name: m for m in (rm, rp, hm, hp)})
    eps = episodes(ds.events, s.as_of)
    if s.exclude_codes:
        out.update(_failure_counts_without(tl, p, eps, s.exclude_codes))
    kinds = kind_metrics(ds, tl, p, eps)
    if not ds.events_loaded:  # counts from events we could not read are unknown, not zero
        kinds = {k: v for k, v in kinds.items() if k not in EVENT_METRICS} | {
            k: MetricValue(k, None, kinds[k].unit, note="no data: device events not loaded")
            for k in EVENT_METRICS
        }
    out.update(kinds)
    months = [m.label for m in p.months()]
    for name in EXTERNAL:
        out[name] = aggregate(ds.external, name, months)
    out["hotline_complaint_density"] = complaint_density(
        out["hotline_complaints"], len(ds.assets), len(months)
    )
    _with_coverage(out, ds, tl, p)
    missing = set(CATALOGUE) - set(out)
    assert not missing, f"catalogue names without a computation: {missing}"
    return out


def rate_metrics(ds: Dataset, p: Period, s: MetricSettings, tl: av.Timelines) -> dict[str, MetricValue]:
    """Only the rate metrics the credibility priors need (``credibility.RATE_METRICS``) for the assets of one
    kind, computed as ``compute_all`` computes them, without the other figures' cost."""
    out = {"fault_rate_per_100_asset_months": av.fault_rate_per_100_asset_months(tl, p)}
    eps = episodes(ds.events, s.as_of) if ds.events_loaded else []
    if s.exclude_codes:
        out.update(
            {k: v for k, v in _failure_counts_without(tl, p, eps, s.exclude_codes).items() if k in out}
        )
    kinds = {a.kind for a in ds.assets}
    if kinds == {"fire_alarm"}:
        out["fire_alarm_fault_rate"] = out["fault_rate_per_100_asset_months"]
        if s.exclude_codes:  # kinds.py counts every fire-alarm failure
            out["fire_alarm_fault_rate"] = av.fault_rate_per_100_asset_months(tl, p)
    if kinds == {"elevator"} and ds.events_loaded:
        trapped = [e for e in eps if e.code == "entrapment" and p.start <= e.start < p.end]
        months = tl.known(p) / av.ASSET_MONTH_H
        out["elevator_entrapment_rate"] = MetricValue(
            "elevator_entrapment_rate", len(trapped) * 100.0 / months if months > 0 else None,
            "per 100 asset-months", len(trapped), months,
        )  # fmt: skip
    return out
