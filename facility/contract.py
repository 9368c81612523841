"""The wire contract: MQTT topics, JSON payloads and the InfluxDB schema they map to.

Simulators, ingest and docs/contract.md all use this one module. A device publishes

    facility/{estate}/{building}/{kind}/{asset}/telemetry   readings (QoS 1)
    facility/{estate}/{building}/{kind}/{asset}/event       faults, recoveries, alarms (QoS 1)
    facility/{estate}/{building}/{kind}/{asset}/status      "online" / "offline" (retained, also the LWT)

with a JSON body carrying the **device's** timestamp ``ts`` (epoch milliseconds, UTC) and a per-device
sequence number ``seq`` (one counter per device, shared by its telemetry and events, +1 per message; a
reboot restarts it at 0). Gateways that speak ThingsBoard's shape ``{"ts": ms, "values": {...}}`` (or a
list of those) are accepted on the telemetry topic too; without ``seq`` they are not loss-accounted.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson

TOPIC_ROOT = "facility"
MAX_PAYLOAD_BYTES = 64 * 1024
#: A device clock may run ahead of ours by this much before a reading is refused.
MAX_FUTURE_MS = 5 * 60 * 1000
#: Readings older than this are refused (history is bulk-loaded, not sent over MQTT).
MAX_AGE_MS = 400 * 24 * 3600 * 1000
#: ``seq`` is an unsigned 32-bit counter: 0 .. 2**32 - 1 (larger numbers are refused, never counted)
MAX_SEQ = 2**32 - 1

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class AssetKind(StrEnum):
    ELEVATOR = "elevator"
    FIRE_ALARM = "fire_alarm"
    WATER_PUMP = "water_pump"
    SMART_BIN = "smart_bin"


class Channel(StrEnum):
    TELEMETRY = "telemetry"
    EVENT = "event"
    STATUS = "status"


class EventType(StrEnum):
    FAULT = "fault"  # the asset stops being in working order
    RECOVERY = "recovery"  # the fault with the same code has cleared
    ALARM = "alarm"  # a condition to act on that is not (yet) a failure: fire alarm, overflow
    ALARM_CLEAR = "alarm_clear"


class AlarmOutcome(StrEnum):
    """What an alarm turned out to be, as confirmed by whoever checked it and reset the panel; carried as
    ``outcome`` on the alarm's ``alarm_clear`` (or, if already known, its ``alarm``) event."""

    FALSE_ALARM = "false_alarm"  # no fire: dust, steam, a faulty detector (误报)
    FIRE = "fire"  # a real fire or smoke (真实火警)
    TEST = "test"  # a planned test of the system; not an alarm


