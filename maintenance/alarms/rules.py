"""Alarm rules: types, defaults for the four kinds (DOMAIN.md, units from the contract) and validation.

A rule has a ``key`` unique within its kind. Rules stored in the database override the defaults by key, and
their scope narrows: kind-wide, then one estate, then one asset (the narrowest wins, whole rule for whole rule).

Types and their ``params``:

- ``threshold``: ``field``, ``op`` (``<`` or ``>``), ``value``, ``for_s`` (the condition must hold this long),
  ``clear`` (hysteresis: a ``<`` alarm clears above it, a ``>`` alarm below it), optional ``unit``
- ``rate``: ``field``, ``op``, ``per_min`` (change per minute against the oldest reading within ``window_s``,
  default 300 s, so sampling noise does not trip it), optional ``for_s`` (it must keep changing this long),
  ``min_value`` (only at or beyond this level), ``clear_per_min`` (hysteresis, default half of ``per_min``),
  ``unit``
- ``offline``: ``minutes`` without any message from the asset
- ``event``: ``codes`` — the device's own fault/alarm events raise it, their recovery/alarm_clear clears it
- ``repetition``: ``code``, ``count``, ``window_s`` — ``count`` events of ``code`` within ``window_s`` raise it

``order`` (a priority, or None) says whether raising the rule opens a corrective order (linked both ways).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from facility.contract import SCHEMAS, AssetKind
from maintenance.domain import Priority


class Severity(StrEnum):
    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"
    WARNING = "warning"


SEVERITY_RANK = {Severity.CRITICAL: 0, Severity.MAJOR: 1, Severity.MINOR: 2, Severity.WARNING: 3}


class RuleType(StrEnum):
    THRESHOLD = "threshold"
    RATE = "rate"
    OFFLINE = "offline"
    EVENT = "event"
    REPETITION = "repetition"


class RuleError(ValueError):
    """A rule that cannot be used; ``field`` names the offending input (the API's 422 ``loc``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


_PARAMS: dict[RuleType, tuple[set[str], set[str]]] = {  # (required, optional)
    RuleType.THRESHOLD: ({"field", "op", "value"}, {"for_s", "clear", "unit"}),
    RuleType.RATE: ({"field", "op", "per_min"}, {"unit", "window_s", "for_s", "min_value", "clear_per_min"}),
    RuleType.OFFLINE: ({"minutes"}, set()),
    RuleType.EVENT: ({"codes"}, set()),
    RuleType.REPETITION: ({"code", "count", "window_s"}, set()),
}


@dataclass(frozen=True)
class Rule:
    key: str
    kind: AssetKind
    type: RuleType
    severity: Severity
    params: Mapping[str, Any] = field(default_factory=dict)
    order: Priority | None = None
    enabled: bool = True
    #: where the rule comes from: "default", or the stored row's scope "kind", "estate:<id>", "asset:<id>"
    source: str = "default"

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", validate_params(self.kind, self.type, dict(self.params)))

    @property
    def codes(self) -> tuple[str, ...]:
        if self.type is RuleType.EVENT:
            return tuple(self.params["codes"])
        if self.type is RuleType.REPETITION:
            return (self.params["code"],)
        return ()


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RuleError(f"params.{name}", f"{name} must be a number, got {value!r}")
    return float(value)


def _check_field(kind: AssetKind, params: dict[str, Any], per_min: bool) -> None:
    schema = SCHEMAS[kind]
    name = params["field"]
    spec = schema.by_name.get(name)
    if spec is None:
        raise RuleError(
            "params.field", f"{kind.value} has no field {name!r}: expected one of {sorted(schema.by_name)}"
        )
    if "unit" in params and params["unit"] != spec.unit:
        want = f"{spec.unit}/min" if per_min else spec.unit
        if not (per_min and params["unit"] == want):
            raise RuleError(
                "params.unit", f"{name} is measured in {spec.unit!r} (contract), not {params['unit']!r}"
            )
    if params["op"] not in ("<", ">"):
        raise RuleError("params.op", f"op must be '<' or '>', got {params['op']!r}")
    keys = ("per_min",) if per_min else ("value", "clear")
    for key in keys:
        if key not in params:
            continue
        v = _number(key, params[key])
        lo, hi = (0.0, spec.maximum - spec.minimum) if per_min else (spec.minimum, spec.maximum)
        if not lo <= v <= hi or (per_min and v == 0):
            raise RuleError(
                f"params.{key}",
                f"{key}={v:g} is outside {name}'s range [{lo:g}, {hi:g}] {spec.unit}"
                + (" per minute (and must be above 0)" if per_min else ""),
            )
        params[key] = v


def validate_params(kind: AssetKind, rtype: RuleType, params: dict[str, Any]) -> dict[str, Any]:
    """The params with numbers normalised, or RuleError naming the first bad input."""
    required, optional = _PARAMS[rtype]
    unknown = sorted(set(params) - required - optional)
    if unknown:
        raise RuleError(
            f"params.{unknown[0]}",
            f"unknown field {unknown[0]!r} for a {rtype.value} rule: expected {sorted(required | optional)}",
        )
    missing = sorted(required - set(params))
    if missing:
        raise RuleError(f"params.{missing[0]}", f"a {rtype.value} rule needs {missing[0]!r}")
    schema = SCHEMAS[kind]
    if rtype is RuleType.THRESHOLD:
        _check_field(kind, params, per_min=False)
        params.setdefault("for_s", 0.0)
        params["for_s"] = _number("for_s", params["for_s"])
        if not 0 <= params["for_s"] <= 7 * 86400:
            raise RuleError("params.for_s", "for_s must be between 0 and 604800 seconds")
        params.setdefault("clear", params["value"])
        below = params["op"] == "<"
        if (params["clear"] < params["value"]) if below else (params["clear"] > params["value"]):
            raise RuleError(
                "params.clear",
                f"clear={params['clear']:g} must be {'at or above' if below else 'at or below'} "
                f"value={params['value']:g} (hysteresis)",
            )
    elif rtype is RuleType.RATE:
        _check_field(kind, params, per_min=True)
        params["window_s"] = _number("window_s", params.get("window_s", 300.0))
        if not 60 <= params["window_s"] <= 86400:
            raise RuleError("params.window_s", "window_s must be between 60 and 86400 seconds")
        params["for_s"] = _number("for_s", params.get("for_s", 0.0))
        if not 0 <= params["for_s"] <= 86400:
            raise RuleError("params.for_s", "for_s must be between 0 and 86400 seconds")
        if "min_value" in params:
            spec = schema.by_name[params["field"]]
            params["min_value"] = _number("min_value", params["min_value"])
            if not spec.minimum <= params["min_value"] <= spec.maximum:
                raise RuleError(
                    "params.min_value",
                    f"min_value={params['min_value']:g} is outside {params['field']}'s range "
                    f"[{spec.minimum:g}, {spec.maximum:g}] {spec.unit}",
                )
        if "clear_per_min" in params:
            params["clear_per_min"] = _number("clear_per_min", params["clear_per_min"])
            if not 0 <= params["clear_per_min"] <= params["per_min"]:
                raise RuleError(
                    "params.clear_per_min",
                    f"clear_per_min={params['clear_per_min']:g} must be from 0 to per_min={params['per_min']:g}"
                    " (hysteresis)",
                )
    elif rtype is RuleType.OFFLINE:
        minutes = _number("minutes", params["minutes"])
        if not 1 <= minutes <= 7 * 24 * 60:
            raise RuleError("params.minutes", f"minutes must be between 1 and 10080, got {minutes:g}")
        params["minutes"] = minutes
    elif rtype is RuleType.EVENT:
        codes = params["codes"]
        allowed = set(schema.fault_codes) | set(schema.alarm_codes)
        if isinstance(codes, str) or not isinstance(codes, list | tuple) or not codes:
            raise RuleError("params.codes", "codes must be a non-empty list of event codes")
        bad = [c for c in codes if c not in allowed]
        if bad:
            raise RuleError(
                "params.codes", f"{kind.value} has no event code {bad[0]!r}: expected {sorted(allowed)}"
            )
        params["codes"] = list(codes)
    else:
        allowed = set(schema.fault_codes) | set(schema.alarm_codes)
        if params["code"] not in allowed:
            raise RuleError(
                "params.code",
                f"{kind.value} has no event code {params['code']!r}: expected {sorted(allowed)}",
            )
        count = params["count"]
        if isinstance(count, bool) or not isinstance(count, int) or not 2 <= count <= 1000:
            raise RuleError("params.count", f"count must be a whole number from 2 to 1000, got {count!r}")
        window = _number("window_s", params["window_s"])
        if not 60 <= window <= 90 * 86400:
            raise RuleError("params.window_s", "window_s must be between 60 s and 90 days")
        params["window_s"] = window
    return params


def _r(
    key: str, kind: AssetKind, t: RuleType, sev: Severity, order: Priority | None = None, **p: Any
) -> Rule:
    return Rule(key, kind, t, sev, p, order)


E, FA, WP, SB = AssetKind.ELEVATOR, AssetKind.FIRE_ALARM, AssetKind.WATER_PUMP, AssetKind.SMART_BIN
T, RATE, OFF, EV, REP = (
    RuleType.THRESHOLD,
    RuleType.RATE,
    RuleType.OFFLINE,
    RuleType.EVENT,
    RuleType.REPETITION,
)
CRIT, MAJ, MIN, WARN = Severity.CRITICAL, Severity.MAJOR, Severity.MINOR, Severity.WARNING
#: the defaults (DOMAIN.md): entrapment and fire-panel faults are P1 at once; low pressure 3× in 24 h opens an order
DEFAULT_RULES: tuple[Rule, ...] = (
    _r("entrapment", E, EV, CRIT, Priority.P1, codes=["entrapment"]),
    _r("lift_fault", E, EV, MAJ, codes=["door_fault", "drive_fault", "leveling_fault", "out_of_service"]),
    _r("lift_overheat", E, EV, MIN, codes=["overheat"]),
    _r("leveling_error", E, T, MIN, field="leveling_error_mm", op=">", value=10, for_s=600, clear=8),
    _r("lift_offline", E, OFF, MAJ, minutes=15),
    _r("fire_alarm", FA, EV, CRIT, codes=["fire_alarm"]),
    _r(
        "panel_fault",
        FA,
        EV,
        CRIT,
        Priority.P1,
        codes=["loop_fault", "detector_fault", "power_fault", "offline"],
    ),
    _r("battery_low", FA, T, MAJ, field="battery_v", op="<", value=21.6, for_s=600, clear=23.0),
    # a faulty detector makes the panel not intact (DOMAIN.md); the panel's own detector_fault event is the
    # immediate P1 path, the count must hold 5 min so one reading's blip is not an alarm; it clears back at 0
    _r("detectors_faulty", FA, T, MAJ, field="detectors_faulty", op=">", value=0, for_s=300, clear=0),
    _r("panel_offline", FA, OFF, CRIT, minutes=10),
    _r("low_pressure", WP, EV, MAJ, codes=["low_pressure"]),
    _r("low_pressure_repeated", WP, REP, MAJ, Priority.P2, code="low_pressure", count=3, window_s=86400),
    _r(
        "outlet_pressure_low",
        WP,
        T,
        MAJ,
        field="outlet_pressure_mpa",
        op="<",
        value=0.25,
        for_s=300,
        clear=0.28,
    ),
    _r("pump_vibration", WP, T, MAJ, field="vibration_mm_s", op=">", value=4.5, for_s=600, clear=2.8),
    _r("bearing_hot", WP, T, MAJ, field="bearing_temp_c", op=">", value=80, for_s=300, clear=70),
    _r("pump_fault", WP, EV, MAJ, codes=["dry_run", "pressure_loss", "motor_fault", "bearing_overheat"]),
    _r("pump_offline", WP, OFF, MAJ, minutes=15),
    _r("bin_overflow", SB, EV, MIN, codes=["overflow"]),
    _r("bin_hot", SB, EV, MAJ, codes=["high_temperature"]),
    _r("bin_full", SB, T, WARN, field="fill_pct", op=">", value=90, clear=80),
    # fire risk (DOMAIN.md): a rise above 5 °C/min kept up for a minute; it clears below 2.5 °C/min (hysteresis)
    _r("bin_heating", SB, RATE, MAJ, field="temperature_c", op=">", per_min=5.0, for_s=60),
    _r("bin_fault", SB, EV, MIN, codes=["sensor_fault", "lid_fault"]),
    _r("bin_offline", SB, OFF, WARN, minutes=60),
)
del E, FA, WP, SB, T, RATE, OFF, EV, REP, CRIT, MAJ, MIN, WARN


def defaults_for(kind: AssetKind) -> dict[str, Rule]:
    return {r.key: r for r in DEFAULT_RULES if r.kind is kind}


def effective(kind: AssetKind, estate: str, asset: str, stored: list[Rule]) -> list[Rule]:
    """The rules in force for one asset: defaults, then stored kind, estate and asset rules by key."""
    rules = defaults_for(kind)
    rank = {"kind": 0, f"estate:{estate}": 1, f"asset:{asset}": 2}
    for r in sorted((r for r in stored if r.kind is kind and r.source in rank), key=lambda r: rank[r.source]):
        rules[r.key] = r
    return [r for r in rules.values() if r.enabled]
