"""Write relational figures (forecasts, work orders, ratings, intactness) to InfluxDB for Grafana.

Grafana reads only InfluxDB, while risk forecasts, work orders and ratings live in the relational store and
the predictor. The demo loop calls these functions with plain rows (dicts, e.g. from the API's JSON or a SQL
query) every few minutes; each call writes one **snapshot** of the current figures at ``now``, so a panel
shows ``last()`` per series and a trend over time. The measurements are documented in docs/dashboards.md.

    export_forecasts(client, [{"estate": "lvyuan", "building": "b1", "kind": "elevator",
                               "asset": "lvyuan-b1-el1", "p7": 0.05, "p30": 0.2, "p90": 0.5,
                               "window_start_h": 300, "window_end_h": 900, "risk": 0.2}], now)
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ingest.lineprotocol import escape_measurement, escape_string_field, escape_tag


class LineWriter(Protocol):
    def write(self, lines: bytes | str | Iterable[str], precision: str = "ms") -> None: ...


@dataclass(frozen=True)
class MeasurementSpec:
    """A measurement's tags and typed fields (``float``, ``int`` or ``str``); ``optional`` fields may be absent."""

    name: str
    tags: tuple[str, ...]
    fields: Mapping[str, str]
    optional: frozenset[str] = frozenset()
    #: fields that are probabilities or shares: must lie in [0, 1]
    unit_interval: frozenset[str] = frozenset()


FORECASTS = MeasurementSpec(
    "forecasts",
    ("estate", "building", "kind", "asset"),
    {
        "p7": "float",
        "p30": "float",
        "p90": "float",
        "window_start_h": "float",
        "window_end_h": "float",
        "risk": "float",
    },
    optional=frozenset({"window_start_h", "window_end_h"}),
    unit_interval=frozenset({"p7", "p30", "p90"}),
)
WORK_ORDERS = MeasurementSpec(
    "work_orders",
    ("estate", "kind", "state", "priority"),
    {"open": "int", "breached": "int"},
)
RATINGS = MeasurementSpec(
    "ratings",
    ("company", "estate", "group", "colour"),
    {"score": "float", "rank_in_group": "int", "period": "str"},
    optional=frozenset({"rank_in_group", "period"}),
)
INTACTNESS = MeasurementSpec(
    "intactness",
    ("estate", "kind"),
    {
        "assets": "int",
        "in_service": "int",
        "faulted": "int",
        "maintenance": "int",
        "offline": "int",
        "intact_pct": "float",
    },
)
#: alarms not yet cleared, one point per alarm per snapshot (maintenance.alarms; the alarm table panel)
ALARMS = MeasurementSpec(
    "alarms",
    ("estate", "building", "kind", "asset", "rule", "severity", "state"),
    {"count": "int", "alarm_id": "int", "order_id": "int", "first_at": "str"},
    optional=frozenset({"order_id"}),
)
#: one point per alarm at its first occurrence (the dashboards' annotation query); rewritten idempotently
ALARM_EVENTS = MeasurementSpec(
    "alarm_events",
    ("estate", "kind", "asset", "severity"),
    {"text": "str", "alarm_id": "int"},
)
SPECS = {s.name: s for s in (FORECASTS, WORK_ORDERS, RATINGS, INTACTNESS, ALARMS, ALARM_EVENTS)}


def _field(spec: MeasurementSpec, name: str, value: Any, row_no: int) -> str:
    kind = spec.fields[name]
    where = f"{spec.name} row {row_no}: {name}"
    if kind == "str":
        return f"{escape_tag(name)}={escape_string_field(str(value))}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{where} is {value!r}: leave the row out instead of writing NaN or infinity")
    if value < 0:
        raise ValueError(f"{where}={value} must not be negative")
    if name in spec.unit_interval and not 0.0 <= value <= 1.0:
        raise ValueError(f"{where}={value} must be a probability in [0, 1] (not a percentage)")
    if kind == "int":
        if value != int(value):
            raise ValueError(f"{where} must be a whole number, got {value!r}")
        return f"{escape_tag(name)}={int(value)}i"
    return f"{escape_tag(name)}={float(value)!r}"


def to_lines(spec: MeasurementSpec, rows: Iterable[Mapping[str, Any]], ts_ms: int) -> list[str]:
    """Line protocol for ``rows`` at ``ts_ms``; a row missing a tag or a required field is refused."""
    lines: list[str] = []
    for row_no, row in enumerate(rows, start=1):
        missing = [k for k in (*spec.tags, *spec.fields) if k not in spec.optional and row.get(k) is None]
        if missing:
            raise ValueError(f"{spec.name} row {row_no} lacks {missing}: every row needs {list(spec.tags)}")
        tags = ",".join(f"{k}={escape_tag(str(row[k]))}" for k in spec.tags if str(row[k]))
        fields = ",".join(
            _field(spec, name, row[name], row_no) for name in spec.fields if row.get(name) is not None
        )
        lines.append(f"{escape_measurement(spec.name)},{tags} {fields} {ts_ms}")
    return lines


def export(
    client: LineWriter, spec: MeasurementSpec, rows: Iterable[Mapping[str, Any]], now: dt.datetime
) -> int:
    """Write one snapshot of ``rows`` at ``now`` (timezone-aware); returns the number of points written."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (e.g. datetime.now(timezone.utc))")
    lines = to_lines(spec, rows, int(now.timestamp() * 1000))
    client.write(lines, precision="ms")
    return len(lines)


def export_forecasts(client: LineWriter, rows: Iterable[Mapping[str, Any]], now: dt.datetime) -> int:
    return export(client, FORECASTS, rows, now)


def export_work_orders(client: LineWriter, rows: Iterable[Mapping[str, Any]], now: dt.datetime) -> int:
    return export(client, WORK_ORDERS, rows, now)


def export_ratings(client: LineWriter, rows: Iterable[Mapping[str, Any]], now: dt.datetime) -> int:
    return export(client, RATINGS, rows, now)


def export_intactness(client: LineWriter, rows: Iterable[Mapping[str, Any]], now: dt.datetime) -> int:
    return export(client, INTACTNESS, rows, now)


def export_alarms(client: LineWriter, rows: Iterable[Mapping[str, Any]], now: dt.datetime) -> int:
    return export(client, ALARMS, rows, now)


def export_alarm_events(client: LineWriter, rows: Iterable[Mapping[str, Any]]) -> int:
    """Each row at its own time ``at`` (timezone-aware): the alarm's first occurrence."""
    lines: list[str] = []
    for row in rows:
        at = row["at"]
        if at.tzinfo is None:
            raise ValueError("alarm event 'at' must be timezone-aware")
        lines += to_lines(ALARM_EVENTS, [row], int(at.timestamp() * 1000))
    if lines:
        client.write(lines, precision="ms")
    return len(lines)
