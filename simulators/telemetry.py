"""What each kind of device reports, given its hidden health: vectorised over the steps of one run.

Every function takes a `Frame` (the steps' end times, health and up/down state at each reading, the use
intensity and outdoor temperature) and returns `Output`: the telemetry columns in contract units, which steps
report at all, the alarm conditions to track (alarm code -> bool per step) and one-off alarms
(alarm + clear pairs). Degradation shows as ``d = 1 − h`` terms plus noise and per-asset offsets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from facility.contract import AssetKind, EventType
from simulators.usage import local_day

Array = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]
RawEvent = tuple[int, EventType, str, str]  # (ts_ms, type, code, detail)

MS_PER_H = 3_600_000
# alarm thresholds (raise, clear): hysteresis so that noise does not make alarms chatter
OVERHEAT_C = (40.0, 37.0)  # elevator machine room
LOW_PRESSURE_SHARE = (0.75, 0.82)  # of the pump's set point
OVERFLOW_PCT = (95.0, 80.0)
HOT_BIN_C = (60.0, 45.0)
EMPTYING_HOUR = 6.5  # local time of the daily bin emptying round
EMPTY_MISSED_P = 0.05


@dataclass(frozen=True)
class Traits:
    """Per-asset constants drawn once from the asset's generator: individual variation between units."""

    scale: dict[str, float]  # multiplicative offsets ~ N(1, 0.12) on baseline levels
    size: float  # building size factor (floors / 18)
    detectors_total: int
    setpoint_mpa: float
    isolated: int
    installed_ms: int


@dataclass
class Frame:
    ends: IntArray  # reading times (ms)
    dt_s: float
    health: Array  # at each reading
    up: BoolArray  # up at each reading
    down_code: list[str | None]  # fault code while down, per step
    u: Array  # use intensity during the step
    outdoor: Array  # outdoor temperature at the reading


@dataclass
class Output:
    values: dict[str, npt.NDArray[Any]]
    emit: BoolArray
    #: per alarm code and step: 1 raise (or keep raised), 0 clear, -1 no change (between the thresholds)
    conditions: dict[str, npt.NDArray[np.int8]] = field(default_factory=dict)
    events: list[RawEvent] = field(default_factory=list)


def _r(x: Array, digits: int = 2) -> Array:
    return np.round(x, digits)


def _lognoise(rng: np.random.Generator, sigma: float, n: int) -> Array:
    return np.exp(sigma * rng.standard_normal(n) - 0.5 * sigma**2)


def _hyst(raise_: BoolArray, clear: BoolArray) -> npt.NDArray[np.int8]:
    return np.where(raise_, 1, np.where(clear, 0, -1)).astype(np.int8)


def _codes(frame: Frame, *codes: str) -> BoolArray:
    return np.array([c in codes for c in frame.down_code], dtype=bool)


def elevator(f: Frame, t: Traits, rng: np.random.Generator, carry: dict[str, float]) -> Output:
    n, dt_h, d, up = len(f.ends), f.dt_s / 3600.0, 1.0 - f.health, f.up
    trips = np.where(up, rng.poisson(f.u * 60.0 * t.size * dt_h), 0)
    doors = np.where(up, rng.poisson(trips * 2.0 * (1.0 + 0.8 * d**2)), 0)
    current = 18.0 * t.scale["current"] * t.size**0.3 + 9.0 * d**1.5 + 2.0 * f.u + rng.normal(0, 0.8, n)
    vib = (0.7 * t.scale["vibration"] + 2.8 * d**2 + 0.15 * f.u) * _lognoise(rng, 0.15, n)
    level = 2.5 * t.scale["leveling"] + 12.0 * d**2.5 + np.abs(rng.normal(0, 0.8, n))
    car = 0.55 * f.outdoor + 9.0 + rng.normal(0, 0.8, n)
    room = 0.7 * f.outdoor + 11.0 + np.where(up, 3.0 * f.u + 7.0 * d**2, 0.0) + rng.normal(0, 1.0, n)
    values: dict[str, npt.NDArray[Any]] = {
        "trips": trips.astype(np.int64),
        "door_cycles": doors.astype(np.int64),
        "motor_current_a": _r(np.where(up, np.clip(current, 0.5, 500), 0.0)),
        "vibration_mm_s": _r(np.where(up, np.clip(vib, 0.01, 100), 0.05), 3),
        "leveling_error_mm": _r(np.where(up, np.clip(level, 0, 200), 0.0)),
        "car_temp_c": _r(np.clip(car, -40, 80), 1),
        "machine_room_temp_c": _r(np.clip(room, -40, 90), 1),
    }
    room_c = values["machine_room_temp_c"]
    overheat = _hyst(room_c >= OVERHEAT_C[0], room_c < OVERHEAT_C[1])
    return Output(values, np.ones(n, dtype=bool), {"overheat": overheat})


