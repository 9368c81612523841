"""What the metrics consume: plain frozen values, converted at the edge (see ``source.py``).

All timestamps are timezone-aware UTC datetimes. Nothing here reads a clock, a database or InfluxDB.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum


class AssetState(StrEnum):
    IN_SERVICE = "in_service"
    FAULTED = "faulted"
    UNDER_MAINTENANCE = "under_maintenance"
    OFFLINE = "offline"


class OrderType(StrEnum):
    CORRECTIVE = "corrective"
    RESIDENT_REPORT = "resident_report"
    PREVENTIVE = "preventive"
    INSPECTION = "inspection"


#: ``AssetInfo.monitored_since`` of an asset the platform has never observed (all its hours are unknown)
NOT_MONITORED = dt.datetime.max.replace(tzinfo=dt.UTC)

#: order types that react to a failure or a complaint (the service indicators are computed over these)
REACTIVE = frozenset({OrderType.CORRECTIVE, OrderType.RESIDENT_REPORT})


def _aware(name: str, value: dt.datetime | None, owner: str) -> None:
    if value is not None and value.tzinfo is None:
        raise ValueError(f"{owner}: {name} {value} must be timezone-aware (UTC)")


@dataclass(frozen=True)
class AssetInfo:
    """One asset and where it sits in the rating hierarchy (kind → building → estate → company/group)."""

    asset_id: str
    kind: str  # elevator | fire_alarm | water_pump | smart_bin
    estate: str
    building: str
    company: str
    group: str  # the estate's group in the fleet file (old, luxury, ...)
    installed: dt.datetime
    removed: dt.datetime | None = None
    #: from when the platform observed the asset (its first telemetry, status, event or monitored state
    #: change; ``source.py``): hours before it are *unknown*, not in service. ``NOT_MONITORED``: no evidence
    #: at all. None: no separate start is known, the state intervals are taken as they are.
    monitored_since: dt.datetime | None = None

    def __post_init__(self) -> None:
        _aware("installed", self.installed, f"asset {self.asset_id}")
        _aware("removed", self.removed, f"asset {self.asset_id}")
        _aware("monitored_since", self.monitored_since, f"asset {self.asset_id}")

    @property
    def monitored(self) -> bool:
        return self.monitored_since != NOT_MONITORED


@dataclass(frozen=True)
class StateInterval:
    """The asset was in ``state`` from ``start`` until ``end`` (None: still is)."""

    asset_id: str
    state: AssetState
    start: dt.datetime
    end: dt.datetime | None = None
    #: the work order that put the asset in this state (under_maintenance intervals), if known
    order_id: str | None = None
    ref: str = ""  # the store's id of this interval, for drill-down

    def __post_init__(self) -> None:
        owner = f"state interval of {self.asset_id}"
        _aware("start", self.start, owner)
        _aware("end", self.end, owner)
        if self.end is not None and self.end < self.start:
            raise ValueError(f"{owner}: end {self.end} is before start {self.start}; swap or drop it")


@dataclass(frozen=True)
class OrderRecord:
    """A work order with the first time it reached each state (None: never)."""

    order_id: str
    asset_id: str
    type: OrderType
    created: dt.datetime
    assigned: dt.datetime | None = None
    acknowledged: dt.datetime | None = None
    in_progress: dt.datetime | None = None
    resolved: dt.datetime | None = None
    verified: dt.datetime | None = None
    closed: dt.datetime | None = None
    rejected: dt.datetime | None = None
    cancelled: dt.datetime | None = None
    #: how many times the order was reopened after resolution (verification failed or the fault came back)
    reopened: int = 0
    #: the fix did not hold: the same fault came back within 30 days (maintenance's rework flag)
    rework: bool = False
    #: closed orders: the resident / requester was called back (回访); None: not recorded
    followed_up: bool | None = None
    #: preventive and inspection orders: the window the work was planned for
    window_start: dt.datetime | None = None
    window_end: dt.datetime | None = None
    #: the order's own SLA deadlines (None: the scheme's default targets apply)
    respond_by: dt.datetime | None = None
    resolve_by: dt.datetime | None = None
    fault_code: str = ""
    #: the resident's 1..5 rating of the fix, when given
    resident_rating: int | None = None

    def __post_init__(self) -> None:
        if self.resident_rating is not None and not 1 <= self.resident_rating <= 5:
            raise ValueError(f"order {self.order_id}: resident rating {self.resident_rating} must be 1..5")
        for name in (
            "created",
            "assigned",
            "acknowledged",
            "in_progress",
            "resolved",
            "verified",
            "closed",
            "rejected",
            "cancelled",
            "window_start",
            "window_end",
            "respond_by",
            "resolve_by",
        ):
            _aware(name, getattr(self, name), f"order {self.order_id}")
        if self.reopened < 0:
            raise ValueError(f"order {self.order_id}: reopened count {self.reopened} must be >= 0")

    @property
    def responded(self) -> dt.datetime | None:
        """First acknowledgement; an order started without an explicit acknowledgement counts from then."""
        return self.acknowledged or self.in_progress

    @property
    def scheduled_ahead(self) -> bool:
        """A planned order created before its window opened."""
        return self.window_start is not None and self.created <= self.window_start


@dataclass(frozen=True)
class EventRecord:
    """A device event (the ``events`` measurement): ``type`` is fault/recovery/alarm/alarm_clear;
    ``outcome``: what staff confirmed an alarm was (``facility.contract.AlarmOutcome``), "" if not given."""

    asset_id: str
    kind: str
    type: str
    code: str
    ts: dt.datetime
    detail: str = ""
    outcome: str = ""

    def __post_init__(self) -> None:
        _aware("ts", self.ts, f"event of {self.asset_id}")


@dataclass(frozen=True)
class ExternalValue:
    """An indicator the facility data cannot see (survey, 12345 hotline, inspection), per estate and month."""

    estate: str
    month: str  # 2026-10
    indicator: str
    value: float
    #: respondents / complaints behind the value (weights the company average); 0: unknown
    count: int = 0
    source: str = ""


@dataclass(frozen=True)
class EstateInfo:
    """An estate as rated: its group decides whom it is compared with; ``company`` is who manages it."""

    estate: str
    name: str
    group: str
    company: str
    company_name: str


@dataclass(frozen=True)
class Dataset:
    """Everything the metrics of one period need. ``subset`` narrows it to some assets."""

    assets: tuple[AssetInfo, ...]
    intervals: tuple[StateInterval, ...] = ()
    orders: tuple[OrderRecord, ...] = ()
    events: tuple[EventRecord, ...] = ()
    external: tuple[ExternalValue, ...] = ()
    estates: tuple[EstateInfo, ...] = ()
    #: False when device events could not be read: event counts are then "no data", not zero
    events_loaded: bool = True
    _ids: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_ids", frozenset(a.asset_id for a in self.assets))

    def subset(self, asset_ids: Iterable[str]) -> Dataset:
        keep = frozenset(asset_ids) & self._ids
        estates = {a.estate for a in self.assets if a.asset_id in keep}
        return Dataset(
            tuple(a for a in self.assets if a.asset_id in keep),
            tuple(i for i in self.intervals if i.asset_id in keep),
            tuple(o for o in self.orders if o.asset_id in keep),
            tuple(e for e in self.events if e.asset_id in keep),
            tuple(x for x in self.external if x.estate in estates),
            tuple(e for e in self.estates if e.estate in estates),
            self.events_loaded,
        )

    def where(self, **match: str) -> Dataset:
        """Assets whose fields equal the given values, e.g. ``where(company="pc-anju", kind="elevator")``."""
        return self.subset(
            a.asset_id for a in self.assets if all(getattr(a, k) == v for k, v in match.items())
        )
