"""Helpers shared by the ingest tests and bench/ingest.py: realistic message mixes, a checked QoS 1
publisher, and reading back what InfluxDB holds. Not used by the service itself."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import paho.mqtt.client as mqtt

from facility.contract import SCHEMAS, AssetKind, AssetRef, Channel, EventType, encode_event, encode_reading
from ingest.influx import InfluxClient

#: (kind, asset, ts_ms, sorted (field, value) pairs): what a stored telemetry point must equal
PointKey = tuple[str, str, int, tuple[tuple[str, float], ...]]

MALFORMED = (
    "bad_json",
    "unknown_kind",
    "out_of_range",
    "missing_field",
    "bad_timestamp",
    "too_large",
    "topic_mismatch",
    "unknown_field",
)


@dataclass(frozen=True)
class Outgoing:
    topic: str
    payload: bytes
    #: the point it must become, or None for a malformed message
    key: PointKey | None
    #: the dead-letter reason expected for a malformed message
    reason: str | None = None


def fleet(n_devices: int, estate: str = "E1") -> list[AssetRef]:
    kinds = list(AssetKind)
    return [AssetRef(estate, f"B{i % 3}", kinds[i % len(kinds)], f"a{i:04d}") for i in range(n_devices)]


def _values(kind: AssetKind, rng: np.random.Generator) -> dict[str, float]:
    out: dict[str, float] = {}
    for f in SCHEMAS[kind].fields:
        hi = min(f.maximum, f.minimum + 100)
        if f.integer:
            out[f.name] = int(rng.integers(int(f.minimum), int(hi) + 1))
        else:
            out[f.name] = round(float(rng.uniform(max(f.minimum, 0), hi)), 3)
    return out


def _key(ref: AssetRef, ts: int, values: dict[str, float]) -> PointKey:
    return (ref.kind.value, ref.asset, ts, tuple(sorted((k, float(v)) for k, v in values.items())))


def uploads(
    devices: list[AssetRef], per_device: int, chunk: int, rng: np.random.Generator, start_ms: int
) -> tuple[dict[str, list[Outgoing]], list[PointKey]]:
    """Each device's history as contract list payloads of ``chunk`` readings (each with its ``seq``, 60 s
    apart from ``start_ms``), as a device uploads after an outage; returns the messages per asset and every
    point they must become."""
    out: dict[str, list[Outgoing]] = {}
    keys: list[PointKey] = []
    for ref in devices:
        readings = [(start_ms + i * 60_000, i, _values(ref.kind, rng)) for i in range(per_device)]
        keys += [_key(ref, ts, v) for ts, _, v in readings]
        out[ref.asset] = [
            Outgoing(
                ref.topic(Channel.TELEMETRY),
                b"[" + b",".join(encode_reading(v, ts, seq) for ts, seq, v in readings[i : i + chunk]) + b"]",
                None,
            )
            for i in range(0, per_device, chunk)
        ]
    return out, keys


def malformed(ref: AssetRef, reason: str, ts: int, rng: np.random.Generator) -> tuple[str, bytes]:
    topic = ref.topic(Channel.TELEMETRY)
    good = _values(ref.kind, rng)
    if reason == "bad_json":
        return topic, b'{"ts": %d, "values": {' % ts
    if reason == "unknown_kind":
        return f"facility/{ref.estate}/{ref.building}/toaster/{ref.asset}/telemetry", encode_reading(
            good, ts, 1
        )
    if reason == "out_of_range":
        name = SCHEMAS[ref.kind].required[0]
        return topic, encode_reading({**good, name: SCHEMAS[ref.kind].by_name[name].maximum * 10 + 1}, ts, 1)
    if reason == "missing_field":
        name = SCHEMAS[ref.kind].required[0]
        return topic, encode_reading({k: v for k, v in good.items() if k != name}, ts, 1)
    if reason == "bad_timestamp":
        return topic, encode_reading(good, ts + 24 * 3600 * 1000, 1)
    if reason == "too_large":
        return topic, b'{"ts": %d, "values": {}, "pad": "%s"}' % (ts, b"x" * (70 * 1024))
    if reason == "topic_mismatch":
        return topic, b'{"ts": %d, "asset": "someone-else", "values": {}}' % ts
    if reason == "unknown_field":
        return topic, encode_reading({**good, "warp_factor": 9.0}, ts, 1)
    raise ValueError(f"unknown malformed reason {reason!r}")


def make_messages(
    n: int,
    rng: np.random.Generator,
    *,
    devices: list[AssetRef] | None = None,
    malformed_every: int = 0,
    start_ms: int | None = None,
    events_every: int = 0,
) -> list[Outgoing]:
    """``n`` messages round-robin over devices; every ``malformed_every``-th is malformed (cycling reasons).

    Each device's timestamps step by 1 s from ``start_ms`` and its seq by 1, so every point is distinct.
    """
    devices = devices or fleet(40)
    start_ms = (
        start_ms if start_ms is not None else int(time.time() * 1000) - n // len(devices) * 1000 - 60_000
    )
    seqs = [0] * len(devices)
    out: list[Outgoing] = []
    bad = 0
    for i in range(n):
        d = i % len(devices)
        ref = devices[d]
        ts = start_ms + (i // len(devices)) * 1000
        if malformed_every and i % malformed_every == malformed_every - 1:
            reason = MALFORMED[bad % len(MALFORMED)]
            bad += 1
            topic, payload = malformed(ref, reason, ts, rng)
            out.append(Outgoing(topic, payload, None, reason))
            continue
        if events_every and i % events_every == events_every - 1:
            code = SCHEMAS[ref.kind].fault_codes[0]
            payload = encode_event(EventType.FAULT, code, ts, seqs[d], "test")
            out.append(
                Outgoing(ref.topic(Channel.EVENT), payload, ("events", ref.asset, ts, (("code", 0.0),)))
            )
            seqs[d] += 1
            continue
        values = _values(ref.kind, rng)
        out.append(
            Outgoing(ref.topic(Channel.TELEMETRY), encode_reading(values, ts, seqs[d]), _key(ref, ts, values))
        )
        seqs[d] += 1
    return out


class PublishRefused(RuntimeError):
    """The broker answered publishes with a PUBACK reason code that is not plain success."""


class Uplink:
    """One device's QoS 1 connection: :meth:`send` checks every ``publish()`` return code (slowing down on
    MQTT_ERR_QUEUE_SIZE) and every PUBACK's reason code: paho counts a refused publish (0x87 not authorised,
    0x95 too large, 0x97 quota) as published; here it raises :class:`PublishRefused`. 0x10 (no matching
    subscribers: nobody keeps the message) is counted in :attr:`unrouted`, not raised."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        client_id: str = "testkit-publisher",
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        if username:
            c.username_pw_set(username, password)
        c.max_inflight_messages_set(1000)
        c.max_queued_messages_set(20_000)
        #: PUBACK reason (name) -> how many publishes got it, for every reason that is not success
        self.refused: Counter[str] = Counter()
        #: publishes the broker routed to no subscriber (PUBACK 0x10)
        self.unrouted = 0
        c.on_publish = self._on_publish
        c.connect(host, port, keepalive=30)
        c.loop_start()
        self.client = c

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        if reason.is_failure:
            self.refused[str(reason)] += 1
        elif reason.value == 0x10:
            self.unrouted += 1

    def send(self, msgs: list[Outgoing], timeout_s: float = 120.0) -> int:
        """Publish ``msgs`` in order; returns when the broker acknowledged each (raises otherwise)."""
        c = self.client
        infos = []
        for m in msgs:
            while True:
                info = c.publish(m.topic, m.payload, qos=1)
                if info.rc == mqtt.MQTT_ERR_SUCCESS:
                    break
                if info.rc != mqtt.MQTT_ERR_QUEUE_SIZE:
                    raise RuntimeError(f"publish failed: {mqtt.error_string(info.rc)}")
                time.sleep(0.005)
            infos.append(info)
        deadline = time.monotonic() + timeout_s
        for info in infos:
            info.wait_for_publish(max(0.1, deadline - time.monotonic()))
            if not info.is_published():
                raise TimeoutError("the broker did not acknowledge every publish in time")
        if self.refused:
            raise PublishRefused(f"the broker refused publishes: {dict(self.refused)}")
        return len(infos)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def publish(
    host: str,
    port: int,
    msgs: list[Outgoing],
    *,
    client_id: str = "testkit-publisher",
    username: str | None = None,
    password: str | None = None,
    timeout_s: float = 120.0,
) -> int:
    """Connect, publish at QoS 1 with every return code and PUBACK checked (:class:`Uplink`), disconnect;
    returns how many were published once the broker has acknowledged every message."""
    up = Uplink(host, port, client_id=client_id, username=username, password=password)
    try:
        return up.send(msgs, timeout_s)
    finally:
        up.close()


def stored_points(influx: InfluxClient) -> list[PointKey]:
    """Every telemetry point in the database (all four kinds) as a PointKey, duplicates kept."""
    out: list[PointKey] = []
    for kind in AssetKind:
        fields = [f.name for f in SCHEMAS[kind].fields]
        for r in influx.records(f'SELECT * FROM "{kind.value}"'):
            vals = tuple(sorted((k, float(r[k])) for k in fields if r.get(k) is not None))
            out.append((kind.value, r["asset"], int(r["time"]), vals))
    for r in influx.records('SELECT * FROM "events"'):
        out.append(("events", r["asset"], int(r["time"]), (("code", 0.0),)))
    return out


def wait_for_points(influx: InfluxClient, expected: int, timeout_s: float = 60.0) -> list[PointKey]:
    """Poll until at least ``expected`` points are stored (or the timeout); returns what is there."""
    deadline = time.monotonic() + timeout_s
    points: list[PointKey] = []
    while time.monotonic() < deadline:
        try:
            points = stored_points(influx)
        except Exception:
            points = []
        if len(points) >= expected:
            return points
        time.sleep(0.3)
    return points