class ContractError(ValueError):
    """A message that breaks the contract. ``reason`` is a short stable code used for dead-letter counts."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class FieldSpec:
    """One telemetry value: its unit and the physically plausible range (outside it: schema violation)."""

    name: str
    unit: str
    minimum: float
    maximum: float
    integer: bool = False
    description: str = ""


@dataclass(frozen=True)
class KindSchema:
    kind: AssetKind
    fields: tuple[FieldSpec, ...]
    fault_codes: tuple[str, ...]
    alarm_codes: tuple[str, ...]
    #: fields a telemetry message must carry (the others are optional)
    required: tuple[str, ...] = ()
    by_name: dict[str, FieldSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {f.name: f for f in self.fields})

    @property
    def measurement(self) -> str:
        return self.kind.value


F = FieldSpec
SCHEMAS: dict[AssetKind, KindSchema] = {
    AssetKind.ELEVATOR: KindSchema(
        AssetKind.ELEVATOR,
        (
            F("trips", "count", 0, 10_000, True, "trips since the previous report"),
            F("door_cycles", "count", 0, 50_000, True, "door open/close cycles since the previous report"),
            F("motor_current_a", "A", 0, 500, description="mean traction motor current while running"),
            F("vibration_mm_s", "mm/s", 0, 100, description="car vibration, RMS velocity"),
            F("leveling_error_mm", "mm", 0, 200, description="mean absolute stopping (leveling) error"),
            F("car_temp_c", "°C", -40, 80, description="car temperature"),
            F("machine_room_temp_c", "°C", -40, 90, description="machine-room temperature"),
        ),
        fault_codes=("entrapment", "door_fault", "drive_fault", "leveling_fault", "out_of_service"),
        alarm_codes=("overheat",),
        required=("motor_current_a", "vibration_mm_s"),
    ),
    AssetKind.FIRE_ALARM: KindSchema(
        AssetKind.FIRE_ALARM,
        (
            F("detectors_total", "count", 0, 10_000, True, "detectors on the panel's loops"),
            F("detectors_faulty", "count", 0, 10_000, True, "detectors reporting a fault"),
            F("detectors_isolated", "count", 0, 10_000, True, "detectors isolated (silenced) by hand"),
            F("loop_resistance_ohm", "Ω", 0, 10_000, description="detector loop line resistance"),
            F("battery_v", "V", 0, 60, description="standby battery voltage (24 V system)"),
            F("mains_ok", "bool", 0, 1, True, "1 while mains power is present"),
        ),
        fault_codes=("loop_fault", "detector_fault", "power_fault", "offline"),
        alarm_codes=("fire_alarm",),
        required=("detectors_total", "detectors_faulty"),
    ),
    AssetKind.WATER_PUMP: KindSchema(
        AssetKind.WATER_PUMP,
        (
            F("outlet_pressure_mpa", "MPa", 0, 4, description="outlet (supply) pressure"),
            F("flow_m3h", "m³/h", 0, 500, description="flow rate"),
            F("motor_current_a", "A", 0, 500, description="motor current"),
            F("vibration_mm_s", "mm/s", 0, 100, description="bearing housing vibration, RMS velocity"),
            F("bearing_temp_c", "°C", -20, 150, description="bearing temperature"),
            F("run_hours", "h", 0, 1_000_000, description="cumulative running hours"),
            F("starts", "count", 0, 10_000, True, "starts since the previous report"),
            F("running", "bool", 0, 1, True, "1 while the pump runs"),
        ),
        fault_codes=("dry_run", "pressure_loss", "motor_fault", "bearing_overheat"),
        alarm_codes=("low_pressure",),
        required=("outlet_pressure_mpa",),
    ),
    AssetKind.SMART_BIN: KindSchema(
        AssetKind.SMART_BIN,
        (
            F("fill_pct", "%", 0, 100, description="fill level"),
            F("temperature_c", "°C", -40, 150, description="temperature inside the bin (fire risk)"),
            F("lid_cycles", "count", 0, 10_000, True, "lid openings since the previous report"),
            F("battery_pct", "%", 0, 100, description="sensor battery"),
            F("sensor_ok", "bool", 0, 1, True, "1 while the fill sensor self-test passes"),
        ),
        fault_codes=("sensor_fault", "lid_fault"),
        alarm_codes=("overflow", "high_temperature"),
        required=("fill_pct",),
    ),
}
del F

#: InfluxDB measurements besides the per-kind telemetry measurements (named by the kind).
EVENTS_MEASUREMENT = "events"
STATUS_MEASUREMENT = "status"


@dataclass(frozen=True)
class AssetRef:
    """Where a device sits: the tags every point it produces carries."""

    estate: str
    building: str
    kind: AssetKind
    asset: str

    def __post_init__(self) -> None:
        for name in ("estate", "building", "asset"):
            value = getattr(self, name)
            if not isinstance(value, str) or not _ID.match(value):
                raise ContractError(
                    "bad_topic",
                    f"{name} {value!r} is not a valid id: use 1-64 letters, digits, '_', '-' or '.'",
                )

    def topic(self, channel: Channel | str) -> str:
        return f"{TOPIC_ROOT}/{self.estate}/{self.building}/{self.kind.value}/{self.asset}/{Channel(channel).value}"


def subscription(channel: Channel | str | None = None) -> str:
    """The MQTT filter for every device's ``channel`` (all channels when None)."""
    return f"{TOPIC_ROOT}/+/+/+/+/{Channel(channel).value if channel else '+'}"


def parse_topic(topic: str) -> tuple[AssetRef, Channel]:
    parts = topic.split("/")
    if len(parts) != 6 or parts[0] != TOPIC_ROOT:
        raise ContractError(
            "bad_topic", f"topic {topic!r} is not facility/<estate>/<building>/<kind>/<asset>/<channel>"
        )
    _, estate, building, kind, asset, channel = parts
    try:
        asset_kind = AssetKind(kind)
    except ValueError:
        raise ContractError(
            "unknown_kind", f"unknown asset kind {kind!r}: expected one of {[k.value for k in AssetKind]}"
        ) from None
    try:
        ch = Channel(channel)
    except ValueError:
        raise ContractError(
            "bad_topic", f"unknown channel {channel!r}: expected telemetry, event or status"
        ) from None
    return AssetRef(estate, building, asset_kind, asset), ch


@dataclass(frozen=True)
class Reading:
    """One telemetry message, validated: values in the kind's units."""

    ref: AssetRef
    ts_ms: int
    values: Mapping[str, float]
    seq: int | None = None


@dataclass(frozen=True)
class Event:
    ref: AssetRef
    ts_ms: int
    type: EventType
    code: str
    seq: int | None = None
    detail: str = ""
    #: alarm / alarm_clear only: the confirmed outcome (None: not confirmed)
    outcome: AlarmOutcome | None = None


