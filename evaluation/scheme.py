"""The scoring scheme: a versioned YAML file of indicators, weights, colour thresholds, inspections, groups.

``load_scheme(path)`` / ``parse_scheme(data)`` validate everything and raise :class:`SchemeError` with the
reason (weights that do not add up to 100, an unknown metric, thresholds out of order, ...).
"""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from evaluation.metrics import CATALOGUE
from facility.fleet import ESTATE_GROUPS

DEFAULT_SCHEME = Path(__file__).parent / "schemes" / "default.yaml"
COLOURS = ("green", "blue", "yellow", "red")
WEIGHT_TOTAL = 100.0
_TOL = 1e-6


class SchemeError(ValueError):
    pass


@dataclass(frozen=True)
class Indicator:
    """``zero`` scores 0 points, ``full`` 100; linear and clamped in between (lower is better if zero > full)."""

    name: str
    metric: str
    weight: float
    zero: float
    full: float

    def points(self, value: float) -> float:
        t = (value - self.zero) / (self.full - self.zero)
        return 100.0 * min(1.0, max(0.0, t))


@dataclass(frozen=True)
class Inspection:
    per_month: int
    weekly: bool = False
    rectification_plan: bool = False

    def describe(self) -> str:
        if self.weekly:
            text = "weekly inspections"
        elif self.per_month == 0:
            text = "no inspection"
        else:
            text = f"{self.per_month} inspection{'s' if self.per_month > 1 else ''} a month"
        return text + (" and a rectification plan" if self.rectification_plan else "")


@dataclass(frozen=True)
class Scheme:
    name: str
    version: str
    indicators: tuple[Indicator, ...]
    thresholds: tuple[tuple[str, float], ...]  # (colour, minimum average), best first; red has none
    inspections: tuple[tuple[str, Inspection], ...]
    groups: tuple[tuple[str, tuple[str, ...]], ...]
    excuse_planned: bool = True
    response_target_min: float = 15.0
    resolve_target_h: float = 24.0
    precede_days: float = 30.0
    missing: str = "redistribute"
    min_coverage: float = 0.5
    #: a timeline indicator whose assets were observed for less than this share of their hours is not scored
    min_monitored: float = 0.5
    sha256: str = ""
    description: str = ""
    #: per scheme group, indicator weights that replace the default ones (each set adds up to 100)
    group_weights: tuple[tuple[str, tuple[tuple[str, float], ...]], ...] = ()

    def indicators_for(self, group: str) -> tuple[Indicator, ...]:
        """The indicators with ``group``'s own weights when the scheme gives some (weight 0: not counted)."""
        override = dict(dict(self.group_weights).get(group, ()))
        if not override:
            return self.indicators
        return tuple(
            Indicator(i.name, i.metric, override.get(i.name, i.weight), i.zero, i.full)
            for i in self.indicators
        )

    def group_of(self, estate_group: str) -> str:
        for name, members in self.groups:
            if estate_group in members:
                return name
        return estate_group

    def inspection(self, colour: str) -> Inspection:
        return dict(self.inspections)[colour]

    def colour(self, score: float) -> str:
        for colour, minimum in self.thresholds:
            if score >= minimum:
                return colour
        return "red"


def _num(node: dict[str, Any], key: str, where: str, default: float | None = None) -> float:
    value = node.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SchemeError(f"{where}: '{key}' must be a number, got {value!r}")
    return float(value)


