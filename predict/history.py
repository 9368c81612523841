"""Adapters from history to training data: contract messages → per-asset frames, repair logs → lifetimes.

Lifetimes (censoring conventions): an asset is up from the start of observation. A ``failure`` ends the
current lifetime with event = 1; the repair that follows starts the next lifetime. A ``repair`` while the asset
is up (a preventive visit) ends the current lifetime *censored* (event = 0: we do not know when it would have
failed) and starts a new one. The end of observation censors the running lifetime. The first lifetime is
left-truncated (the asset ran before observation began), so ``since_repair`` is a lower bound there.
One repair may be reported twice — the device's ``recovery`` event and the crew's resolved work order, seconds
or hours apart in either order: a repair of a running asset less than ``SAME_REPAIR_DAYS`` after the previous
repair (no failure between) only moves the start of the lifetime to the later report; it censors nothing
(a lifetime that short holds no landmark row anyway: rows start a full feature window after a repair).
Times are days (epoch ms / 86 400 000).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from facility.contract import AssetKind, Event, Message, Reading
from predict.batch_features import landmark_table_fast
from predict.data import SurvivalData
from predict.features import DAY_MS, EVENT_TYPES, Lifetime, WindowSpec, kind_fields
from predict.fleet_features import fleet_features


@dataclass(frozen=True)
class MaintenanceRecord:
    asset: str
    t: float  # days
    type: str  # "failure" | "repair"
    preventive: bool = False


@dataclass
class FrameStore:
    """Accumulates readings and events per asset (append-only) and serves them as data frames."""

    kinds: dict[str, AssetKind] = field(default_factory=dict)
    _rows: dict[str, list[dict[str, float]]] = field(default_factory=dict)
    _events: dict[str, list[tuple[float, str, str]]] = field(default_factory=dict)
    _cache: dict[str, pd.DataFrame] = field(default_factory=dict)
    #: per asset: (fields, times sorted, values in that order) — the fleet scorer's arrays
    _arrays: dict[str, tuple[tuple[str, ...], np.ndarray, np.ndarray]] = field(default_factory=dict)

    def add(self, messages: Iterable[Message]) -> None:
        for msg in messages:
            asset = msg.ref.asset
            if isinstance(msg, Reading):
                self.kinds.setdefault(asset, msg.ref.kind)
                self._rows.setdefault(asset, []).append({"time": msg.ts_ms / DAY_MS, **msg.values})
                self._cache.pop(asset, None)
                self._arrays.pop(asset, None)
            elif isinstance(msg, Event):
                self.kinds.setdefault(asset, msg.ref.kind)
                self._events.setdefault(asset, []).append((msg.ts_ms / DAY_MS, msg.type.value, msg.code))

    def forget_before(self, t: float) -> None:
        """Drop readings and events before ``t`` days (a live scorer needs only the last window)."""
        for asset, rows in self._rows.items():
            k = next((i for i, r in enumerate(rows) if r["time"] >= t), len(rows))
            if k:
                del rows[:k]
                self._cache.pop(asset, None)
                self._arrays.pop(asset, None)
        for asset, evs in self._events.items():
            self._events[asset] = [e for e in evs if e[0] >= t]

    def readings(self, asset: str) -> pd.DataFrame:
        if asset not in self._cache:
            rows = self._rows.get(asset, [])
            self._cache[asset] = pd.DataFrame(rows) if rows else pd.DataFrame({"time": []})
        return self._cache[asset]

    def events(self, asset: str) -> pd.DataFrame:
        evs = self._events.get(asset, [])
        return (
            pd.DataFrame(evs, columns=["time", "type", "code"])
            if evs
            else pd.DataFrame({"time": [], "type": []})
        )

    def arrays(self, asset: str, fields: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        """The asset's reading times (sorted) and a (rows, fields) matrix of values (NaN where absent)."""
        cached = self._arrays.get(asset)
        if cached is None or cached[0] != fields:
            frame = self._cache.get(asset)
            if frame is not None:  # already built (training): reuse it
                t = frame["time"].to_numpy(dtype=float)
                v = frame.reindex(columns=list(fields)).to_numpy(dtype=float)
            else:
                rows = self._rows.get(asset, [])
                nan = float("nan")
                t = np.fromiter((r["time"] for r in rows), dtype=float, count=len(rows))
                v = np.array([[r.get(f, nan) for f in fields] for r in rows], dtype=float).reshape(
                    len(rows), len(fields)
                )
            order = np.argsort(t, kind="stable")
            cached = (fields, t[order], v[order])
            self._arrays[asset] = cached
        return cached[1], cached[2]

    def fleet_window(
        self, assets: Sequence[str], fields: tuple[str, ...], lo: float, t: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Readings and events of ``assets`` in ``[lo, t)``, concatenated asset by asset for
        :func:`predict.fleet_features.fleet_features`: times, values, offsets, event times, types, asset index."""
        times, values, sizes = [], [], np.zeros(len(assets), dtype=np.int64)
        ev_t: list[float] = []
        ev_type: list[str] = []
        ev_asset: list[int] = []
        for k, a in enumerate(assets):
            tr, vr = self.arrays(a, fields)
            i, j = np.searchsorted(tr, (lo, t), side="left")
            if j > i:
                times.append(tr[i:j])
                values.append(vr[i:j])
                sizes[k] = j - i
            for e in self._events.get(a, ()):
                if lo <= e[0] < t:
                    ev_t.append(e[0])
                    ev_type.append(e[1])
                    ev_asset.append(k)
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        return (
            np.concatenate(times) if times else np.zeros(0),
            np.concatenate(values) if values else np.zeros((0, len(fields))),
            offsets,
            np.asarray(ev_t, dtype=float),
            np.asarray(ev_type, dtype=object),
            np.asarray(ev_asset, dtype=np.int64),
        )

    def assets(self, kind: AssetKind | None = None) -> list[str]:
        return sorted(a for a, k in self.kinds.items() if kind is None or k is kind)


#: repairs closer together than this (days), with no failure between, are one repair reported twice
SAME_REPAIR_DAYS = 1.0


def lifetimes_from_records(
    records: Iterable[MaintenanceRecord],
    start: float,
    end: float,
    assets: Iterable[str],
    same_repair: float = SAME_REPAIR_DAYS,
    starts: Mapping[str, float] | None = None,
) -> list[Lifetime]:
    """Lifetimes per the module docstring's conventions, for every asset in ``assets``. ``starts``: where each
    asset's observation begins (its first reading) when later than ``start`` — a lifetime cannot start before
    there is data about it, whatever span was asked for."""
    first = {a: max(start, (starts or {}).get(a, start)) for a in assets}
    by_asset: dict[str, list[MaintenanceRecord]] = {a: [] for a in first}
    for r in records:
        if r.asset in by_asset and first[r.asset] <= r.t <= end:
            by_asset[r.asset].append(r)
    out: list[Lifetime] = []
    for asset, recs in by_asset.items():
        up, since = True, first[asset]
        for r in sorted(recs, key=lambda r: (r.t, r.type != "failure")):
            if r.type == "failure" and up:
                if r.t > since:
                    out.append(Lifetime(asset, since, r.t, True))
                up = False
            elif r.type == "repair":
                if up and r.t > since + same_repair:
                    out.append(Lifetime(asset, since, r.t, False))
                up, since = True, r.t
        if up and end > since:
            out.append(Lifetime(asset, since, end, False))
    return out


def last_repairs(records: Iterable[MaintenanceRecord], before: float, default: float) -> dict[str, float]:
    """Each asset's last repair time before ``before`` (``default`` when none is known)."""
    out: dict[str, float] = {}
    for r in records:
        if r.type == "repair" and r.t < before and r.t > out.get(r.asset, default):
            out[r.asset] = r.t
    return out


def training_data(
    kind: AssetKind,
    store: FrameStore,
    lifetimes: Sequence[Lifetime],
    spec: WindowSpec,
    step: float,
    event_types: Sequence[str] = EVENT_TYPES,
) -> SurvivalData:
    """Landmark rows for one kind: the same features as live scoring, the residual life as outcome."""
    assets = set(store.assets(kind))
    lives = [life for life in lifetimes if life.asset in assets]
    readings = {a: store.readings(a) for a in assets}
    events = {a: store.events(a) for a in assets}
    table = landmark_table_fast(
        lives, readings, events, spec, kind_fields(kind), step, spec.window, event_types
    )
    return SurvivalData(table.X, table.duration, table.event.astype(int), table.groups)


def live_features(
    kind: AssetKind,
    store: FrameStore,
    assets: Sequence[str],
    t: float,
    spec: WindowSpec,
    since_repair: Mapping[str, float],
    event_types: Sequence[str] = EVENT_TYPES,
) -> pd.DataFrame:
    """One row per asset: features at ``t`` days (data before ``t`` only) plus ``since_repair``."""
    if not assets:
        return pd.DataFrame()
    fields = kind_fields(kind)
    window = store.fleet_window(assets, fields, t - spec.window, t)
    X = fleet_features(*window, t, spec, fields, event_types)
    return X.assign(since_repair=[float(since_repair.get(a, 0.0)) for a in assets])