@dataclass(frozen=True)
class Status:
    ref: AssetRef
    ts_ms: int
    online: bool
    seq: int | None = None


Message = Reading | Event | Status


# ---------------------------------------------------------------- encoding (devices, simulators)


def encode_reading(values: Mapping[str, float], ts_ms: int, seq: int | None) -> bytes:
    body: dict[str, Any] = {"ts": ts_ms, "values": dict(values)}
    if seq is not None:
        body["seq"] = seq
    return orjson.dumps(body)


def encode_event(
    type: EventType,
    code: str,
    ts_ms: int,
    seq: int | None,
    detail: str = "",
    outcome: AlarmOutcome | None = None,
) -> bytes:
    body: dict[str, Any] = {"ts": ts_ms, "type": type.value, "code": code}
    if seq is not None:
        body["seq"] = seq
    if detail:
        body["detail"] = detail
    if outcome is not None:
        body["outcome"] = outcome.value
    return orjson.dumps(body)


def encode_status(online: bool, ts_ms: int) -> bytes:
    return orjson.dumps({"ts": ts_ms, "state": "online" if online else "offline"})


# ---------------------------------------------------------------- decoding and validation (ingest)


def _ts(body: Mapping[str, Any], now_ms: int) -> int:
    ts = body.get("ts")
    if isinstance(ts, bool) or not isinstance(ts, int | float):
        raise ContractError("bad_field", f"'ts' must be epoch milliseconds (a number), got {ts!r}")
    if isinstance(ts, float) and not math.isfinite(ts):
        raise ContractError("not_finite", f"'ts' must be finite, got {ts!r}")
    ts_ms = int(ts)
    if ts_ms > now_ms + MAX_FUTURE_MS:
        raise ContractError(
            "bad_timestamp", f"'ts' {ts_ms} is {(ts_ms - now_ms) / 1000:.0f} s in the future (device clock?)"
        )
    if ts_ms < now_ms - MAX_AGE_MS:
        raise ContractError("bad_timestamp", f"'ts' {ts_ms} is more than 400 days old")
    return ts_ms


def _seq(body: Mapping[str, Any]) -> int | None:
    seq = body.get("seq")
    if seq is None:
        return None
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise ContractError("bad_field", f"'seq' must be a non-negative integer, got {seq!r}")
    if seq > MAX_SEQ:
        raise ContractError("out_of_range", f"'seq' {seq} is outside the contract's range [0, {MAX_SEQ}]")
    return seq


def _values(schema: KindSchema, raw: Any) -> dict[str, float]:
    if not isinstance(raw, dict) or not raw:
        raise ContractError("bad_field", "'values' must be a non-empty object of numbers")
    values: dict[str, float] = {}
    for name, value in raw.items():
        spec = schema.by_name.get(name)
        if spec is None:
            raise ContractError(
                "unknown_field",
                f"{schema.kind.value} has no field {name!r}: expected {sorted(schema.by_name)}",
            )
        if isinstance(value, bool):
            value = int(value)
        if not isinstance(value, int | float):
            raise ContractError("bad_field", f"{name} must be a number, got {value!r}")
        if not math.isfinite(value):
            raise ContractError("not_finite", f"{name} is {value!r}: NaN and infinity are not readings")
        if not spec.minimum <= value <= spec.maximum:
            raise ContractError(
                "out_of_range",
                f"{name}={value} {spec.unit} is outside the plausible range [{spec.minimum}, {spec.maximum}]",
            )
        if spec.integer and value != int(value):
            raise ContractError("bad_field", f"{name} must be a whole number, got {value!r}")
        values[name] = int(value) if spec.integer else float(value)
    missing = [name for name in schema.required if name not in values]
    if missing:
        raise ContractError("missing_field", f"{schema.kind.value} telemetry lacks required {missing}")
    return values


