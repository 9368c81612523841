"""Pure evaluation: what one message (or one tick of the clock) means for one rule of one asset.

No clock, store or MQTT here: the engine keeps a :class:`RuleState` per (asset, rule), passes each message
and the current time in, stores the new state and applies the :class:`Signal` (if any) to the store.
Times are the device's (``ts_ms``), so replayed history raises alarms where they happened.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from facility.contract import Event, EventType, Message, Reading, Status
from maintenance.alarms.rules import Rule, RuleType


class Action(StrEnum):
    RAISE = "raise"
    CLEAR = "clear"


@dataclass(frozen=True)
class Signal:
    """Raise (or repeat) / clear the alarm of ``rule`` on ``asset`` at ``at_ms``."""

    rule: str
    asset: str
    action: Action
    at_ms: int
    value: float | None = None
    detail: str = ""
    #: occurrences this signal stands for when it opens an alarm (a repetition rule's ``count``)
    count: int = 1
    outcome: str | None = None


@dataclass(frozen=True)
class RuleState:
    active: bool = False
    #: threshold: since when the condition has held (None: it does not)
    since_ms: int | None = None
    #: rate: the previous reading; offline: the last message of any kind
    last_value: float | None = None
    last_ms: int | None = None
    #: repetition: times of the recent occurrences inside the window
    occurrences: tuple[int, ...] = ()
    #: rate: (ts_ms, value) of the readings inside the window
    samples: tuple[tuple[int, float], ...] = ()


IDLE = RuleState()
_RAISING = (EventType.FAULT, EventType.ALARM)
_CLEARING = (EventType.RECOVERY, EventType.ALARM_CLEAR)


def _threshold(rule: Rule, st: RuleState, asset: str, ts: int, v: float) -> tuple[RuleState, Signal | None]:
    p = rule.params
    below = p["op"] == "<"
    if st.active:
        # at the clear level counts as cleared: a count alarm "> 0, clear 0" clears when the count is back at 0
        if (v >= p["clear"]) if below else (v <= p["clear"]):
            return IDLE, Signal(rule.key, asset, Action.CLEAR, ts, v)
        return st, None
    if not ((v < p["value"]) if below else (v > p["value"])):
        return (IDLE, None) if st.since_ms is not None else (st, None)
    since = st.since_ms if st.since_ms is not None else ts
    if ts - since >= p["for_s"] * 1000:
        detail = f"{p['field']} {p['op']} {p['value']:g} for {(ts - since) / 1000:.0f} s"
        return RuleState(active=True, since_ms=since), Signal(rule.key, asset, Action.RAISE, ts, v, detail)
    return replace(st, since_ms=since), None


def _rate(rule: Rule, st: RuleState, asset: str, ts: int, v: float) -> tuple[RuleState, Signal | None]:
    """Change per minute against the oldest reading inside ``window_s`` (robust to sampling noise); no
    verdict until the readings kept span at least half the window."""
    p = rule.params
    window_ms = p["window_s"] * 1000
    samples = (*(x for x in st.samples if ts - x[0] <= window_ms and x[0] < ts), (ts, v))
    new = RuleState(active=st.active, samples=samples, since_ms=st.since_ms)
    t0, v0 = samples[0]
    if ts - t0 < window_ms / 2:
        return new, None
    per_min = (v - v0) / ((ts - t0) / 60_000)
    rising = p["op"] == ">"
    # hysteresis: an active alarm clears only once the change is below ``clear_per_min`` (default half the rate)
    limit = p.get("clear_per_min", p["per_min"] / 2) if st.active else p["per_min"]
    hot = per_min > limit if rising else per_min < -limit
    if "min_value" in p and not st.active:  # a change only counts at a level that matters
        hot = hot and (v >= p["min_value"] if rising else v <= p["min_value"])
    if st.active:
        if hot:
            return new, None
        return replace(new, active=False, since_ms=None), Signal(rule.key, asset, Action.CLEAR, ts, v)
    if not hot:
        return replace(new, since_ms=None), None
    since = st.since_ms if st.since_ms is not None else ts
    if ts - since < p.get("for_s", 0.0) * 1000:  # it must keep changing this long
        return replace(new, since_ms=since), None
    detail = f"{p['field']} changes {per_min:+.3g}/min over {(ts - t0) / 60_000:.0f} min"
    return replace(new, active=True, since_ms=since), Signal(rule.key, asset, Action.RAISE, ts, v, detail)


def on_message(rule: Rule, state: RuleState, message: Message) -> tuple[RuleState, Signal | None]:
    """The rule's new state after ``message`` (of the rule's asset) and the signal it gives, if any."""
    asset, ts = message.ref.asset, message.ts_ms
    if rule.type is RuleType.OFFLINE:
        last = max(ts, state.last_ms or 0)
        if isinstance(message, Status) and not message.online:
            # "offline" (often the last will at a restart) is not yet "no data for N min": the silence counts
            # from here and on_tick raises once it has lasted ``minutes``; a device back within them raises nothing
            return replace(state, last_ms=last), None
        if state.active:
            return RuleState(active=False, last_ms=last), Signal(rule.key, asset, Action.CLEAR, ts)
        # a device saying it is online clears an offline alarm an earlier run of the engine left in the store
        # (the store ignores a clear of nothing)
        back = isinstance(message, Status) and message.online
        return RuleState(last_ms=last), (Signal(rule.key, asset, Action.CLEAR, ts) if back else None)
    if isinstance(message, Reading):
        if rule.type in (RuleType.THRESHOLD, RuleType.RATE):
            value = message.values.get(rule.params["field"])
            if value is None:
                return state, None
            fn = _threshold if rule.type is RuleType.THRESHOLD else _rate
            return fn(rule, state, asset, ts, float(value))
        return state, None
    if not isinstance(message, Event) or message.code not in rule.codes:
        return state, None
    outcome = message.outcome.value if message.outcome else None
    if rule.type is RuleType.EVENT:
        if message.type in _RAISING:
            sig = Signal(rule.key, asset, Action.RAISE, ts, detail=message.detail, outcome=outcome)
            return RuleState(active=True), sig
        return IDLE, Signal(rule.key, asset, Action.CLEAR, ts, outcome=outcome)
    # repetition: count raising events inside the sliding window
    if message.type not in _RAISING:
        return state, None
    window_ms = rule.params["window_s"] * 1000
    recent = (*(t for t in state.occurrences if ts - t < window_ms), ts)
    if len(recent) < rule.params["count"]:
        return RuleState(occurrences=recent), None
    first = not state.active
    detail = f"{len(recent)}× {message.code} within {rule.params['window_s'] / 3600:g} h"
    sig = Signal(rule.key, asset, Action.RAISE, ts, detail=detail, count=len(recent) if first else 1)
    return RuleState(active=True, occurrences=recent), sig


def on_tick(rule: Rule, state: RuleState, asset: str, now_ms: int) -> tuple[RuleState, Signal | None]:
    """Offline rules: raise when nothing arrived for ``minutes`` (other rules: nothing to do)."""
    if rule.type is not RuleType.OFFLINE or state.active or state.last_ms is None:
        return state, None
    silent_ms = now_ms - state.last_ms
    if silent_ms < rule.params["minutes"] * 60_000:
        return state, None
    detail = f"no data for {silent_ms / 60_000:.0f} min"
    return replace(state, active=True), Signal(rule.key, asset, Action.RAISE, now_ms, detail=detail)
