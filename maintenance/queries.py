"""Read API for evaluation/ and predict/: frozen records, no ORM objects leak out.

- ``state_intervals(session, start, end)``: every asset's state intervals clipped to ``[start, end)``.
- ``orders(session, start, end)``: work orders opened in ``[start, end)`` with all transition timestamps.
- ``repairs(session, start, end, kind)``: every repair (a ``resolved`` transition) in ``[start, end)``.
- ``last_repair_times(session, before, kind)``: each asset's last repair before ``before``.

All datetimes are timezone-aware UTC. See docs/maintenance.md.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from maintenance.domain import OrderState, OrderType
from maintenance.models import Asset, AssetStateRow, Building, Estate, Order, Transition
from maintenance.orders import first_at
from maintenance.preventive import PLANNED_TYPES


@dataclass(frozen=True)
class StateInterval:
    asset_id: str
    kind: str
    estate: str
    building: str
    company: str
    group: str
    state: str  # in_service | faulted | under_maintenance | offline
    start: dt.datetime
    end: dt.datetime  # clipped to the query window; an interval still running ends at the window's end
    ongoing: bool  # True when the interval had not ended (end was clipped from "still running")
    #: what opened the interval: "installed" (registration), "fault <code>", "status offline", "order <id> ..."
    cause: str = ""

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True)
class TransitionRecord:
    from_state: str | None
    to_state: str
    actor: str
    at: dt.datetime
    note: str
    crew_id: str | None


@dataclass(frozen=True)
class OrderRecord:
    id: int
    asset_id: str
    kind: str
    estate: str
    building: str
    company: str
    group: str
    type: str  # corrective | resident_report | preventive | inspection
    priority: str  # p1 (most urgent) .. p4
    state: str
    fault_code: str | None
    crew_id: str | None
    complex: bool
    opened_at: dt.datetime
    scheduled_for: dt.datetime | None
    recovered_at: dt.datetime | None
    #: first time the order reached each state (None: never)
    assigned_at: dt.datetime | None
    acknowledged_at: dt.datetime | None
    started_at: dt.datetime | None
    resolved_at: dt.datetime | None
    verified_at: dt.datetime | None
    closed_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    rejections: int  # 退单 count
    rework_count: int  # times reopened (返修)
    #: 回访: True/False for closed orders (followed up or not), None while not closed
    followed_up: bool | None
    followed_up_at: dt.datetime | None
    resident_rating: int | None  # 1..5 when the resident rated the fix
    transitions: tuple[TransitionRecord, ...]
    #: planned work (preventive proposals, issue 12): the end of its scheduled window, the order's own due time
    window_end: dt.datetime | None = None


def _window(start: dt.datetime, end: dt.datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware (UTC) datetimes")
    if end <= start:
        raise ValueError(f"end {end.isoformat()} must be after start {start.isoformat()}")


def state_intervals(session: Session, start: dt.datetime, end: dt.datetime) -> list[StateInterval]:
    _window(start, end)
    rows = session.execute(
        sa.select(AssetStateRow, Asset, Building, Estate)
        .join(Asset, Asset.id == AssetStateRow.asset_id)
        .join(Building, Building.id == Asset.building_id)
        .join(Estate, Estate.id == Asset.estate_id)
        .where(
            AssetStateRow.start_at < end, sa.or_(AssetStateRow.end_at.is_(None), AssetStateRow.end_at > start)
        )
        .order_by(Asset.id, AssetStateRow.start_at, AssetStateRow.id)
    )
    out = []
    for s, a, b, e in rows:
        s_end = s.end_at if s.end_at is not None and s.end_at < end else end
        out.append(
            StateInterval(
                a.id,
                a.kind,
                e.id,
                b.code,
                e.company_id,
                e.group,
                s.state,
                max(s.start_at, start),
                s_end,
                s.end_at is None or s.end_at > end,
                s.cause or "",
            )
        )
    return [i for i in out if i.end > i.start]


def order_record(o: Order) -> OrderRecord:
    t = o.transitions
    a = o.asset
    return OrderRecord(
        id=o.id,
        asset_id=a.id,
        kind=a.kind,
        estate=a.estate_id,
        building=a.building.code,
        company=a.estate.company_id,
        group=a.estate.group,
        type=o.type,
        priority=o.priority,
        state=o.state,
        fault_code=o.fault_code,
        crew_id=o.crew_id,
        complex=o.complex,
        opened_at=o.opened_at,
        scheduled_for=o.scheduled_for,
        recovered_at=o.recovered_at,
        assigned_at=first_at(t, OrderState.ASSIGNED),
        acknowledged_at=first_at(t, OrderState.ACKNOWLEDGED),
        started_at=first_at(t, OrderState.IN_PROGRESS),
        resolved_at=first_at(t, OrderState.RESOLVED),
        verified_at=first_at(t, OrderState.VERIFIED),
        closed_at=first_at(t, OrderState.CLOSED),
        cancelled_at=first_at(t, OrderState.CANCELLED),
        rejections=sum(1 for x in t if x.to_state == OrderState.REJECTED.value),
        rework_count=o.rework_count,
        followed_up=(o.followed_up_at is not None) if o.state == OrderState.CLOSED.value else None,
        followed_up_at=o.followed_up_at,
        resident_rating=o.resident_rating,
        window_end=o.window_end,
        transitions=tuple(
            TransitionRecord(x.from_state, x.to_state, x.actor, x.at, x.note, x.crew_id) for x in t
        ),
    )


def orders(session: Session, start: dt.datetime, end: dt.datetime) -> list[OrderRecord]:
    _window(start, end)
    rows = session.scalars(
        sa.select(Order)
        .where(Order.opened_at >= start, Order.opened_at < end)
        .options(
            selectinload(Order.transitions),
            selectinload(Order.asset).selectinload(Asset.building),
            selectinload(Order.asset).selectinload(Asset.estate),
        )
        .order_by(Order.opened_at, Order.id)
    )
    return [order_record(o) for o in rows]


# --- repairs (for predict/: lifetimes and ``since_repair``) -------------------------------------------------

#: every order type counts as a repair when it is resolved: a corrective order and a resident report end with
#: the crew having fixed the asset; a preventive order is servicing that restores it; an inspection is planned
#: maintenance too — the planner files it like a preventive order, evaluation treats its downtime as planned,
#: and lift maintenance (维保, every 15 days) inspects and services in one visit.
REPAIR_TYPES: tuple[str, ...] = tuple(t.value for t in OrderType)


@dataclass(frozen=True)
class RepairRecord:
    """One repair: an order reaching ``resolved`` (an order reworked and resolved again gives one per visit)."""

    asset_id: str
    kind: str
    order_id: int
    type: str  # corrective | resident_report | preventive | inspection
    preventive: bool  # planned work (preventive or inspection), not the fix of a reported fault
    fault_code: str | None
    at: dt.datetime  # the ``resolved`` transition: when the crew finished the repair


def repairs(
    session: Session,
    start: dt.datetime,
    end: dt.datetime,
    kind: str | None = None,
    types: tuple[str, ...] = REPAIR_TYPES,
) -> list[RepairRecord]:
    """Repairs that ended in ``[start, end)``, in time order: one per ``resolved`` transition of an order of
    ``types`` (cancelled orders never reach it).

    Failures are not returned. A failure is a device's ``fault`` event: InfluxDB holds every one, and the
    timeline's ``faulted`` intervals start at the very same events (:func:`maintenance.handler.handle_event`),
    so they would only repeat them — except that a late fault is moved to the start of the current interval,
    which can put it after the repair that ended it."""
    _window(start, end)
    q = (
        sa.select(Asset.id, Asset.kind, Order.id, Order.type, Order.fault_code, Transition.at)
        .join(Order, Order.id == Transition.order_id)
        .join(Asset, Asset.id == Order.asset_id)
        .where(
            Transition.to_state == OrderState.RESOLVED.value,
            Order.type.in_(types),
            Transition.at >= start,
            Transition.at < end,
        )
        .order_by(Transition.at, Transition.id)
    )
    if kind is not None:
        q = q.where(Asset.kind == kind)
    return [
        RepairRecord(asset, kind_, order_id, otype, otype in PLANNED_TYPES, code, at)
        for asset, kind_, order_id, otype, code, at in session.execute(q)
    ]


def last_repair_times(
    session: Session, before: dt.datetime, kind: str | None = None, types: tuple[str, ...] = REPAIR_TYPES
) -> dict[str, dt.datetime]:
    """Each asset's last repair (``resolved`` transition) strictly before ``before``; assets never repaired
    are absent."""
    if before.tzinfo is None:
        raise ValueError("before must be a timezone-aware (UTC) datetime")
    q = (
        sa.select(Asset.id, sa.func.max(Transition.at))
        .join(Order, Order.id == Transition.order_id)
        .join(Asset, Asset.id == Order.asset_id)
        .where(
            Transition.to_state == OrderState.RESOLVED.value,
            Order.type.in_(types),
            Transition.at < before,
        )
        .group_by(Asset.id)
    )
    if kind is not None:
        q = q.where(Asset.kind == kind)
    return {asset: at for asset, at in session.execute(q) if at is not None}