def fire_alarm(f: Frame, t: Traits, rng: np.random.Generator, carry: dict[str, float]) -> Output:
    n, dt_h, d = len(f.ends), f.dt_s / 3600.0, 1.0 - f.health
    total = t.detectors_total
    faulty = rng.poisson(total * (0.0005 + 0.025 * d**2))
    faulty = np.where(_codes(f, "detector_fault"), faulty + max(3, total // 20), faulty)
    loop = 35.0 * t.scale["loop"] + 40.0 * d**2 + rng.normal(0, 1.5, n)
    loop = np.where(_codes(f, "loop_fault"), rng.uniform(2000, 9000, n), loop)
    battery = 27.3 - 2.2 * d**1.5 + rng.normal(0, 0.08, n)
    power = _codes(f, "power_fault")
    battery = np.where(power, rng.uniform(21.0, 23.0, n), battery)
    values: dict[str, npt.NDArray[Any]] = {
        "detectors_total": np.full(n, total, dtype=np.int64),
        "detectors_faulty": np.minimum(faulty, total).astype(np.int64),
        "detectors_isolated": np.full(n, t.isolated, dtype=np.int64),
        "loop_resistance_ohm": _r(np.clip(loop, 0, 10_000), 1),
        "battery_v": _r(np.clip(battery, 0, 60)),
        "mains_ok": np.where(power, 0, 1).astype(np.int64),
    }
    # false alarms (dust, steam, ageing detectors): Poisson, more often as the detectors degrade
    rate = (0.3 + 2.5 * d**2) / (90 * 24.0)
    events: list[RawEvent] = []
    emit = ~_codes(f, "offline")  # an offline panel sends nothing (and raises no alarm)
    for j in np.flatnonzero((rng.random(n) < 1.0 - np.exp(-rate * dt_h)) & emit):
        start = int(f.ends[j] - f.dt_s * 1000 * rng.random())
        clear = min(int(start + rng.uniform(3, 20) * 60_000), int(f.ends[j]))
        events += [
            (start, EventType.ALARM, "fire_alarm", ""),
            (clear, EventType.ALARM_CLEAR, "fire_alarm", ""),
        ]
    return Output(values, emit, {}, events)


def water_pump(f: Frame, t: Traits, rng: np.random.Generator, carry: dict[str, float]) -> Output:
    n, dt_h, d, up = len(f.ends), f.dt_s / 3600.0, 1.0 - f.health, f.up
    running = up & (f.u + rng.normal(0, 0.05, n) > 0.15)
    sp = t.setpoint_mpa
    pressure = np.where(
        running,
        sp * (1.0 - 0.3 * d**2) - 0.03 * f.u + rng.normal(0, 0.008, n),
        sp * (0.95 - 0.08 * d**2) + rng.normal(0, 0.01, n),
    )
    lost = _codes(f, "pressure_loss", "dry_run")
    pressure = np.where(up, pressure, np.where(lost, rng.uniform(0.02, 0.1, n), rng.uniform(0.12, 0.2, n)))
    flow = np.where(
        running, np.clip(f.u * 25.0 * t.size * t.scale["flow"] + rng.normal(0, 0.5, n), 0, 500), 0.0
    )
    current = np.where(running, (8.0 + 14.0 * f.u) * t.scale["current"] * (1 + 0.15 * d**2), 0.0)
    vib = np.where(running, (1.2 * t.scale["vibration"] + 4.5 * d**2) * _lognoise(rng, 0.15, n), 0.1)
    room = 0.5 * f.outdoor + 12.0
    bearing = room + np.where(running, 12.0 + 8.0 * f.u + 28.0 * d**2, 0.0) + rng.normal(0, 0.8, n)
    bearing = np.where(_codes(f, "bearing_overheat"), room + rng.uniform(75, 95, n), bearing)
    hours = carry.get("run_hours", 0.0) + np.cumsum(running * dt_h)
    carry["run_hours"] = float(hours[-1]) if n else carry.get("run_hours", 0.0)
    starts = np.where(up, rng.poisson(dt_h * 0.5 * (1.0 + 3.0 * d)), 0)
    values: dict[str, npt.NDArray[Any]] = {
        "outlet_pressure_mpa": _r(np.clip(pressure, 0, 4), 3),
        "flow_m3h": _r(flow),
        "motor_current_a": _r(np.clip(current + np.where(running, rng.normal(0, 0.4, n), 0), 0, 500)),
        "vibration_mm_s": _r(np.clip(vib, 0, 100), 3),
        "bearing_temp_c": _r(np.clip(bearing, -20, 150), 1),
        "run_hours": _r(hours, 2),
        "starts": starts.astype(np.int64),
        "running": running.astype(np.int64),
    }
    p = values["outlet_pressure_mpa"]
    low = _hyst(p < LOW_PRESSURE_SHARE[0] * sp, p > LOW_PRESSURE_SHARE[1] * sp)
    return Output(values, np.ones(n, dtype=bool), {"low_pressure": low})


def smart_bin(f: Frame, t: Traits, rng: np.random.Generator, carry: dict[str, float]) -> Output:
    n, dt_h, d = len(f.ends), f.dt_s / 3600.0, 1.0 - f.health
    lid_ok = ~_codes(f, "lid_fault")
    lids = np.where(lid_ok, rng.poisson(f.u * 14.0 * dt_h), 0)
    # fill grows with use and is emptied by the daily round (sometimes missed -> overflow)
    grow = f.u * dt_h * carry["fill_rate"] * _lognoise(rng, 0.3, n)
    shifted = f.ends - int(EMPTYING_HOUR * MS_PER_H)
    day_end = local_day(shifted)
    day_start = local_day(shifted - int(f.dt_s * 1000))
    emptied = (day_end > day_start) & (rng.random(n) >= EMPTY_MISSED_P)
    group = np.cumsum(emptied)
    total = np.cumsum(grow)
    base = np.zeros(n)
    if emptied.any():
        idx = np.flatnonzero(emptied)
        # at an emptying step the bin restarts from that step's growth
        starts_at = np.concatenate([[0.0], total[idx] - grow[idx]])
        base = starts_at[group]
    fill = np.where(group == 0, carry.get("fill", 0.0) + total, total - base)
    fill = np.minimum(fill, 100.0)
    carry["fill"] = float(fill[-1]) if n else carry.get("fill", 0.0)
    hot = rng.random(n) < 1.0 - np.exp(-dt_h / (200 * 24.0))
    temp = f.outdoor + 2.0 + 0.03 * fill + rng.normal(0, 0.7, n)
    temp = np.where(hot, rng.uniform(62, 95, n), temp)
    days = (f.ends - t.installed_ms) / (24 * MS_PER_H)
    battery = 100.0 - np.mod(days * 0.45 * t.scale["battery"], 80.0)
    flaky = rng.random(n) < 0.003 + 0.08 * d**3
    sensor_ok = ~(flaky | _codes(f, "sensor_fault"))
    values: dict[str, npt.NDArray[Any]] = {
        "fill_pct": _r(np.clip(fill, 0, 100), 1),
        "temperature_c": _r(np.clip(temp, -40, 150), 1),
        "lid_cycles": lids.astype(np.int64),
        "battery_pct": _r(np.clip(battery, 0, 100), 1),
        "sensor_ok": sensor_ok.astype(np.int64),
    }
    fill_pct, temp_c = values["fill_pct"], values["temperature_c"]
    conditions = {
        "overflow": _hyst(fill_pct >= OVERFLOW_PCT[0], fill_pct < OVERFLOW_PCT[1]),
        "high_temperature": _hyst(temp_c >= HOT_BIN_C[0], temp_c < HOT_BIN_C[1]),
    }
    return Output(values, np.ones(n, dtype=bool), conditions)


TelemetryFn = Callable[[Frame, Traits, np.random.Generator, dict[str, float]], Output]
TELEMETRY: dict[AssetKind, TelemetryFn] = {
    AssetKind.ELEVATOR: elevator,
    AssetKind.FIRE_ALARM: fire_alarm,
    AssetKind.WATER_PUMP: water_pump,
    AssetKind.SMART_BIN: smart_bin,
}