def _loads(payload: bytes) -> Any:
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ContractError("too_large", f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise ContractError("bad_json", f"payload is not JSON: {exc}") from None


def _check_identity(ref: AssetRef, body: Mapping[str, Any]) -> None:
    """Optional ``asset`` / ``kind`` in a payload must agree with the topic it came on."""
    for key, expected in (("asset", ref.asset), ("kind", ref.kind.value)):
        if key in body and body[key] != expected:
            raise ContractError(
                "topic_mismatch", f"payload {key} {body[key]!r} does not match the topic's {expected!r}"
            )


def _outcome(body: Mapping[str, Any], etype: EventType) -> AlarmOutcome | None:
    raw = body.get("outcome")
    if raw is None:
        return None
    if etype not in (EventType.ALARM, EventType.ALARM_CLEAR):
        raise ContractError(
            "bad_field", f"'outcome' belongs on alarm or alarm_clear events, not {etype.value}"
        )
    try:
        return AlarmOutcome(raw)
    except ValueError:
        raise ContractError(
            "bad_field", f"event 'outcome' must be one of {[o.value for o in AlarmOutcome]}, got {raw!r}"
        ) from None


def decode(topic: str, payload: bytes, now_ms: int) -> list[Message]:
    """Validate one MQTT message into our types; raises ContractError naming what is wrong.

    A telemetry topic may carry a list of readings (ThingsBoard gateway batches); everything else is one
    object. ``now_ms`` is the receiver's clock, used only for the sanity window on ``ts``.
    """
    ref, channel = parse_topic(topic)
    body = _loads(payload)
    schema = SCHEMAS[ref.kind]
    for item in body if isinstance(body, list) else [body]:
        if isinstance(item, dict):
            _check_identity(ref, item)
    if channel is Channel.TELEMETRY:
        items = body if isinstance(body, list) else [body]
        if not items:
            raise ContractError("bad_field", "telemetry list is empty")
        out: list[Message] = []
        for item in items:
            if not isinstance(item, dict):
                raise ContractError("bad_field", "telemetry must be an object {ts, values[, seq]}")
            out.append(Reading(ref, _ts(item, now_ms), _values(schema, item.get("values")), _seq(item)))
        return out
    if not isinstance(body, dict):
        raise ContractError("bad_field", f"{channel.value} payload must be a JSON object")
    if channel is Channel.EVENT:
        try:
            etype = EventType(str(body.get("type")))
        except ValueError:
            raise ContractError(
                "bad_field",
                f"event 'type' must be one of {[t.value for t in EventType]}, got {body.get('type')!r}",
            ) from None
        code = body.get("code")
        allowed = (
            schema.alarm_codes if etype in (EventType.ALARM, EventType.ALARM_CLEAR) else schema.fault_codes
        )
        if code not in allowed:
            raise ContractError(
                "bad_field",
                f"{ref.kind.value} {etype.value} code must be one of {list(allowed)}, got {code!r}",
            )
        detail = body.get("detail", "")
        if not isinstance(detail, str) or len(detail) > 1024:
            raise ContractError("bad_field", "event 'detail' must be a string of at most 1024 characters")
        return [Event(ref, _ts(body, now_ms), etype, code, _seq(body), detail, _outcome(body, etype))]
    state = body.get("state")
    if state not in ("online", "offline"):
        raise ContractError("bad_field", f"status 'state' must be 'online' or 'offline', got {state!r}")
    return [Status(ref, _ts(body, now_ms), state == "online", _seq(body))]


# --- names people read (issue 16, added by G): every telemetry field's name in zh-CN and en -------------
#: FIELD_NAMES[kind][field] = (zh-CN, en); units stay as FieldSpec.unit has them. facility.i18n.field_label
#: reads this; tests/unit/test_i18n.py checks that every field of SCHEMAS has both names.
FIELD_NAMES: dict[AssetKind, dict[str, tuple[str, str]]] = {
    AssetKind.ELEVATOR: {
        "trips": ("运行次数", "Trips"),
        "door_cycles": ("开关门次数", "Door cycles"),
        "motor_current_a": ("曳引电机电流", "Motor current"),
        "vibration_mm_s": ("轿厢振动", "Car vibration"),
        "leveling_error_mm": ("平层误差", "Leveling error"),
        "car_temp_c": ("轿厢温度", "Car temperature"),
        "machine_room_temp_c": ("机房温度", "Machine-room temperature"),
    },
    AssetKind.FIRE_ALARM: {
        "detectors_total": ("探测器总数", "Detectors"),
        "detectors_faulty": ("故障探测器", "Faulty detectors"),
        "detectors_isolated": ("屏蔽探测器", "Isolated detectors"),
        "loop_resistance_ohm": ("回路电阻", "Loop resistance"),
        "battery_v": ("备用电池电压", "Standby battery"),
        "mains_ok": ("主电正常", "Mains power"),
    },
    AssetKind.WATER_PUMP: {
        "outlet_pressure_mpa": ("出水压力", "Outlet pressure"),
        "flow_m3h": ("流量", "Flow"),
        "motor_current_a": ("电机电流", "Motor current"),
        "vibration_mm_s": ("轴承座振动", "Bearing vibration"),
        "bearing_temp_c": ("轴承温度", "Bearing temperature"),
        "run_hours": ("累计运行时间", "Running hours"),
        "starts": ("启动次数", "Starts"),
        "running": ("运行中", "Running"),
    },
    AssetKind.SMART_BIN: {
        "fill_pct": ("满溢度", "Fill level"),
        "temperature_c": ("桶内温度", "Temperature"),
        "lid_cycles": ("开盖次数", "Lid openings"),
        "battery_pct": ("传感器电量", "Sensor battery"),
        "sensor_ok": ("传感器正常", "Sensor OK"),
    },
}
