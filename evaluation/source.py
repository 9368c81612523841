"""Where a rating's data comes from: the fleet file, the maintenance store, InfluxDB events and the
imported external indicators — converted to ``evaluation.inputs`` types here and nowhere else.

Conversion rules (docs/evaluation.md, "Inputs from the store"):

* An asset is installed at midnight UTC of its fleet ``installed`` date.
* A maintenance interval still running (``ongoing``) has no end.
* An ``under_maintenance`` interval belongs to the order that went ``in_progress`` on that asset at the
  interval's start.
* A preventive or inspection order's window is ``[scheduled_for, window_end]``: ``window_end`` is the order's own
  due time (the end of its scheduled window, planned work of maintenance/sla.py ``[planned]``). An order without
  a stored ``window_end`` (older or manual orders) has ``[scheduled_for, scheduled_for + resolve target]``, the
  resolve target of its kind and priority in ``maintenance/sla.toml`` (48 h target when ``complex``).
* ``respond_by`` / ``resolve_by`` are the order's SLA due times from the same targets. Planned work (a stored
  ``window_end``): ``resolve_by`` = ``window_end``; ``respond_by`` = approval + ``[planned] respond_hours``.
* **A proposal never approved is not work**: planned work (a stored ``window_end``) that was never assigned,
  acknowledged, started or resolved has no window and no due times, so ``preventive_on_time_rate`` does not
  count it — not as late while it awaits approval, and not as "preventive work done late" once its window
  passed (it was never accepted as work). Its record stays (type, created, cancelled, rejected) for the other
  figures; once approved it counts against its window like any preventive order.
* ``rejected`` is the first transition to ``rejected``; ``reopened`` = ``rework_count``; ``rework`` =
  ``rework_count > 0``; ``followed_up`` and ``resident_rating`` are taken from the record when the store
  provides them, else unknown.
* **Monitored since** (``AssetInfo.monitored_since``): the earliest evidence that the platform observed the
  asset within the data read — its first telemetry reading, status message or device event in InfluxDB, or
  the start of its first state interval not opened by registration (a fault, recovery, status change or work
  order). The registration interval (in service from the install date) is no evidence: before the first
  evidence the asset's state is unknown. No evidence at all: ``NOT_MONITORED``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from evaluation.external_store import ExternalStore
from evaluation.inputs import (
    NOT_MONITORED,
    AssetInfo,
    AssetState,
    Dataset,
    EstateInfo,
    EventRecord,
    OrderRecord,
    OrderType,
    StateInterval,
)
from evaluation.periods import Period
from facility.contract import AssetKind
from facility.fleet import Fleet

#: how far before a period the store is read (outages, preventive orders and episodes that began earlier)
LOOKBACK = dt.timedelta(days=62)


class Source(Protocol):
    def dataset(self, period: Period, as_of: dt.datetime) -> Dataset: ...


def assets_from_fleet(fleet: Fleet) -> tuple[tuple[AssetInfo, ...], tuple[EstateInfo, ...]]:
    estates = {e.id: e for e in fleet.estates}
    assets = []
    for a in fleet.assets:
        e = estates[a.ref.estate]
        installed = dt.datetime.combine(a.installed, dt.time(), tzinfo=dt.UTC)
        assets.append(AssetInfo(a.id, a.kind.value, e.id, a.ref.building, e.company, e.group, installed))
    infos = tuple(EstateInfo(e.id, e.name, e.group, e.company, e.company_name) for e in fleet.estates)
    return tuple(assets), infos


def monitoring_starts(evidence: Iterable[tuple[str, dt.datetime]]) -> dict[str, dt.datetime]:
    """Asset id → the earliest of its evidence times (a reading, status, event or monitored state change)."""
    out: dict[str, dt.datetime] = {}
    for asset_id, at in evidence:
        if asset_id not in out or at < out[asset_id]:
            out[asset_id] = at
    return out


def with_monitoring(assets: Iterable[AssetInfo], starts: dict[str, dt.datetime]) -> tuple[AssetInfo, ...]:
    return tuple(replace(a, monitored_since=starts.get(a.asset_id, NOT_MONITORED)) for a in assets)


def _starts(order: Any) -> list[dt.datetime]:
    return [t.at for t in order.transitions if t.to_state == "in_progress"]


def intervals_from_maintenance(records: Iterable[Any], orders: Sequence[Any]) -> list[StateInterval]:
    """``maintenance.queries.StateInterval`` → ours, linking maintenance intervals to their order."""
    started: dict[tuple[str, dt.datetime], str] = {}
    for o in orders:
        for at in _starts(o):
            started[(o.asset_id, at)] = str(o.id)
    out = []
    for r in records:
        state = AssetState(r.state)
        order_id = started.get((r.asset_id, r.start)) if state is AssetState.UNDER_MAINTENANCE else None
        ref = f"{r.asset_id}:{r.state}@{r.start.isoformat()}"
        out.append(StateInterval(r.asset_id, state, r.start, None if r.ongoing else r.end, order_id, ref))
    return out


def approved_at(r: Any) -> dt.datetime | None:
    """When planned work was accepted: its first assignment (approval), else its first sign of work."""
    steps = (r.assigned_at, r.acknowledged_at, r.started_at, r.resolved_at)
    return min((at for at in steps if at is not None), default=None)


def _window(r: Any, resolve: dt.timedelta) -> tuple[dt.datetime, dt.datetime] | None:
    """A preventive or inspection order's planned window (module docstring); None: no window."""
    if r.type not in (OrderType.PREVENTIVE.value, OrderType.INSPECTION.value) or not r.scheduled_for:
        return None
    due: dt.datetime | None = getattr(r, "window_end", None)
    if due is None:
        return r.scheduled_for, r.scheduled_for + resolve
    if approved_at(r) is None:  # a proposal never approved: not (yet) work
        return None
    return r.scheduled_for, due


