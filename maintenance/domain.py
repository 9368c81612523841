"""Work-order domain: states, types, priorities, the transition table and the asset states.

The state machine (who may do what is decided in the API; this module only knows what is possible)::

    created → assigned → acknowledged → in_progress → resolved → verified → closed
    assigned/acknowledged → rejected (退单, reason required) → assigned (reassigned)
    any open state → cancelled
    resolved/verified/closed → reopened (rework: the same fault again within 30 days) → assigned
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from facility.contract import AssetKind

#: a fault of the same code on the same asset within this window after resolution reopens the order
REWORK_WINDOW = dt.timedelta(days=30)


class OrderState(StrEnum):
    CREATED = "created"
    ASSIGNED = "assigned"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    VERIFIED = "verified"
    CLOSED = "closed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    REOPENED = "reopened"


class OrderType(StrEnum):
    CORRECTIVE = "corrective"
    RESIDENT_REPORT = "resident_report"
    PREVENTIVE = "preventive"
    INSPECTION = "inspection"


class Priority(StrEnum):
    """P1 is the most urgent (life safety: entrapment, fire)."""

    P1 = "p1"
    P2 = "p2"
    P3 = "p3"
    P4 = "p4"


class AssetState(StrEnum):
    IN_SERVICE = "in_service"
    FAULTED = "faulted"
    UNDER_MAINTENANCE = "under_maintenance"
    OFFLINE = "offline"


S = OrderState
TRANSITIONS: dict[OrderState, tuple[OrderState, ...]] = {
    S.CREATED: (S.ASSIGNED, S.CANCELLED),
    S.ASSIGNED: (S.ASSIGNED, S.ACKNOWLEDGED, S.REJECTED, S.CANCELLED),
    S.ACKNOWLEDGED: (S.ASSIGNED, S.IN_PROGRESS, S.REJECTED, S.CANCELLED),
    S.IN_PROGRESS: (S.ASSIGNED, S.RESOLVED, S.CANCELLED),
    S.RESOLVED: (S.VERIFIED, S.REOPENED),
    S.VERIFIED: (S.CLOSED, S.REOPENED),
    S.CLOSED: (S.REOPENED,),
    S.REJECTED: (S.ASSIGNED, S.CANCELLED),
    S.REOPENED: (S.ASSIGNED, S.CANCELLED),
    S.CANCELLED: (),
}
del S

#: states in which an order still needs work (used for "one open order per asset and fault code")
OPEN_STATES = frozenset(
    {
        OrderState.CREATED,
        OrderState.ASSIGNED,
        OrderState.ACKNOWLEDGED,
        OrderState.IN_PROGRESS,
        OrderState.REJECTED,
        OrderState.REOPENED,
    }
)
#: open states that count against a crew's load
CREW_LOAD_STATES = frozenset({OrderState.ASSIGNED, OrderState.ACKNOWLEDGED, OrderState.IN_PROGRESS})


class InvalidTransition(ValueError):
    """A transition the state machine does not allow; the message lists the allowed ones."""

    def __init__(self, current: OrderState, target: OrderState) -> None:
        allowed = allowed_transitions(current)
        listed = ", ".join(s.value for s in allowed) if allowed else "none (it is final)"
        super().__init__(
            f"an order in state {current.value!r} cannot go to {target.value!r}; allowed from "
            f"{current.value!r}: {listed}"
        )
        self.current = current
        self.target = target
        self.allowed = allowed


def allowed_transitions(current: OrderState) -> tuple[OrderState, ...]:
    return TRANSITIONS[current]


def check_transition(current: OrderState, target: OrderState, note: str = "") -> None:
    """Raise InvalidTransition (or ValueError for a missing rejection reason) when not allowed."""
    if target not in TRANSITIONS[current]:
        raise InvalidTransition(current, target)
    if target is OrderState.REJECTED and not note.strip():
        raise ValueError("a rejection (退单) needs a reason: send a non-empty 'note'")


def fault_priority(kind: AssetKind, code: str) -> Priority:
    """Entrapment and every fire-alarm fault are life safety (P1); pumps and lifts P2; bins P3."""
    if code == "entrapment" or kind is AssetKind.FIRE_ALARM:
        return Priority.P1
    if kind in (AssetKind.ELEVATOR, AssetKind.WATER_PUMP):
        return Priority.P2
    return Priority.P3


def state_after_order(target: OrderState) -> AssetState | None:
    """How an order transition moves its asset's state (None: no change)."""
    if target is OrderState.IN_PROGRESS:
        return AssetState.UNDER_MAINTENANCE
    if target is OrderState.RESOLVED:
        return AssetState.IN_SERVICE
    return None


@dataclass(frozen=True)
class CrewProfile:
    """What assignment needs to know about a crew."""

    id: str
    skills: frozenset[AssetKind]
    estates: frozenset[str]
    #: working hours in the crew's time zone as (start hour, end hour); end < start for night shifts
    hours: tuple[int, int] = (0, 24)
    active: bool = True
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        start, end = self.hours
        if not (0 <= start <= 23 and 1 <= end <= 24):
            raise ValueError(f"crew {self.id}: working hours {self.hours} must be (0..23, 1..24)")
        zone(self.timezone)

    def on_duty(self, at: dt.datetime) -> bool:
        return within_hours(self.hours, at, self.timezone)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}: use an IANA name like 'Asia/Shanghai' or 'UTC'"
        ) from None


def within_hours(hours: tuple[int, int], at: dt.datetime, timezone: str = "UTC") -> bool:
    """Whether ``at`` falls in the working hours (local to ``timezone``); (22, 6) is a night shift."""
    start, end = hours
    h = at.astimezone(zone(timezone)).hour
    return start <= h < end if start < end else (h >= start or h < end)
