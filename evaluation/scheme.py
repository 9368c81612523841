"""The scoring scheme: a versioned YAML file of indicators, weights, colour thresholds, inspections, groups.

``load_scheme(path)`` / ``parse_scheme(data)`` validate everything and raise :class:`SchemeError` with the
reason (weights that do not add up to 100, an unknown metric, thresholds out of order, ...).
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from evaluation.metrics import CATALOGUE
from evaluation.scheme_lines import line_of, node_lines
from facility.contract import SCHEMAS
from facility.fleet import ESTATE_GROUPS

DEFAULT_SCHEME = Path(__file__).parent / "schemes" / "default.yaml"
COLOURS = ("green", "blue", "yellow", "red")
WEIGHT_TOTAL = 100.0
_TOL = 1e-6
#: metrics that count failures (outages with a fault): an incident fed to another indicator leaves them
FAILURE_COUNT_METRICS = frozenset(
    {"failures", "fault_rate_per_100_asset_months", "fault_rate_per_1000_asset_days"}
)


class SchemeError(ValueError):
    """``where``: the path of the offending node (keys and list indexes), which ``load_scheme`` turns into
    the file's line number."""

    def __init__(self, message: str, where: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.where = where


@dataclass(frozen=True)
class Indicator:
    """``zero`` scores 0 points, ``full`` 100; linear and clamped in between (lower is better if zero > full).

    ``curve``: cut-offs ``(value, points)`` from the worst value to the best, points linear between two
    cut-offs and held at the end ones outside (continuous, never a step). Without one the curve is
    ``(zero, 0), (full, 100)``. ``zh`` / ``en``: the indicator's name as reports and pages show it."""

    name: str
    metric: str
    weight: float
    zero: float
    full: float
    curve: tuple[tuple[float, float], ...] = ()
    zh: str = ""
    en: str = ""

    def cutoffs(self) -> tuple[tuple[float, float], ...]:
        return self.curve or ((self.zero, 0.0), (self.full, 100.0))

    def points(self, value: float) -> float:
        cut = self.cutoffs()
        sign = 1.0 if cut[-1][0] > cut[0][0] else -1.0  # +1: higher is better
        x = sign * value
        if x <= sign * cut[0][0]:
            return cut[0][1]
        if x >= sign * cut[-1][0]:
            return cut[-1][1]
        for (v0, p0), (v1, p1) in itertools.pairwise(cut):
            if x <= sign * v1:
                return p0 + (p1 - p0) * (value - v0) / (v1 - v0)
        return cut[-1][1]

    def label(self, lang: str = "zh") -> str:
        from evaluation.names import metric_name

        own = self.zh if lang == "zh" else self.en
        return own or metric_name(self.metric, lang)


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
    #: incident code → the indicators it feeds; failure-count indicators not listed leave such failures out
    incidents: tuple[tuple[str, tuple[str, ...]], ...] = ()
    #: a rate indicator over E asset-months is shrunk toward the district's rate for the kind with this
    #: much prior exposure (credibility E / (E + K)); 0: raw rates
    credibility_asset_months: float = 0.0
    #: an ended period is final only when at least this share of the assets' hours was observed
    complete_coverage: float = 0.0

    def excluded_codes(self) -> frozenset[str]:
        """Incident codes whose failures the failure-count metrics leave out (another indicator counts them)."""
        metrics = {i.name: i.metric for i in self.indicators}
        return frozenset(
            code
            for code, feeds in self.incidents
            if not any(metrics.get(n) in FAILURE_COUNT_METRICS for n in feeds)
        )

    def indicators_for(self, group: str) -> tuple[Indicator, ...]:
        """The indicators with ``group``'s own weights when the scheme gives some (weight 0: not counted)."""
        override = dict(dict(self.group_weights).get(group, ()))
        if not override:
            return self.indicators
        return tuple(replace(i, weight=override.get(i.name, i.weight)) for i in self.indicators)

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


def _num(
    node: dict[str, Any], key: str, where: str, default: float | None = None, at: tuple[str | int, ...] = ()
) -> float:
    value = node.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SchemeError(f"{where}: '{key}' must be a number, got {value!r}", (*at, key))
    return float(value)


def _curve(node: dict[str, Any], where: str, at: tuple[str | int, ...]) -> tuple[tuple[float, float], ...]:
    raw = node.get("curve")
    if raw is None:
        return ()
    if not isinstance(raw, list) or len(raw) < 2:
        raise SchemeError(f"{where}: 'curve' must list at least two [value, points] cut-offs", (*at, "curve"))
    cut: list[tuple[float, float]] = []
    for k, pair in enumerate(raw):
        here = (*at, "curve", k)
        ok = isinstance(pair, list) and len(pair) == 2
        if not ok or any(isinstance(x, bool) or not isinstance(x, int | float) for x in pair):
            raise SchemeError(f"{where}: cut-off #{k + 1} must be [value, points], got {pair!r}", here)
        cut.append((float(pair[0]), float(pair[1])))
        if not 0 <= cut[-1][1] <= 100:
            raise SchemeError(
                f"{where}: cut-off #{k + 1} gives {pair[1]:g} points; points lie in 0..100", here
            )
    rising = cut[1][0] > cut[0][0]
    for k in range(1, len(cut)):
        (v0, p0), (v1, p1) = cut[k - 1], cut[k]
        if (v1 > v0) != rising or v1 == v0:
            raise SchemeError(
                f"{where}: cut-offs out of order: value {v1:g} (#{k + 1}) after {v0:g}; list the values from "
                "the worst to the best, all rising or all falling", (*at, "curve", k)
            )  # fmt: skip
        if p1 < p0:
            raise SchemeError(
                f"{where}: cut-offs out of order: {p1:g} points (#{k + 1}) after {p0:g}; points must not fall "
                "toward the better values", (*at, "curve", k)
            )  # fmt: skip
    return tuple(cut)


def _indicator(node: Any, i: int) -> Indicator:
    at: tuple[str | int, ...] = ("indicators", i)
    if not isinstance(node, dict):
        raise SchemeError(f"indicator #{i + 1}: expected a mapping with name, metric, weight, zero, full", at)
    name = str(node.get("name") or node.get("metric") or f"#{i + 1}")
    where = f"indicator {name!r}"
    metric = node.get("metric")
    if metric not in CATALOGUE:
        near = difflib.get_close_matches(str(metric), CATALOGUE, n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        raise SchemeError(
            f"{where}: unknown metric {metric!r}{hint}; known metrics: {', '.join(sorted(CATALOGUE))}",
            (*at, "metric"),
        )
    weight = _num(node, "weight", where, at=at)
    if weight <= 0:
        raise SchemeError(
            f"{where}: weight must be positive, got {weight:g}; remove the indicator instead", (*at, "weight")
        )
    curve = _curve(node, where, at)
    if curve:
        zero, full = curve[0][0], curve[-1][0]
    else:
        zero, full = _num(node, "zero", where, at=at), _num(node, "full", where, at=at)
    if zero == full:
        raise SchemeError(f"{where}: 'zero' and 'full' are both {zero:g}; they must differ", at)
    names = {lang: str(node.get(lang) or "") for lang in ("zh", "en")}
    return Indicator(name, str(metric), weight, zero, full, curve, names["zh"], names["en"])


def _incidents(raw: Any, indicators: tuple[Indicator, ...]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``incidents: {entrapment: [entrapments]}``: which indicators each kind of incident feeds."""
    if not isinstance(raw, dict):
        raise SchemeError("'incidents' must map an incident code to the indicators it feeds", ("incidents",))
    codes = {c for s in SCHEMAS.values() for c in (*s.fault_codes, *s.alarm_codes)}
    names = [i.name for i in indicators]
    out = []
    for code, feeds in raw.items():
        at = ("incidents", str(code))
        if code not in codes:
            raise SchemeError(f"incidents: unknown incident code {code!r}; codes are {sorted(codes)}", at)
        if not isinstance(feeds, list) or any(f not in names for f in feeds):
            raise SchemeError(
                f"incidents.{code}: expected a list of indicator names from {names}, got {feeds!r}", at
            )
        out.append((str(code), tuple(str(f) for f in feeds)))
    return tuple(out)


def _group_weights(
    raw: Any, indicators: tuple[Indicator, ...], groups: list[str]
) -> tuple[tuple[str, tuple[tuple[str, float], ...]], ...]:
    if not isinstance(raw, dict):
        raise SchemeError("'group_weights' must map a group to {indicator name: weight}", ("group_weights",))
    names = {i.name: i.weight for i in indicators}
    out = []
    for group, weights in raw.items():
        where = f"group_weights.{group}"
        at = ("group_weights", str(group))
        if group not in groups:
            raise SchemeError(f"{where}: unknown group {group!r}; groups are {groups}", at)
        if not isinstance(weights, dict) or not weights:
            raise SchemeError(f"{where}: expected a mapping of indicator name to weight", at)
        for name in weights:
            if name not in names:
                raise SchemeError(
                    f"{where}: unknown indicator {name!r}; indicators are {sorted(names)}", (*at, name)
                )
            if _num(weights, name, where, at=at) < 0:
                raise SchemeError(f"{where}: weight of {name!r} must be >= 0", (*at, name))
        merged = names | {k: float(v) for k, v in weights.items()}
        total = sum(merged.values())
        if abs(total - WEIGHT_TOTAL) > _TOL:
            raise SchemeError(f"{where}: weights add up to {total:g}, not {WEIGHT_TOTAL:g} (unlisted indicators keep "
                              "their default weight)", at)  # fmt: skip
        out.append((str(group), tuple((k, float(v)) for k, v in weights.items())))
    return tuple(out)


def parse_scheme(data: Any, source: str = "scheme", text: str | None = None) -> Scheme:
    """``text``: the file's YAML, so that a refusal names the line ("default.yaml, line 12: ...")."""
    try:
        return _parse(data)
    except SchemeError as exc:
        line = line_of(node_lines(text), exc.where) if text is not None else None
        where = f"{source}, line {line}" if line else source
        raise SchemeError(f"{where}: {exc}", exc.where) from None


def _parse(data: Any) -> Scheme:
    if not isinstance(data, dict):
        raise SchemeError("expected a mapping with scheme, version, indicators, colours, inspections, groups")
    for key in ("scheme", "version", "indicators", "colours", "inspections", "groups"):
        if key not in data:
            raise SchemeError(f"missing '{key}'")
    raw = data["indicators"]
    if not isinstance(raw, list) or not raw:
        raise SchemeError("'indicators' must be a non-empty list", ("indicators",))
    indicators = tuple(_indicator(node, i) for i, node in enumerate(raw))
    names = [ind.name for ind in indicators]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise SchemeError(
            f"indicator names must be unique; repeated: {dup}", ("indicators", names.index(dup[0]))
        )
    total = sum(ind.weight for ind in indicators)
    if abs(total - WEIGHT_TOTAL) > _TOL:
        listed = " + ".join(f"{ind.name} {ind.weight:g}" for ind in indicators)
        raise SchemeError(f"weights add up to {total:g}, not {WEIGHT_TOTAL:g} ({listed})", ("indicators",))

    colours = data["colours"]
    if not isinstance(colours, dict) or set(colours) != {"green", "blue", "yellow"}:
        raise SchemeError(
            "'colours' must give exactly green, blue and yellow thresholds (below yellow is red)",
            ("colours",),
        )
    th = [(c, _num(colours, c, "colours")) for c in ("green", "blue", "yellow")]
    if not (100 >= th[0][1] > th[1][1] > th[2][1] > 0):
        raise SchemeError(
            f"colour thresholds must satisfy 100 >= green > blue > yellow > 0, got "
            f"green {th[0][1]:g}, blue {th[1][1]:g}, yellow {th[2][1]:g}",
            ("colours",),
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
    incidents = _incidents(data.get("incidents") or {}, indicators)

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
        raise SchemeError("settings: response and resolution targets must be positive", ("settings",))
    cred = _num(settings, "credibility_asset_months", "settings", 0, at=("settings",))
    complete = _num(settings, "complete_coverage", "settings", 0, at=("settings",))
    if cred < 0 or not 0 <= complete <= 1:
        raise SchemeError(
            "settings: credibility_asset_months must be >= 0 and complete_coverage within [0, 1]",
            ("settings",),
        )
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
        incidents=incidents,
        credibility_asset_months=cred,
        complete_coverage=complete,
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
    scheme = parse_scheme(data, str(path), text)
    digest = hashlib.sha256(text.encode()).hexdigest()
    return Scheme(**{**scheme.__dict__, "sha256": digest})
