"""Normalising an asset's state timeline and pairing device events into episodes.

Rules (docs/evaluation.md, "Resolving messy input"):

* An interval without an end lasts until the asset's exposure end (removal, or ``as_of``).
* Everything is clipped to the asset's exposure ``[max(installed, monitored_since), min(removed, as_of))``:
  before the platform observed an asset its state is unknown, whatever the registration says.
* Overlapping intervals: the worse state wins — faulted > offline > under_maintenance > in_service.
* Time covered by no interval is *unknown*: it counts neither for nor against the company.
* An under_maintenance interval linked to a preventive/inspection order that was created before its window
  opened and resolved no later than the window's end is *planned*; the part inside the window is excused
  (counted as in working order) when the setting ``excuse_planned`` is on.
* Events are sorted by time; per (asset, code) an onset (fault / alarm) opens an episode, a repeated onset
  while open is a duplicate and ignored, an end (recovery / alarm_clear) closes it, an end with nothing open
  is ignored. An episode still open lasts until ``as_of``. Its ``outcome`` is the last one its events give.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from evaluation.inputs import AssetInfo, AssetState, EventRecord, OrderRecord, OrderType, StateInterval

PRECEDENCE = {
    AssetState.IN_SERVICE: 0,
    AssetState.UNDER_MAINTENANCE: 1,
    AssetState.OFFLINE: 2,
    AssetState.FAULTED: 3,
}
ONSET = {"fault": "recovery", "alarm": "alarm_clear"}


@dataclass(frozen=True)
class Segment:
    """A stretch of one asset's normalised timeline; ``excused``: planned maintenance inside its window."""

    asset_id: str
    start: dt.datetime
    end: dt.datetime
    state: AssetState
    excused: bool
    refs: tuple[str, ...]

    @property
    def working(self) -> bool:
        return self.state is AssetState.IN_SERVICE or self.excused

    def hours_in(self, lo: dt.datetime, hi: dt.datetime) -> float:
        a, b = max(self.start, lo), min(self.end, hi)
        return max(0.0, (b - a).total_seconds() / 3600)


@dataclass(frozen=True)
class Outage:
    """A maximal run of contiguous non-working segments; a *failure* when one of them is faulted."""

    asset_id: str
    start: dt.datetime
    end: dt.datetime
    failure: bool
    repaired: bool  # followed by a working segment (else censored at the exposure end)
    refs: tuple[str, ...]

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600


@dataclass(frozen=True)
class Episode:
    asset_id: str
    code: str
    start: dt.datetime
    end: dt.datetime
    open: bool
    details: tuple[str, ...]
    outcome: str = ""  # the confirmed outcome of an alarm (facility.contract.AlarmOutcome), "" if none

    def hours_in(self, lo: dt.datetime, hi: dt.datetime) -> float:
        a, b = max(self.start, lo), min(self.end, hi)
        return max(0.0, (b - a).total_seconds() / 3600)


def interval_ref(i: StateInterval) -> str:
    return i.ref or f"{i.asset_id}:{i.state.value}@{i.start.isoformat()}"