def orders_from_maintenance(records: Iterable[Any], targets: Any | None = None) -> list[OrderRecord]:
    """``maintenance.queries.OrderRecord`` → ours; ``targets``: maintenance SlaTargets (default: sla.toml)."""
    from maintenance.domain import Priority
    from maintenance.sla import default_targets

    targets = targets or default_targets()
    out = []
    for r in records:
        target = targets.for_(AssetKind(r.kind), Priority(r.priority))
        resolve = target.complex_resolve if r.complex else target.resolve
        rejected = next((t.at for t in r.transitions if t.to_state == "rejected"), None)
        window = _window(r, resolve)
        respond_by, resolve_by = r.opened_at + target.respond, r.opened_at + resolve
        if getattr(r, "window_end", None) is not None:  # planned work (module docstring)
            approved = approved_at(r)
            respond_by = None if approved is None else approved + targets.planned_respond
            resolve_by = None if window is None else window[1]
        out.append(
            OrderRecord(
                order_id=str(r.id),
                asset_id=r.asset_id,
                type=OrderType(r.type),
                created=r.opened_at,
                assigned=r.assigned_at,
                acknowledged=r.acknowledged_at,
                in_progress=r.started_at,
                resolved=r.resolved_at,
                verified=r.verified_at,
                closed=r.closed_at,
                rejected=rejected,
                cancelled=r.cancelled_at,
                reopened=int(r.rework_count),
                rework=r.rework_count > 0,
                followed_up=getattr(r, "followed_up", None),
                window_start=None if window is None else window[0],
                window_end=None if window is None else window[1],
                respond_by=respond_by,
                resolve_by=resolve_by,
                fault_code=r.fault_code or "",
                resident_rating=getattr(r, "resident_rating", None),
            )
        )
    return out


@dataclass
class StoreSource:
    """The production source. ``db``: maintenance.db.Database; ``influx``: None to skip device events."""

    fleet: Fleet
    db: Any
    influx: Any | None
    external: ExternalStore

    def dataset(self, period: Period, as_of: dt.datetime) -> Dataset:
        from maintenance import queries
        from maintenance.registry import REGISTERED_CAUSE

        start = period.start - LOOKBACK
        end = max(as_of, period.end)
        with self.db.transaction() as session:
            m_orders = queries.orders(session, start, end)
            m_intervals = queries.state_intervals(session, start, end)
        assets, estates = assets_from_fleet(self.fleet)
        events: list[EventRecord] = []
        evidence = [(r.asset_id, r.start) for r in m_intervals if r.cause != REGISTERED_CAUSE]
        if self.influx is not None:
            from evaluation.events_source import first_seen, load_events

            events = load_events(self.influx, start, end)
            evidence += [(e.asset_id, e.ts) for e in events]
            evidence += list(first_seen(self.influx, start, end).items())
        months = [m.label for m in period.months()]
        return Dataset(
            with_monitoring(assets, monitoring_starts(evidence)),
            tuple(intervals_from_maintenance(m_intervals, m_orders)),
            tuple(orders_from_maintenance(m_orders)),
            tuple(events),
            tuple(self.external.values(months)),
            estates,
            events_loaded=self.influx is not None,
        )
