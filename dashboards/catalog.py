"""The dashboards, defined in code: overview, one per asset kind, risk, work orders, ratings, ingest health."""

from __future__ import annotations

from typing import Any

from dashboards.panels import (
    Dashboard,
    Panel,
    Variable,
    annotation,
    bargauge,
    grafana_unit,
    stat,
    table,
    tag_match,
    tag_variable,
    timeseries,
    where,
)
from facility.contract import EVENTS_MEASUREMENT, SCHEMAS, STATUS_MEASUREMENT, AssetKind, FieldSpec

EVENTS = f'"{EVENTS_MEASUREMENT}"'
STATUS = f'"{STATUS_MEASUREMENT}"'
INGEST_STATS = "ingest_stats"
IS_FAULT = "\"type\" = 'fault'"
IS_ALARM = "\"type\" = 'alarm'"
FAULT_OR_ALARM = '"type" =~ /^(fault|alarm)$/'

KIND_TITLES = {
    AssetKind.ELEVATOR: "Elevators",
    AssetKind.FIRE_ALARM: "Fire-alarm panels",
    AssetKind.WATER_PUMP: "Water pumps",
    AssetKind.SMART_BIN: "Smart bins",
}


def _last_per(
    measurement: str, fields: tuple[str, ...], filters: tuple[str, ...], group: tuple[str, ...]
) -> str:
    """Subquery: the latest value of each field per series (one snapshot per group)."""
    sel = ", ".join(f'last("{f}") AS "{f}"' for f in fields)
    return f'SELECT {sel} FROM "{measurement}" {where(*filters)} GROUP BY {_quoted(group)}'


def _quoted(names: tuple[str, ...]) -> str:
    return ", ".join(f'"{n}"' for n in names)


# ---------------------------------------------------------------- overview


def overview() -> Dashboard:
    estate = (tag_match("estate"),)
    intact = _last_per(
        "intactness",
        ("assets", "in_service", "faulted", "maintenance", "offline"),
        estate,
        ("estate", "kind"),
    )
    online = _last_per(STATUS_MEASUREMENT, ("online",), estate, ("estate", "building", "kind", "asset"))
    panels: list[Panel] = [
        stat("Assets reporting", f'SELECT count("online") FROM ({online})'),
        stat("Online now", f'SELECT sum("online") FROM ({online})'),
        stat(
            "Facility intactness",
            f'SELECT sum("in_service") / sum("assets") * 100 FROM ({intact})',
            unit="percent",
            description="Share of assets in working order (target 98%), from the maintenance state timeline.",
            defaults={
                "thresholds": {
                    "mode": "absolute",
                    "steps": [
                        {"color": "red", "value": None},
                        {"color": "yellow", "value": 80},
                        {"color": "green", "value": 98},
                    ],
                }
            },
        ),
        stat(
            "Fault events",
            f'SELECT count("detail") FROM {EVENTS} {where(*estate, IS_FAULT)}',
        ),
        bargauge(
            "Assets by state",
            f'SELECT sum("in_service") AS "in service", sum("faulted") AS "faulted", '
            f'sum("maintenance") AS "under maintenance", sum("offline") AS "offline" FROM ({intact})',
        ),
        timeseries(
            "Intactness by estate",
            f'SELECT sum("in_service") / sum("assets") * 100 FROM "intactness" {where(*estate)} '
            f'GROUP BY time($__interval), "estate" fill(none)',
            unit="percent",
            alias="$tag_estate",
        ),
        timeseries(
            "Faults and alarms by kind",
            f'SELECT count("detail") FROM {EVENTS} {where(*estate, FAULT_OR_ALARM)} '
            f'GROUP BY time($__interval), "kind", "type" fill(0)',
            alias="$tag_kind $tag_type",
            width=24,
        ),
        table(
            "Latest faults and alarms",
            f'SELECT "estate", "building", "kind", "asset", "type", "code", "detail" FROM {EVENTS} '
            f"{where(*estate, FAULT_OR_ALARM)} ORDER BY time DESC LIMIT 50",
        ),
        table(
            "Offline assets",
            f'SELECT "online" FROM ({online}) WHERE "online" = 0',
            height=7,
        ),
    ]
    return Dashboard(
        "facility-overview",
        "Facility overview",
        "Estates at a glance: assets reporting, intactness, assets by state, faults and alarms.",
        tuple(panels),
        (tag_variable("estate", "Estate", STATUS_MEASUREMENT),),
        annotations=(alarm_annotation(tag_match("estate")),),
    )


