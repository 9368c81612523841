"""Kind-specific indicators: elevator entrapments, fire-alarm false alarms, pump dry-run and pressure loss,
smart-bin overflow (formulas: docs/evaluation.md). Event episodes come from ``timeline.episodes``."""

from __future__ import annotations

from collections.abc import Sequence

from evaluation.availability import ASSET_MONTH_H, Timelines, fault_rate_per_100_asset_months
from evaluation.inputs import AssetState, Dataset
from evaluation.metric_types import MetricValue, ratio
from evaluation.periods import Period
from evaluation.timeline import Episode, episodes
from facility.contract import AlarmOutcome

#: the old convention, still accepted: an alarm whose alarm or clearing event carries one of these details
#: (and no ``outcome``) was confirmed false
FALSE_ALARM_DETAILS = ("false", "false_alarm")


def alarm_outcome(e: Episode) -> str:
    """What the alarm was confirmed to be: the events' ``outcome`` field, else the legacy ``detail``
    convention (false alarms only), else "" (not confirmed)."""
    if e.outcome:
        return e.outcome
    if any(d.strip().lower() in FALSE_ALARM_DETAILS for d in e.details):
        return AlarmOutcome.FALSE_ALARM.value
    return ""


def _of_kind(tl: Timelines, ids: frozenset[str]) -> Timelines:
    return tl.of(ids)


def _known(tl: Timelines, p: Period) -> float:
    return tl.known(p)


def _onsets(eps: Sequence[Episode], code: str, p: Period) -> list[Episode]:
    return [e for e in eps if e.code == code and p.start <= e.start < p.end]


def _ep_ref(e: Episode) -> str:
    return f"{e.asset_id}:{e.code}@{e.start.isoformat()}"


def _count(name: str, eps: list[Episode], known: float) -> MetricValue:
    if known <= 0:
        return MetricValue(name, None, "count", note="no data")
    return MetricValue(name, float(len(eps)), "count", len(eps), known, tuple(_ep_ref(e) for e in eps))


def _hours(name: str, eps: Sequence[Episode], code: str, p: Period, known: float) -> MetricValue:
    hit = [e for e in eps if e.code == code and e.hours_in(p.start, p.end) > 0]
    if known <= 0:
        return MetricValue(name, None, "h", note="no data")
    h = sum(e.hours_in(p.start, p.end) for e in hit)
    return MetricValue(name, h, "h", h, known, tuple(_ep_ref(e) for e in hit))


def kind_metrics(
    ds: Dataset, tl: Timelines, p: Period, as_of_eps: Sequence[Episode]
) -> dict[str, MetricValue]:
    kinds: dict[str, frozenset[str]] = {}
    for a in ds.assets:
        kinds[a.kind] = kinds.get(a.kind, frozenset()) | {a.asset_id}
    out: dict[str, MetricValue] = {}

    el = _of_kind(tl, kinds.get("elevator", frozenset()))
    el_known = _known(el, p)
    el_eps = [e for e in as_of_eps if e.asset_id in kinds.get("elevator", frozenset())]
    trapped = _onsets(el_eps, "entrapment", p)
    out["elevator_entrapments"] = _count("elevator_entrapments", trapped, el_known)
    rate = ratio(
        "elevator_entrapment_rate", len(trapped) * 100.0, el_known / ASSET_MONTH_H, "per 100 asset-months"
    )
    out["elevator_entrapment_rate"] = MetricValue(
        rate.name,
        rate.value,
        rate.unit,
        len(trapped),
        rate.denominator,
        tuple(_ep_ref(e) for e in trapped),
        rate.note,
    )
    down = [(s, h) for s, h in el.within(p) if not s.working]
    oos = sum(h for _, h in down)
    out["elevator_out_of_service_hours"] = (
        MetricValue(
            "elevator_out_of_service_hours",
            oos,
            "h",
            oos,
            el_known,
            tuple(r for s, _ in down for r in s.refs),
        )
        if el_known > 0
        else MetricValue("elevator_out_of_service_hours", None, "h", note="no data")
    )

    fa_ids = kinds.get("fire_alarm", frozenset())
    fa = _of_kind(tl, fa_ids)
    fa_known = _known(fa, p)
    fr = fault_rate_per_100_asset_months(fa, p)
    out["fire_alarm_fault_rate"] = MetricValue(
        "fire_alarm_fault_rate", fr.value, fr.unit, fr.numerator, fr.denominator, fr.evidence, fr.note
    )
    alarms = _onsets([e for e in as_of_eps if e.asset_id in fa_ids], "fire_alarm", p)
    real = [e for e in alarms if alarm_outcome(e) != AlarmOutcome.TEST.value]  # tests are not alarms
    false = [e for e in real if alarm_outcome(e) == AlarmOutcome.FALSE_ALARM.value]
    unconfirmed = [e for e in real if not alarm_outcome(e)]
    tests = len(alarms) - len(real)
    note = "; ".join(
        x
        for x in (
            f"{len(unconfirmed)} of {len(real)} alarms not confirmed" if unconfirmed else "",
            f"{tests} test alarm{'s' if tests != 1 else ''} left out" if tests else "",
        )
        if x
    )
    out["fire_alarm_false_alarm_rate"] = ratio(
        "fire_alarm_false_alarm_rate",
        len(false),
        len(real),
        evidence=tuple(_ep_ref(e) for e in false),
        note=note,
    )
    out["fire_alarm_unconfirmed_rate"] = ratio(
        "fire_alarm_unconfirmed_rate",
        len(unconfirmed),
        len(real),
        evidence=tuple(_ep_ref(e) for e in unconfirmed),
    )
    offline = [(s, h) for s, h in fa.within(p) if s.state is AssetState.OFFLINE]
    off_h = sum(h for _, h in offline)
    out["fire_alarm_offline_rate"] = ratio(
        "fire_alarm_offline_rate", off_h, fa_known, evidence=tuple(r for s, _ in offline for r in s.refs)
    )

    wp_ids = kinds.get("water_pump", frozenset())
    wp_known = _known(_of_kind(tl, wp_ids), p)
    wp_eps = [e for e in as_of_eps if e.asset_id in wp_ids]
    out["water_pump_dry_run_events"] = _count(
        "water_pump_dry_run_events", _onsets(wp_eps, "dry_run", p), wp_known
    )
    out["water_pump_pressure_loss_hours"] = _hours(
        "water_pump_pressure_loss_hours", wp_eps, "pressure_loss", p, wp_known
    )

    sb_ids = kinds.get("smart_bin", frozenset())
    sb_known = _known(_of_kind(tl, sb_ids), p)
    sb_eps = [e for e in as_of_eps if e.asset_id in sb_ids]
    out["smart_bin_overflow_hours"] = _hours("smart_bin_overflow_hours", sb_eps, "overflow", p, sb_known)
    return out


__all__ = ["FALSE_ALARM_DETAILS", "alarm_outcome", "episodes", "kind_metrics"]
