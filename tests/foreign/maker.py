"""A "foreign maker": device fleets written from docs/contract.md alone, without ``simulators/``.

The project's simulators and its models were written by the same people; a check on their output can be
fooled by shared assumptions. This generator makes different ones, deterministically from a seed:

- each unit has a hidden degradation level ``D`` — a **gamma process** (elevators, pumps), a **reflected random
  walk with drift** (fire-alarm panels) or **usage-driven wear** (smart bins: lid openings × a per-unit
  factor) — with a wear rate that differs per unit;
- a failure comes when ``D`` crosses a random threshold ``η·E^(1/k)``, ``E ~ Exp(1)``: a Weibull cumulative
  hazard ``(D/η)^k`` in the *degradation level*, not in time — plus random shocks no reading foretells;
- a failure sends a ``fault`` event (a code of the kind), the unit is down for hours to days (silent, or
  reporting idle values), then a ``recovery`` with the same code; the repair is imperfect (``D`` falls to
  a random fraction of itself);
- readings: the kind's fields in the contract's units and ranges, each unit with its own baselines and
  noise; some fields follow ``D``, others (temperatures, fill, trips) do not; some units leave optional
  fields out; reports come at irregular times (a unit reports in a random share of hours, at a random
  second), with outages of days and a ``seq`` counter that restarts after an outage (a reboot).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from facility.contract import SCHEMAS, AssetKind, AssetRef, EventType

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


@dataclass(frozen=True)
class Unit:
    ref: AssetRef
    #: share of hours with a report, and how fast the unit wears (D per day, median)
    report_share: float
    wear: float


@dataclass
class History:
    """What a fleet sent: per asset, readings ``(ts_ms, seq, values)`` and events ``(ts_ms, seq, type, code)``."""

    units: list[Unit]
    readings: dict[str, list[tuple[int, int, dict[str, float]]]] = field(default_factory=dict)
    events: dict[str, list[tuple[int, int, EventType, str]]] = field(default_factory=dict)

    def failures(self, kind: AssetKind) -> int:
        return sum(
            1
            for u in self.units
            if u.ref.kind is kind
            for e in self.events[u.ref.asset]
            if e[2] is EventType.FAULT
        )


def _clip(kind: AssetKind, name: str, x: np.ndarray) -> np.ndarray:
    spec = SCHEMAS[kind].by_name[name]
    y = np.clip(x, spec.minimum, spec.maximum)
    return np.rint(y) if spec.integer else np.round(y, 3)


def _values(
    kind: AssetKind, d: np.ndarray, hour: np.ndarray, down: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Readings for one unit at the given hours (``d`` its degradation there): {field: array}."""
    n = d.size
    day = 2 * np.pi * (hour % 24) / 24
    ambient = 18 + 6 * np.sin(day - 2) + rng.normal(0, 1.5, n)
    up = ~down
    if kind is AssetKind.ELEVATOR:
        busy = np.where((hour % 24 >= 7) & (hour % 24 <= 22), rng.uniform(20, 60), rng.uniform(1, 8))
        trips = rng.poisson(busy * up)
        base_i, base_v, base_l = rng.uniform(12, 30), rng.uniform(0.5, 1.4), rng.uniform(1.5, 6)
        return {
            "trips": trips,
            "door_cycles": rng.poisson(2.1 * trips + 0.5),
            "motor_current_a": up * (base_i + 2.5 * d + 0.05 * trips + rng.normal(0, 1.5, n)),
            "vibration_mm_s": up * base_v * (1 + 0.9 * d) * rng.lognormal(0, 0.25, n),
            "leveling_error_mm": up * np.abs(base_l + 5 * d**2 + rng.normal(0, 2.0, n)),
            "car_temp_c": ambient + rng.normal(2, 1, n),
            "machine_room_temp_c": ambient + rng.uniform(3, 9) + rng.normal(0, 1, n),
        }
    if kind is AssetKind.FIRE_ALARM:
        total = int(rng.integers(40, 400))
        return {
            "detectors_total": np.full(n, total),
            "detectors_faulty": rng.poisson(0.3 + 2.5 * d**2),
            "detectors_isolated": np.full(n, int(rng.integers(0, 4))),
            "loop_resistance_ohm": rng.uniform(20, 90) * (1 + 0.3 * d) + rng.normal(0, 3, n),
            "battery_v": 27.3 - 1.4 * d + rng.normal(0, 0.25, n),
            "mains_ok": (rng.random(n) > 0.01).astype(float),
        }
    if kind is AssetKind.WATER_PUMP:
        running = up & (rng.random(n) < 0.55)
        base_p = rng.uniform(0.3, 0.5)
        return {
            "outlet_pressure_mpa": np.where(
                running, base_p + rng.normal(0, 0.03, n), rng.uniform(0, 0.05, n)
            ),
            "flow_m3h": running * rng.uniform(2, 15, n),
            "motor_current_a": running * (rng.uniform(6, 20) + 0.8 * d + rng.normal(0, 0.6, n)),
            "vibration_mm_s": running * (rng.uniform(0.8, 2.0) + 2.2 * d) * rng.lognormal(0, 0.2, n),
            "bearing_temp_c": ambient + running * (rng.uniform(12, 22) + 10 * d) + rng.normal(0, 1.0, n),
            "run_hours": rng.uniform(1e3, 8e4) + np.cumsum(running) * 1.0,
            "starts": rng.poisson(1.5 * up),
            "running": running.astype(float),
        }
    fill = (hour % 24) / 24 * rng.uniform(60, 110) + rng.normal(0, 3, n)
    return {
        "fill_pct": fill,
        "temperature_c": ambient + rng.normal(0, 1.5, n),
        "lid_cycles": rng.poisson(np.maximum(rng.uniform(3, 12) * (1 - 0.4 * np.minimum(d, 1.5)), 0.1) * up),
        "battery_pct": 100 - (hour % (24 * 30)) / (24 * 30) * rng.uniform(30, 70) + rng.normal(0, 1, n),
        "sensor_ok": (rng.random(n) > 0.02 + 0.15 * d**2).astype(float),
    }