# ---------------------------------------------------------------- one per asset kind


def _field_panel(kind: AssetKind, spec: FieldSpec, filters: tuple[str, ...]) -> Panel:
    agg = "sum" if spec.integer and spec.unit == "count" else "mean"
    title = spec.description[:1].upper() + spec.description[1:] if spec.description else spec.name
    return timeseries(
        f"{title} ({spec.unit})" if spec.unit not in ("count", "bool") else title,
        f'SELECT {agg}("{spec.name}") FROM "{kind.value}" {where(*filters)} '
        f'GROUP BY time($__interval), "asset" fill(null)',
        unit=grafana_unit(spec.unit),
        alias="$tag_asset",
        width=8,
        height=7,
    )


def kind_dashboard(kind: AssetKind) -> Dashboard:
    schema = SCHEMAS[kind]
    filters = (tag_match("estate"), tag_match("building"), tag_match("asset"))
    of_kind = (f"\"kind\" = '{kind.value}'", *filters)
    panels: list[Panel] = [
        stat(
            "Fault events",
            f'SELECT count("detail") FROM {EVENTS} {where(*of_kind, IS_FAULT)}',
            width=8,
        ),
        stat(
            "Alarms",
            f'SELECT count("detail") FROM {EVENTS} {where(*of_kind, IS_ALARM)}',
            width=8,
        ),
        stat(
            "Online share",
            f'SELECT mean("online") FROM {STATUS} {where(*of_kind)}',
            unit="percentunit",
            width=8,
        ),
        *(_field_panel(kind, spec, filters) for spec in schema.fields),
        bargauge(
            "Events by code",
            f'SELECT count("detail") FROM {EVENTS} {where(*of_kind)} GROUP BY "type", "code"',
            alias="$tag_type: $tag_code",
        ),
        table(
            "Events",
            f'SELECT "building", "asset", "type", "code", "detail" FROM {EVENTS} {where(*of_kind)} '
            f"ORDER BY time DESC LIMIT 100",
            width=12,
            height=8,
        ),
    ]
    return Dashboard(
        f"facility-{kind.value.replace('_', '-')}",
        KIND_TITLES[kind],
        f"{KIND_TITLES[kind]}: every telemetry field of the contract, events and online status.",
        tuple(panels),
        (
            tag_variable("estate", "Estate", kind.value),
            tag_variable("building", "Building", kind.value, "estate"),
            tag_variable("asset", "Asset", kind.value, "estate", "building"),
        ),
        tags=("facility", kind.value),
        annotations=(
            alarm_annotation(f"\"kind\" = '{kind.value}'", tag_match("estate"), tag_match("asset")),
        ),
    )


# ---------------------------------------------------------------- predicted risk


