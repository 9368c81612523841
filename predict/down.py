"""Assets that are down now: not "at risk", so they are listed apart, never ranked or planned.

An asset is down at ``now`` when

- its last ``fault`` event in InfluxDB is later than its last ``recovery`` (``open_fault``), or
- its last ``status`` message says offline (``offline``), or
- the work-order store's state timeline has it ``faulted``, ``offline`` or ``under_maintenance`` now (a
  :data:`DownSource`, :func:`predict.repairs.down_source`), which also covers assets a crew is working on.

A forecast for such an asset would rank an outage that has already happened as "about to fail", and the
planner would send a preventive visit to a broken asset; the corrective order is what it needs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from facility.contract import EVENTS_MEASUREMENT, STATUS_MEASUREMENT, AssetKind
from ingest.influx import InfluxClient

REASONS = ("open_fault", "offline", "under_maintenance")


@dataclass(frozen=True)
class DownAsset:
    asset: str
    kind: str
    #: one of :data:`REASONS`
    reason: str
    since: dt.datetime | None = None

    def __post_init__(self) -> None:
        if self.reason not in REASONS:
            raise ValueError(f"reason must be one of {REASONS}, but was {self.reason!r}")


#: ``(kind, now) -> {asset: DownAsset}`` from the work-order store's state timeline
DownSource = Callable[[AssetKind, dt.datetime], Mapping[str, DownAsset]]


def _at(ms: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


def _last_times(client: InfluxClient, kind: AssetKind, event_type: str, now_ms: int) -> dict[str, float]:
    q = (
        f'SELECT last("detail") FROM "{EVENTS_MEASUREMENT}" WHERE "kind" = $kind AND "type" = $type '
        f'AND time < {now_ms}ms GROUP BY "asset"'
    )
    out = {}
    for s in client.query(q, params={"kind": kind.value, "type": event_type}):
        if s.values:
            out[s.tags["asset"]] = float(s.values[0][0])
    return out


def down_from_influx(client: InfluxClient, kind: AssetKind, now_ms: int) -> dict[str, DownAsset]:
    """Assets of ``kind`` with an open fault or last reported offline before ``now_ms`` (InfluxDB)."""
    faults = _last_times(client, kind, "fault", now_ms)
    recoveries = _last_times(client, kind, "recovery", now_ms)
    out: dict[str, DownAsset] = {}
    for asset, t in faults.items():
        if t > recoveries.get(asset, float("-inf")):
            out[asset] = DownAsset(asset, kind.value, "open_fault", _at(t))
    q = (
        f'SELECT last("online") FROM "{STATUS_MEASUREMENT}" WHERE "kind" = $kind AND time < {now_ms}ms '
        'GROUP BY "asset"'
    )
    for s in client.query(q, params={"kind": kind.value}):
        if s.values and s.values[0][1] == 0 and s.tags["asset"] not in out:
            out[s.tags["asset"]] = DownAsset(
                s.tags["asset"], kind.value, "offline", _at(float(s.values[0][0]))
            )
    return out


def last_evidence(client: InfluxClient, kind: AssetKind, now_ms: int) -> dict[str, float]:
    """Each asset's last ``alarm`` or ``fault`` event before ``now_ms`` (epoch ms): new evidence that lifts the
    planner's cool-down after a visit."""
    out = _last_times(client, kind, "alarm", now_ms)
    for asset, t in _last_times(client, kind, "fault", now_ms).items():
        out[asset] = max(t, out.get(asset, t))
    return out


def summary(down: list[DownAsset]) -> dict[str, int]:
    """How many were left out of a ranking, by reason."""
    out = dict.fromkeys(REASONS, 0)
    for d in down:
        out[d.reason] += 1
    return {k: v for k, v in out.items() if v}
