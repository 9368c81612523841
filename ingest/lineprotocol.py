"""Contract messages → InfluxDB line protocol (millisecond precision, the device's timestamp).

A point's identity is (measurement, tag set, device timestamp), so a redelivered message overwrites itself.
Nothing receiver-specific (worker, receive time) is written into a point.

    elevator,estate=E1,building=B1,asset=lift-1 motor_current_a=12.5,trips=3i,seq=42i 1700000000000
    events,estate=E1,building=B1,kind=elevator,asset=lift-1,type=fault,code=door_fault seq=43i,detail="" ...
    (an alarm's confirmed outcome is appended as ``outcome="false_alarm"`` when the event carries one)
    status,estate=E1,building=B1,kind=elevator,asset=lift-1 online=1i,state="online" 1700000000000

Integer fields of the kind's schema carry the ``i`` suffix, every other value is written as a float, so a
field never changes type between points (InfluxDB would refuse the second type).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache

from facility.contract import (
    EVENTS_MEASUREMENT,
    SCHEMAS,
    STATUS_MEASUREMENT,
    AssetKind,
    AssetRef,
    Event,
    Message,
    Reading,
    Status,
)

_TAG_ESCAPES = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\\": "\\\\", "\n": r"\n"})
_MEASUREMENT_ESCAPES = str.maketrans({",": r"\,", " ": r"\ ", "\\": "\\\\", "\n": r"\n"})

#: kind -> names of its integer fields (written with the ``i`` suffix)
INTEGER_FIELDS: dict[AssetKind, frozenset[str]] = {
    kind: frozenset(f.name for f in schema.fields if f.integer) for kind, schema in SCHEMAS.items()
}


#: kind -> its field names that need no escaping (all of them, today)
PLAIN_FIELDS: dict[AssetKind, frozenset[str]] = {
    kind: frozenset(f.name for f in schema.fields if f.name.translate(_TAG_ESCAPES) == f.name)
    for kind, schema in SCHEMAS.items()
}


def escape_tag(value: str) -> str:
    """Escape a tag key or value (commas, equals signs, spaces, backslashes)."""
    return value.translate(_TAG_ESCAPES)


def escape_measurement(value: str) -> str:
    return value.translate(_MEASUREMENT_ESCAPES)


def escape_string_field(value: str) -> str:
    """A string field value, quoted; backslashes and double quotes escaped. Anything else — a newline
    included — is kept as it is: InfluxDB reads a quoted string across lines, so text round-trips exactly."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@lru_cache(maxsize=65536)
def series_prefix(ref: AssetRef) -> str:
    """``<kind>,estate=..,building=..,asset=..`` for a device's telemetry (cached: devices repeat)."""
    return (
        f"{escape_measurement(ref.kind.value)},estate={escape_tag(ref.estate)},"
        f"building={escape_tag(ref.building)},asset={escape_tag(ref.asset)}"
    )


@lru_cache(maxsize=65536)
def _asset_tags(ref: AssetRef) -> str:
    return (
        f"estate={escape_tag(ref.estate)},building={escape_tag(ref.building)},"
        f"kind={escape_tag(ref.kind.value)},asset={escape_tag(ref.asset)}"
    )


def format_fields(kind: AssetKind, values: Mapping[str, float], seq: int | None) -> str:
    """``name=value,...`` with integer fields suffixed ``i``; ``seq`` appended as an integer field."""
    ints, plain = INTEGER_FIELDS[kind], PLAIN_FIELDS[kind]
    parts = []
    for name, value in values.items():
        key = name if name in plain else escape_tag(name)
        parts.append(f"{key}={int(value)}i" if name in ints else f"{key}={float(value)!r}")
    if seq is not None:
        parts.append(f"seq={seq}i")
    return ",".join(parts)


def reading_line(reading: Reading) -> str:
    fields = format_fields(reading.ref.kind, reading.values, reading.seq)
    return f"{series_prefix(reading.ref)} {fields} {reading.ts_ms}"


def event_line(event: Event) -> str:
    fields = f"detail={escape_string_field(event.detail)}"
    if event.seq is not None:
        fields = f"seq={event.seq}i," + fields
    if event.outcome is not None:
        fields += f',outcome="{event.outcome.value}"'
    return (
        f"{EVENTS_MEASUREMENT},{_asset_tags(event.ref)},type={escape_tag(event.type.value)},"
        f"code={escape_tag(event.code)} {fields} {event.ts_ms}"
    )


def status_line(status: Status) -> str:
    state = "online" if status.online else "offline"
    fields = f'online={int(status.online)}i,state="{state}"'
    if status.seq is not None:
        fields += f",seq={status.seq}i"
    return f"{STATUS_MEASUREMENT},{_asset_tags(status.ref)} {fields} {status.ts_ms}"


def to_line(msg: Message) -> str:
    """One line of line protocol (no trailing newline) for a validated message; write with precision=ms."""
    if isinstance(msg, Reading):
        return reading_line(msg)
    if isinstance(msg, Event):
        return event_line(msg)
    if isinstance(msg, Status):
        return status_line(msg)
    raise TypeError(f"to_line takes a Reading, Event or Status, not {type(msg).__name__}")


def to_lines(msgs: Iterable[Message]) -> list[str]:
    """Lines for many messages, in order; join with ``"\\n"`` and pass to ``InfluxClient.write``."""
    return [to_line(m) for m in msgs]