def risk() -> Dashboard:
    filters = (tag_match("estate"), tag_match("kind"))
    latest = _last_per("forecasts", ("p30",), filters, ("estate", "kind", "asset"))
    panels: list[Panel] = [
        stat(
            "Assets with 30-day failure risk ≥ 50%", f'SELECT count("p30") FROM ({latest}) WHERE "p30" >= 0.5'
        ),
        stat(
            "Highest 30-day failure probability",
            f'SELECT max("p30") FROM ({latest})',
            unit="percentunit",
        ),
        bargauge(
            "Mean 30-day risk by kind",
            f'SELECT mean("p30") FROM ({latest}) GROUP BY "kind"',
            unit="percentunit",
            alias="$tag_kind",
        ),
        table(
            "Risk ranking and failure windows",
            'SELECT last("risk") AS "risk", last("p7") AS "P(fail ≤ 7 d)", last("p30") AS "P(fail ≤ 30 d)", '
            'last("p90") AS "P(fail ≤ 90 d)", last("window_start_h") AS "window from (h)", '
            f'last("window_end_h") AS "window to (h)" FROM "forecasts" {where(*filters)} '
            'GROUP BY "estate", "building", "kind", "asset"',
            height=12,
            options={"sortBy": [{"displayName": "risk", "desc": True}]},
        ),
        timeseries(
            "Highest 30-day failure probability by kind",
            f'SELECT max("p30") FROM "forecasts" {where(*filters)} GROUP BY time($__interval), "kind" fill(none)',
            unit="percentunit",
            alias="$tag_kind",
            width=24,
        ),
    ]
    return Dashboard(
        "facility-risk",
        "Predicted risk and failure windows",
        "Survival-model forecasts: probability of failure within 7, 30 and 90 days and the predicted window.",
        tuple(panels),
        (tag_variable("estate", "Estate", "forecasts"), tag_variable("kind", "Kind", "forecasts", "estate")),
    )


# ---------------------------------------------------------------- work orders and SLA


def orders() -> Dashboard:
    filters = (tag_match("estate"), tag_match("kind"))
    group = ("estate", "kind", "state", "priority")
    latest = _last_per("work_orders", ("open", "breached"), filters, group)
    per_interval = (
        f'SELECT last("open") AS "open", last("breached") AS "breached" FROM "work_orders" {where(*filters)} '
        f"GROUP BY time($__interval), {_quoted(group)}"
    )
    panels: list[Panel] = [
        stat("Open work orders", f'SELECT sum("open") FROM ({latest})'),
        stat(
            "Open orders breaching SLA",
            f'SELECT sum("breached") FROM ({latest})',
            defaults={
                "thresholds": {
                    "mode": "absolute",
                    "steps": [{"color": "green", "value": None}, {"color": "red", "value": 1}],
                }
            },
        ),
        bargauge(
            "Open orders by state", f'SELECT sum("open") FROM ({latest}) GROUP BY "state"', alias="$tag_state"
        ),
        bargauge(
            "Open orders by priority",
            f'SELECT sum("open") FROM ({latest}) GROUP BY "priority"',
            alias="$tag_priority",
        ),
        bargauge(
            "Open orders by kind", f'SELECT sum("open") FROM ({latest}) GROUP BY "kind"', alias="$tag_kind"
        ),
        timeseries(
            "Open orders and SLA breaches",
            f'SELECT sum("open") AS "open", sum("breached") AS "breaching SLA" FROM ({per_interval}) '
            f"WHERE $timeFilter GROUP BY time($__interval) fill(none)",
            width=24,
        ),
    ]
    return Dashboard(
        "facility-orders",
        "Work orders and SLA",
        "Open work orders by state, priority and kind; orders breaching their response or resolution target.",
        tuple(panels),
        (
            tag_variable("estate", "Estate", "work_orders"),
            tag_variable("kind", "Kind", "work_orders", "estate"),
        ),
        annotations=(alarm_annotation(tag_match("estate"), tag_match("kind")),),
    )


# ---------------------------------------------------------------- property-company ratings


