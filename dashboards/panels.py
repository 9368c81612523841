"""Small builders for Grafana dashboard JSON (schema 39) with raw InfluxQL targets.

Every panel query is raw InfluxQL (``rawQuery: true``) so the test suite can pull it out, substitute the
template variables and run it against a real InfluxDB. Template variables are multi-value with an "All"
option; Grafana renders them into a regex, so queries always use ``"tag" =~ /^$var$/``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

DATASOURCE_UID = "facility-influxdb"
DATASOURCE = {"type": "influxdb", "uid": DATASOURCE_UID}
SCHEMA_VERSION = 39
GRID_WIDTH = 24

#: contract units -> Grafana unit ids (unknown units are shown as a suffix)
UNITS = {
    "A": "amp",
    "V": "volt",
    "°C": "celsius",
    "%": "percent",
    "mm": "lengthmm",
    "h": "h",
    "Ω": "ohm",
    "count": "short",
    "bool": "percentunit",
}


def grafana_unit(unit: str) -> str:
    return UNITS.get(unit, f"suffix: {unit}")


def where(*conditions: str) -> str:
    """``WHERE a AND b AND $timeFilter`` (the time filter always last)."""
    return "WHERE " + " AND ".join([*conditions, "$timeFilter"])


def tag_match(tag: str, var: str | None = None) -> str:
    return f'"{tag}" =~ /^${var or tag}$/'


@dataclass(frozen=True)
class Target:
    query: str
    result_format: str = "time_series"  # or "table"
    alias: str = ""

    def to_json(self, ref_id: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "refId": ref_id,
            "datasource": DATASOURCE,
            "rawQuery": True,
            "query": self.query,
            "resultFormat": self.result_format,
        }
        if self.alias:
            out["alias"] = self.alias
        return out


@dataclass(frozen=True)
class Panel:
    title: str
    type: str
    targets: tuple[Target, ...]
    width: int = 12
    height: int = 8
    unit: str = "short"
    description: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    transformations: tuple[dict[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if not 1 <= self.width <= GRID_WIDTH:
            raise ValueError(f"panel {self.title!r}: width must be 1..{GRID_WIDTH}, got {self.width}")
        if not self.targets:
            raise ValueError(f"panel {self.title!r} has no query")

    def to_json(self, panel_id: int, x: int, y: int) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": panel_id,
            "type": self.type,
            "title": self.title,
            "datasource": DATASOURCE,
            "gridPos": {"h": self.height, "w": self.width, "x": x, "y": y},
            "targets": [t.to_json(chr(ord("A") + i)) for i, t in enumerate(self.targets)],
            "fieldConfig": {"defaults": {"unit": self.unit, **self.defaults}, "overrides": []},
            "options": self.options,
        }
        if self.description:
            out["description"] = self.description
        if self.transformations:
            out["transformations"] = list(self.transformations)
        return out


def timeseries(title: str, *queries: str, unit: str = "short", alias: str = "", **kw: Any) -> Panel:
    return Panel(title, "timeseries", tuple(Target(q, alias=alias) for q in queries), unit=unit, **kw)


def stat(title: str, query: str, unit: str = "short", width: int = 6, height: int = 4, **kw: Any) -> Panel:
    return Panel(
        title,
        "stat",
        (Target(query),),
        width=width,
        height=height,
        unit=unit,
        options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}},
        **kw,
    )


def table(title: str, query: str, width: int = 24, height: int = 9, **kw: Any) -> Panel:
    return Panel(title, "table", (Target(query, result_format="table"),), width=width, height=height, **kw)


def bargauge(title: str, query: str, unit: str = "short", alias: str = "", **kw: Any) -> Panel:
    return Panel(
        title,
        "bargauge",
        (Target(query, alias=alias),),
        unit=unit,
        options={
            "orientation": "horizontal",
            "displayMode": "gradient",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        },
        **kw,
    )


@dataclass(frozen=True)
class Variable:
    """A query variable: its values come from ``SHOW TAG VALUES`` (which may use earlier variables)."""

    name: str
    label: str
    query: str

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "type": "query",
            "datasource": DATASOURCE,
            "query": self.query,
            "definition": self.query,
            "refresh": 2,  # on time-range change
            "multi": True,
            "includeAll": True,
            "allValue": ".*",
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
            "sort": 1,
            "hide": 0,
            "options": [],
        }


def tag_variable(name: str, label: str, measurement: str, *filters: str, key: str | None = None) -> Variable:
    """Values of tag ``key`` (default: ``name``) in ``measurement``, narrowed by earlier variables."""
    q = f'SHOW TAG VALUES FROM "{measurement}" WITH KEY = "{key or name}"'
    if filters:
        q += " WHERE " + " AND ".join(tag_match(f) for f in filters)
    return Variable(name, label, q)


def layout(panels: Sequence[Panel]) -> list[dict[str, Any]]:
    """Place panels left to right, wrapping into rows of 24 grid units."""
    out: list[dict[str, Any]] = []
    x = y = row_height = 0
    for i, panel in enumerate(panels, start=1):
        if x + panel.width > GRID_WIDTH:
            x, y, row_height = 0, y + row_height, 0
        out.append(panel.to_json(i, x, y))
        x += panel.width
        row_height = max(row_height, panel.height)
    return out


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    description: str
    panels: tuple[Panel, ...]
    variables: tuple[Variable, ...] = ()
    tags: tuple[str, ...] = ("facility",)
    time_from: str = "now-24h"
    refresh: str = "30s"
    #: InfluxQL annotation queries shown on every time-series panel (see :func:`annotation`)
    annotations: tuple[dict[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if len(self.uid) > 40:
            raise ValueError(f"dashboard uid {self.uid!r} is longer than Grafana's 40 characters")

    def to_json(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": list(self.tags),
            "timezone": "browser",
            "editable": False,
            "graphTooltip": 1,
            "schemaVersion": SCHEMA_VERSION,
            "version": 1,
            "refresh": self.refresh,
            "time": {"from": self.time_from, "to": "now"},
            "annotations": {"list": list(self.annotations)},
            "templating": {"list": [v.to_json() for v in self.variables]},
            "links": [
                {
                    "type": "dashboards",
                    "tags": ["facility"],
                    "asDropdown": True,
                    "title": "Facility dashboards",
                    "includeVars": False,
                    "keepTime": True,
                }
            ],
            "panels": layout(self.panels),
        }


def annotation(
    name: str, query: str, color: str = "red", text: str = "text", tags: str = ""
) -> dict[str, Any]:
    """A Grafana annotation from an InfluxQL query: ``text`` names the column shown, ``tags`` a tag column."""
    return {
        "name": name,
        "datasource": DATASOURCE,
        "enable": True,
        "iconColor": color,
        "query": query,
        "target": {"refId": "Anno", "rawQuery": True, "query": query},
        "textColumn": text,
        "tagsColumn": tags,
    }