def lifetime(asset: AssetInfo, as_of: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """``[installed, min(removed, as_of))``: the hours the asset existed, observed or not."""
    hi = min(asset.removed, as_of) if asset.removed else as_of
    return asset.installed, hi


def exposure(asset: AssetInfo, as_of: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The lifetime from the moment the platform observed the asset: the hours whose state can be known."""
    lo, hi = lifetime(asset, as_of)
    return (max(lo, asset.monitored_since) if asset.monitored_since else lo), hi


def _planned_window(
    i: StateInterval, orders: Mapping[str, OrderRecord]
) -> tuple[dt.datetime, dt.datetime] | None:
    if i.state is not AssetState.UNDER_MAINTENANCE or i.order_id is None:
        return None
    o = orders.get(i.order_id)
    if o is None or o.type not in (OrderType.PREVENTIVE, OrderType.INSPECTION):
        return None
    if o.window_start is None or o.window_end is None or not o.scheduled_ahead:
        return None
    if o.resolved is None or o.resolved > o.window_end:
        return None
    return o.window_start, o.window_end


def normalise(
    asset: AssetInfo,
    intervals: Iterable[StateInterval],
    orders: Mapping[str, OrderRecord],
    as_of: dt.datetime,
    excuse_planned: bool = True,
) -> list[Segment]:
    """The asset's timeline as sorted, non-overlapping segments (see the module rules)."""
    lo, hi = exposure(asset, as_of)
    if hi <= lo:
        return []
    # pieces: (start, end, state, excused, ref)
    pieces: list[tuple[dt.datetime, dt.datetime, AssetState, bool, str]] = []
    for i in intervals:
        a, b = max(i.start, lo), min(i.end or hi, hi)
        if b <= a:
            continue
        window = _planned_window(i, orders) if excuse_planned else None
        ref = interval_ref(i)
        if window is None:
            pieces.append((a, b, i.state, False, ref))
            continue
        ws, we = max(window[0], a), min(window[1], b)
        if we <= ws:
            pieces.append((a, b, i.state, False, ref))
            continue
        for s, e, exc in ((a, ws, False), (ws, we, True), (we, b, False)):
            if e > s:
                pieces.append((s, e, i.state, exc, ref))
    bounds = sorted({t for p in pieces for t in (p[0], p[1])})
    pieces.sort(key=lambda p: p[0])
    out: list[Segment] = []
    active: list[tuple[dt.datetime, dt.datetime, AssetState, bool, str]] = []
    nxt = 0
    for s, e in itertools.pairwise(bounds):  # sweep: every piece boundary is in ``bounds``
        while nxt < len(pieces) and pieces[nxt][0] <= s:
            active.append(pieces[nxt])
            nxt += 1
        active = [p for p in active if p[1] > s]
        covering = active
        if not covering:
            continue
        # the worst state wins; among pieces of that state, excused only if all of them are excused
        worst = max(PRECEDENCE[p[2]] for p in covering)
        top = [p for p in covering if PRECEDENCE[p[2]] == worst]
        state = top[0][2]
        excused = all(p[3] for p in top)
        refs = tuple(sorted({p[4] for p in top}))
        prev = out[-1] if out else None
        if prev and prev.end == s and prev.state is state and prev.excused == excused and prev.refs == refs:
            out[-1] = Segment(asset.asset_id, prev.start, e, state, excused, refs)
        else:
            out.append(Segment(asset.asset_id, s, e, state, excused, refs))
    return out


def outages(segments: Sequence[Segment]) -> list[Outage]:
    """Group contiguous non-working segments; a gap (unknown time) or a working segment ends an outage."""
    out: list[Outage] = []
    run: list[Segment] = []

    def flush(repaired: bool) -> None:
        if run:
            refs = tuple(dict.fromkeys(r for s in run for r in s.refs))
            failure = any(s.state is AssetState.FAULTED for s in run)
            out.append(Outage(run[0].asset_id, run[0].start, run[-1].end, failure, repaired, refs))
            run.clear()

    for seg in segments:
        if seg.working:
            flush(True)
            continue
        if run and run[-1].end != seg.start:
            flush(False)
        run.append(seg)
    flush(False)
    return out


def episodes(events: Iterable[EventRecord], as_of: dt.datetime) -> list[Episode]:
    """Pair onsets with their ends per (asset, code) after sorting by time (module rules)."""
    ordered = sorted(events, key=lambda e: (e.asset_id, e.code, e.ts, e.type not in ONSET))
    open_: dict[tuple[str, str], tuple[EventRecord, list[str], str]] = {}
    out: list[Episode] = []
    for e in ordered:
        key = (e.asset_id, e.code)
        if e.type in ONSET:
            if key not in open_:
                open_[key] = (e, [e.detail] if e.detail else [], e.outcome)
            continue
        if key in open_:
            onset, details, outcome = open_.pop(key)
            if e.detail:
                details.append(e.detail)
            out.append(
                Episode(e.asset_id, e.code, onset.ts, e.ts, False, tuple(details), e.outcome or outcome)
            )
    for (asset_id, code), (onset, details, outcome) in open_.items():
        out.append(Episode(asset_id, code, onset.ts, max(as_of, onset.ts), True, tuple(details), outcome))
    out.sort(key=lambda ep: (ep.start, ep.asset_id, ep.code))
    return out