def ratings() -> Dashboard:
    """Rows from evaluation.analytics: one per estate and one per company (``estate`` empty)."""
    filters = (tag_match("group"), tag_match("company"))
    companies = (*filters, "\"estate\" = ''")
    estates = (*filters, '"estate" =~ /./')
    latest = _last_per("ratings", ("score",), estates, ("company", "estate", "group", "colour"))
    panels: list[Panel] = [
        bargauge(
            "Latest score by company",
            f'SELECT last("score") FROM "ratings" {where(*companies)} GROUP BY "company"',
            alias="$tag_company",
            defaults={"min": 0, "max": 100},
        ),
        bargauge(
            "Estates by colour",
            f'SELECT count("score") FROM ({latest}) GROUP BY "colour"',
            alias="$tag_colour",
        ),
        table(
            "Scores, colours and rank in group",
            'SELECT last("score") AS "score", last("rank_in_group") AS "rank in group", '
            f'last("period") AS "period" FROM "ratings" {where(*filters)} '
            'GROUP BY "group", "company", "estate", "colour"',
            options={"sortBy": [{"displayName": "score", "desc": True}]},
            description="A company's own row has an empty estate.",
        ),
        timeseries(
            "Score trend by company",
            f'SELECT mean("score") FROM "ratings" {where(*companies)} '
            'GROUP BY time($__interval), "company" fill(none)',
            alias="$tag_company",
            width=24,
            defaults={"min": 0, "max": 100},
        ),
    ]
    return Dashboard(
        "facility-ratings",
        "Property-company ratings",
        "Monthly scores (0–100), the quarterly four-colour rating and the rank within each estate group.",
        tuple(panels),
        (
            # the estates' groups (a company spanning groups has the group "mixed": shown under All)
            Variable(
                "group",
                "Estate group",
                'SHOW TAG VALUES FROM "ratings" WITH KEY = "group" WHERE "estate" =~ /./',
            ),
            tag_variable("company", "Company", "ratings", "group"),
        ),
        time_from="now-180d",
    )


# ---------------------------------------------------------------- ingest health


def ingest_health() -> Dashboard:
    """From ingest/metrics.py: worker points carry cumulative counters; device points carry tags."""
    m = f'"{INGEST_STATS}"'
    worker = where("\"asset\" = ''")  # worker totals: the points without device tags
    device = ('"asset" =~ /./',)

    def per_worker(expr: str) -> str:
        return f'SELECT {expr} FROM {m} {worker} GROUP BY time($__interval), "worker"'

    def rate(field: str) -> str:
        return f'non_negative_derivative(max("{field}"), 1s) AS "{field}"'

    def latest_total(field: str) -> str:
        return f'SELECT sum("{field}") FROM (SELECT last("{field}") AS "{field}" FROM {m} {worker} GROUP BY "worker")'

    panels: list[Panel] = [
        stat(
            "Stored per second",
            f'SELECT sum("stored") FROM ({per_worker(rate("stored"))}) WHERE $timeFilter '
            "GROUP BY time($__interval) fill(none)",
            unit="suffix: points/s",
        ),
        stat(
            "Lag device → stored (latest)",
            f'SELECT max("lag_ms") FROM (SELECT last("lag_ms") AS "lag_ms" '
            f'FROM {m} {worker} GROUP BY "worker")',
            unit="ms",
        ),
        stat("Spool depth", latest_total("spool_depth")),
        stat("Dead letters", latest_total("dead_letters")),
        timeseries(
            "Received and stored per second",
            f'SELECT sum("received") AS "received", sum("stored") AS "stored" FROM '
            f"({per_worker(rate('received') + ', ' + rate('stored'))}) WHERE $timeFilter "
            "GROUP BY time($__interval) fill(none)",
            unit="suffix: /s",
        ),
        timeseries(
            "Lag device → stored",
            f'SELECT max("lag_ms") FROM {m} {worker} GROUP BY time($__interval), "worker" fill(none)',
            unit="ms",
            alias="$tag_worker",
        ),
        timeseries(
            "Spool and queue depth",
            f'SELECT max("spool_depth") AS "spool", max("queue_depth") AS "queue" FROM {m} {worker} '
            'GROUP BY time($__interval), "worker" fill(none)',
            alias="$tag_worker $col",
        ),
        timeseries(
            "Dead letters, sequence gaps (lost and pending), duplicates, resets (cumulative)",
            f'SELECT max("dead_letters") AS "dead letters", max("gaps") AS "sequence gaps", max("pending_gaps") AS "pending gaps", '
            f'max("duplicates") AS "duplicates", max("resets") AS "resets" FROM {m} {worker} '
            'GROUP BY time($__interval), "worker" fill(none)',
            alias="$tag_worker $col",
        ),
        table(
            "Devices losing data (sequence accounting)",
            'SELECT last("gaps") AS "gaps", last("pending_gaps") AS "pending gaps", '
            'last("duplicates") AS "duplicates", last("resets") AS "resets", last("received") AS "received" '
            f'FROM {m} {where(*device)} GROUP BY "estate", "building", "kind", "asset"',
            options={"sortBy": [{"displayName": "gaps", "desc": True}]},
        ),
    ]
    return Dashboard(
        "facility-ingest",
        "Ingest health",
        "The ingester's own figures (measurement ingest_stats, see docs/ingest.md): rate, lag, spool depth, "
        "dead letters and per-device sequence accounting.",
        tuple(panels),
        time_from="now-6h",
        refresh="10s",
    )