def _indicator(node: Any, i: int) -> Indicator:
    if not isinstance(node, dict):
        raise SchemeError(f"indicator #{i + 1}: expected a mapping with name, metric, weight, zero, full")
    name = str(node.get("name") or node.get("metric") or f"#{i + 1}")
    where = f"indicator {name!r}"
    metric = node.get("metric")
    if metric not in CATALOGUE:
        near = difflib.get_close_matches(str(metric), CATALOGUE, n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        raise SchemeError(
            f"{where}: unknown metric {metric!r}{hint}; known metrics: {', '.join(sorted(CATALOGUE))}"
        )
    weight = _num(node, "weight", where)
    if weight <= 0:
        raise SchemeError(f"{where}: weight must be positive, got {weight:g}; remove the indicator instead")
    zero, full = _num(node, "zero", where), _num(node, "full", where)
    if zero == full:
        raise SchemeError(f"{where}: 'zero' and 'full' are both {zero:g}; they must differ")
    return Indicator(name, str(metric), weight, zero, full)


def _group_weights(
    raw: Any, indicators: tuple[Indicator, ...], groups: list[str]
) -> tuple[tuple[str, tuple[tuple[str, float], ...]], ...]:
    if not isinstance(raw, dict):
        raise SchemeError("'group_weights' must map a group to {indicator name: weight}")
    names = {i.name: i.weight for i in indicators}
    out = []
    for group, weights in raw.items():
        where = f"group_weights.{group}"
        if group not in groups:
            raise SchemeError(f"{where}: unknown group {group!r}; groups are {groups}")
        if not isinstance(weights, dict) or not weights:
            raise SchemeError(f"{where}: expected a mapping of indicator name to weight")
        for name in weights:
            if name not in names:
                raise SchemeError(f"{where}: unknown indicator {name!r}; indicators are {sorted(names)}")
            if _num(weights, name, where) < 0:
                raise SchemeError(f"{where}: weight of {name!r} must be >= 0")
        merged = names | {k: float(v) for k, v in weights.items()}
        total = sum(merged.values())
        if abs(total - WEIGHT_TOTAL) > _TOL:
            raise SchemeError(f"{where}: weights add up to {total:g}, not {WEIGHT_TOTAL:g} (unlisted indicators keep "
                              "their default weight)")  # fmt: skip
        out.append((str(group), tuple((k, float(v)) for k, v in weights.items())))
    return tuple(out)


def parse_scheme(data: Any, source: str = "scheme") -> Scheme:
    try:
        return _parse(data)
    except SchemeError as exc:
        raise SchemeError(f"{source}: {exc}") from None


def _parse(data: Any) -> Scheme:
    if not isinstance(data, dict):
        raise SchemeError("expected a mapping with scheme, version, indicators, colours, inspections, groups")
    for key in ("scheme", "version", "indicators", "colours", "inspections", "groups"):
        if key not in data:
            raise SchemeError(f"missing '{key}'")
    raw = data["indicators"]
    if not isinstance(raw, list) or not raw:
        raise SchemeError("'indicators' must be a non-empty list")
    indicators = tuple(_indicator(node, i) for i, node in enumerate(raw))
    names = [ind.name for ind in indicators]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise SchemeError(f"indicator names must be unique; repeated: {dup}")
    total = sum(ind.weight for ind in indicators)
    if abs(total - WEIGHT_TOTAL) > _TOL:
        listed = " + ".join(f"{ind.name} {ind.weight:g}" for ind in indicators)
        raise SchemeError(f"weights add up to {total:g}, not {WEIGHT_TOTAL:g} ({listed})")

    colours = data["colours"]
    if not isinstance(colours, dict) or set(colours) != {"green", "blue", "yellow"}:
        raise SchemeError(
            "'colours' must give exactly green, blue and yellow thresholds (below yellow is red)"
        )
    th = [(c, _num(colours, c, "colours")) for c in ("green", "blue", "yellow")]
    if not (100 >= th[0][1] > th[1][1] > th[2][1] > 0):
        raise SchemeError(
            f"colour thresholds must satisfy 100 >= green > blue > yellow > 0, got "
            f"green {th[0][1]:g}, blue {th[1][1]:g}, yellow {th[2][1]:g}"
        )

    insp = data["inspections"]
    if not isinstance(insp, dict) or set(insp) != set(COLOURS):
        raise SchemeError(f"'inspections' must give each of {list(COLOURS)}")
    inspections = []
    for c in COLOURS:
        node = insp[c] if isinstance(insp[c], dict) else {}
        per_month = int(_num(node, "per_month", f"inspections.{c}"))
        if per_month < 0:
            raise SchemeError(f"inspections.{c}: per_month must be >= 0")
        inspections.append(
            (
                c,
                Inspection(
                    per_month, bool(node.get("weekly", False)), bool(node.get("rectification_plan", False))
                ),
            )
        )

    groups_raw = data["groups"]
    if not isinstance(groups_raw, dict) or not groups_raw:
        raise SchemeError("'groups' must map a group name to a list of estate groups")
    groups: list[tuple[str, tuple[str, ...]]] = []
    seen: dict[str, str] = {}
    for gname, members in groups_raw.items():
        if not isinstance(members, list) or not members:
            raise SchemeError(f"group {gname!r}: expected a non-empty list of estate groups")
        for m in members:
            if m not in ESTATE_GROUPS:
                raise SchemeError(
                    f"group {gname!r}: unknown estate group {m!r}; expected one of {list(ESTATE_GROUPS)}"
                )
            if m in seen:
                raise SchemeError(f"estate group {m!r} is in both {seen[m]!r} and {gname!r}")
            seen[m] = str(gname)
        groups.append((str(gname), tuple(str(m) for m in members)))
    left = [g for g in ESTATE_GROUPS if g not in seen]
    if left:
        raise SchemeError(f"estate groups {left} belong to no group; add them to one")

    group_weights = _group_weights(data.get("group_weights") or {}, indicators, [g for g, _ in groups])

    settings = data.get("settings") or {}
    missing = settings.get("missing", "redistribute")
    if missing not in ("redistribute", "zero"):
        raise SchemeError(f"settings.missing must be 'redistribute' or 'zero', got {missing!r}")
    min_cov = _num(settings, "min_coverage", "settings", 0.5)
    if not 0 <= min_cov <= 1:
        raise SchemeError(f"settings.min_coverage must be within [0, 1], got {min_cov:g}")
    min_mon = _num(settings, "min_monitored_share", "settings", 0.5)
    if not 0 <= min_mon <= 1:
        raise SchemeError(f"settings.min_monitored_share must be within [0, 1], got {min_mon:g}")
    resp = _num(settings, "response_target_minutes", "settings", 15)
    reso = _num(settings, "resolve_target_hours", "settings", 24)
    if resp <= 0 or reso <= 0:
        raise SchemeError("settings: response and resolution targets must be positive")
    return Scheme(
        name=str(data["scheme"]),
        version=str(data["version"]),
        indicators=indicators,
        thresholds=tuple(th),
        inspections=tuple(inspections),
        groups=tuple(groups),
        excuse_planned=bool(settings.get("excuse_planned_maintenance", True)),
        response_target_min=resp,
        resolve_target_h=reso,
        precede_days=_num(settings, "precede_days", "settings", 30),
        missing=str(missing),
        min_coverage=min_cov,
        min_monitored=min_mon,
        description=str(data.get("description", "")),
        group_weights=group_weights,
    )


def load_scheme(path: Path | None = None) -> Scheme:
    path = path or DEFAULT_SCHEME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SchemeError(f"scheme file {path} does not exist") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SchemeError(f"{path}: not valid YAML: {exc}") from None
    scheme = parse_scheme(data, str(path))
    digest = hashlib.sha256(text.encode()).hexdigest()
    return Scheme(**{**scheme.__dict__, "sha256": digest})
