"""The hot path: a telemetry payload straight to one line of line protocol, with no per-point objects.

It accepts only what :func:`facility.contract.decode` accepts and produces what
:func:`ingest.lineprotocol.to_line` would: for anything it is not sure about (lists, events, status, any
rule broken, unexpected types) it returns None and the caller falls back to the contract, which also gives
the canonical dead-letter reason. ``tests/unit/test_ingest_fastpath.py`` checks the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from facility.contract import (
    MAX_AGE_MS,
    MAX_FUTURE_MS,
    MAX_PAYLOAD_BYTES,
    MAX_SEQ,
    SCHEMAS,
    Channel,
    ContractError,
    parse_topic,
)
from ingest.lineprotocol import escape_tag, series_prefix

#: topics remembered (valid ones only); cleared when full so a flood of bogus topics cannot grow it
TOPIC_CACHE_MAX = 100_000


@dataclass(frozen=True, slots=True)
class TopicInfo:
    telemetry: bool
    prefix: str
    #: field name -> (minimum, maximum, integer)
    specs: dict[str, tuple[float, float, bool]]
    required: tuple[str, ...]
    #: "facility/<estate>/<building>/<kind>/<asset>": the key of the device for loss accounting
    device: str


_TOPICS: dict[str, TopicInfo] = {}


def topic_info(topic: str) -> TopicInfo | None:
    """Parsed topic (cached); None if the contract refuses it."""
    info = _TOPICS.get(topic)
    if info is not None:
        return info
    try:
        ref, channel = parse_topic(topic)
    except ContractError:
        return None
    schema = SCHEMAS[ref.kind]
    for f in schema.fields:
        assert escape_tag(f.name) == f.name, f"field name {f.name!r} needs escaping"
    info = TopicInfo(
        channel is Channel.TELEMETRY,
        series_prefix(ref),
        {f.name: (f.minimum, f.maximum, f.integer) for f in schema.fields},
        schema.required,
        topic.rsplit("/", 1)[0],
    )
    if len(_TOPICS) >= TOPIC_CACHE_MAX:
        _TOPICS.clear()
    _TOPICS[topic] = info
    return info


def telemetry_line(info: TopicInfo, payload: bytes, now_ms: int) -> tuple[str, int | None, int] | None:
    """(line, seq, device ts) for one plain telemetry object, or None: use the contract instead."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        return None
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    if type(body) is not dict or "asset" in body or "kind" in body:
        return None
    ts = body.get("ts")
    if type(ts) is not int or not now_ms - MAX_AGE_MS <= ts <= now_ms + MAX_FUTURE_MS:
        return None
    seq = body.get("seq")
    if seq is not None and (type(seq) is not int or not 0 <= seq <= MAX_SEQ):
        return None
    values = body.get("values")
    if type(values) is not dict or not values:
        return None
    specs = info.specs
    parts = []
    for name, v in values.items():
        spec = specs.get(name)
        if spec is None:
            return None
        lo, hi, integer = spec
        t = type(v)
        if t is not float and t is not int:
            return None
        if not lo <= v <= hi:  # NaN fails this too
            return None
        if integer:
            if v != int(v):
                return None
            parts.append(f"{name}={int(v)}i")
        else:
            parts.append(f"{name}={float(v)!r}")
    for name in info.required:
        if name not in values:
            return None
    if seq is not None:
        parts.append(f"seq={seq}i")
    return f"{info.prefix} {','.join(parts)} {ts}", seq, ts