# ---------------------------------------------------------------- alarms (issue 13)

#: how recent an ``alarms`` snapshot must be to count as current (the worker exports every 5 minutes)
ALARM_SNAPSHOT_AGE = "15m"


def alarm_annotation(*filters: str) -> dict[str, Any]:
    """Each alarm at its first occurrence, on every time-series panel (measurement ``alarm_events``)."""
    q = f'SELECT "text", "asset" FROM "alarm_events" {where("$timeFilter", *filters)}'
    return annotation("Alarms", q, tags="asset")


def alarms() -> Dashboard:
    filters = (f"time > now() - {ALARM_SNAPSHOT_AGE}", tag_match("estate"), tag_match("kind"))
    group = ("estate", "building", "kind", "asset", "rule", "severity", "state")
    latest = _last_per("alarms", ("count",), filters, group)
    panels: list[Panel] = [
        stat("Alarms not cleared", f'SELECT count("count") FROM ({latest})'),
        stat(
            "Critical alarms",
            f'SELECT count("count") FROM ({latest}) WHERE "severity" = \'critical\'',
            defaults={
                "thresholds": {
                    "mode": "absolute",
                    "steps": [{"color": "green", "value": None}, {"color": "red", "value": 1}],
                }
            },
        ),
        stat("Not acknowledged", f'SELECT count("count") FROM ({latest}) WHERE "state" = \'active\''),
        stat("Occurrences (repeats included)", f'SELECT sum("count") FROM ({latest})'),
        table(
            "Alarm table",
            f'SELECT last("count") AS "count", last("first_at") AS "first", last("order_id") AS "order", '
            f'last("alarm_id") AS "alarm" FROM "alarms" {where(*filters)} GROUP BY {_quoted(group)}',
            description="Alarms not yet cleared, from the last snapshot; acknowledge and clear them at /alarms.",
        ),
        bargauge(
            "Alarms by severity",
            f'SELECT count("count") FROM ({latest}) GROUP BY "severity"',
            alias="$tag_severity",
        ),
        bargauge(
            "Alarms by estate",
            f'SELECT count("count") FROM ({latest}) GROUP BY "estate"',
            alias="$tag_estate",
        ),
    ]
    return Dashboard(
        "facility-alarms",
        "Alarms",
        "Alarms not yet cleared (one row per alarm with its repeat count and order), raised alarms as annotations.",
        tuple(panels),
        (
            tag_variable("estate", "Estate", "alarms"),
            tag_variable("kind", "Kind", "alarms", "estate"),
        ),
        annotations=(alarm_annotation(tag_match("estate"), tag_match("kind")),),
    )


def all_dashboards() -> list[Dashboard]:
    return [
        overview(),
        *(kind_dashboard(k) for k in AssetKind),
        risk(),
        orders(),
        alarms(),
        ratings(),
        ingest_health(),
    ]