#: per kind: degradation process, Weibull shape k in D, shock failures per day
_HAZARD = {
    AssetKind.ELEVATOR: ("gamma", 2.5, 1 / 700),
    AssetKind.FIRE_ALARM: ("walk", 3.0, 1 / 900),
    AssetKind.WATER_PUMP: ("gamma", 2.0, 1 / 800),
    AssetKind.SMART_BIN: ("usage", 3.5, 1 / 1000),
}


def _optional_left_out(kind: AssetKind, rng: np.random.Generator) -> set[str]:
    schema = SCHEMAS[kind]
    optional = [f.name for f in schema.fields if f.name not in schema.required]
    return {name for name in optional if rng.random() < 0.15}


def make_fleet(seed: int, per_kind: int, days: float, end_ms: int, estate: str = "fx") -> History:
    """``per_kind`` units of each kind with ``days`` of history ending at ``end_ms`` (whole hours)."""
    rng = np.random.default_rng(seed)
    hours = int(days * 24)
    start_ms = (end_ms - hours * HOUR_MS) // HOUR_MS * HOUR_MS
    units = [
        Unit(
            AssetRef(estate, f"b{i % 5}", kind, f"{estate}-{kind.value[:2]}{i:03d}"),
            float(rng.uniform(0.35, 0.95)),
            float(rng.lognormal(math.log(1 / 110), 0.5)),
        )
        for kind in AssetKind
        for i in range(per_kind)
    ]
    out = History(units)
    for u in units:
        _unit_history(u, hours, start_ms, rng, out)
    return out


def _unit_history(u: Unit, hours: int, start_ms: int, rng: np.random.Generator, out: History) -> None:
    process, k, shock = _HAZARD[u.ref.kind]
    wear_h = u.wear / 24
    usage = rng.uniform(0.5, 1.5)  # smart bins: wear per lid opening relative to the fleet

    def threshold() -> float:  # Weibull in D: P(limit > x) = exp(−(x/η)^k), η = 1
        return float(rng.exponential() ** (1 / k))

    d, limit = float(rng.uniform(0, 0.7)), threshold()
    level = np.zeros(hours)
    down = np.zeros(hours, dtype=bool)
    events: list[tuple[int, EventType, str]] = []
    h = 0
    # the unit's own late start: some units join the platform weeks after the others
    first = int(rng.integers(0, 24 * 40)) if rng.random() < 0.3 else 0
    while h < hours:
        if process == "gamma":
            d += float(rng.gamma(0.3, wear_h / 0.3))
        elif process == "walk":
            d = abs(d + wear_h + float(rng.normal(0, 0.01)))
        else:
            d += wear_h * usage * float(rng.uniform(0, 2)) * (1.0 if 7 <= h % 24 <= 22 else 0.2)
        level[h] = d
        if d >= limit or rng.random() < shock / 24:
            code = str(rng.choice(SCHEMAS[u.ref.kind].fault_codes))
            length = max(1, int(rng.lognormal(math.log(10), 0.9)))  # hours down
            events.append((start_ms + h * HOUR_MS + int(rng.integers(0, HOUR_MS)), EventType.FAULT, code))
            down[h : h + length] = True
            level[h : h + length] = d
            h += length
            if h < hours:
                events.append(
                    (start_ms + h * HOUR_MS + int(rng.integers(0, HOUR_MS // 2)), EventType.RECOVERY, code)
                )
            d, limit = d * float(rng.uniform(0.0, 0.3)), threshold()
            continue
        h += 1
    sent = rng.random(hours) < u.report_share
    sent[:first] = False
    for _ in range(int(rng.poisson(hours / 24 / 40))):  # outages: nothing sent for 1-4 days
        a = int(rng.integers(0, hours))
        sent[a : a + int(rng.integers(24, 96))] = False
    silent_when_down = rng.random() < 0.5
    if silent_when_down:
        sent &= ~down
    idx = np.flatnonzero(sent)
    values = _values(u.ref.kind, level[idx], idx.astype(float), down[idx], rng)
    left_out = _optional_left_out(u.ref.kind, rng)
    names = [n for n in values if n not in left_out]
    cols = {n: _clip(u.ref.kind, n, np.asarray(values[n], dtype=float)) for n in names}
    integer = {n for n in names if SCHEMAS[u.ref.kind].by_name[n].integer}
    ts = start_ms + idx * HOUR_MS + rng.integers(0, HOUR_MS, idx.size)
    events = [e for e in events if e[0] >= start_ms + first * HOUR_MS]
    # one seq counter for readings and events in time order; it restarts after an outage of a day (a reboot)
    merged = sorted([(int(t), 0, j) for j, t in enumerate(ts)] + [(e[0], 1, j) for j, e in enumerate(events)])
    readings, evs, seq, last = [], [], 0, None
    for t, is_event, j in merged:
        if last is not None and t - last > DAY_MS:
            seq = 0
        if is_event:
            evs.append((t, seq, events[j][1], events[j][2]))
        else:
            row = {n: (int(cols[n][j]) if n in integer else float(cols[n][j])) for n in names}
            readings.append((t, seq, row))
        seq, last = seq + 1, t
    out.readings[u.ref.asset] = readings
    out.events[u.ref.asset] = evs
