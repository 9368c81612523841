"""Repairs from the work-order store feed lifetimes (training) and ``since_repair`` (live scoring).

One store (SQLite and PostgreSQL) and one InfluxDB hold the same history of three elevators over 60 days:

- el1: no fault; a preventive order resolved on day 25 — no event reaches InfluxDB;
- el2: fault on day 20, the device's recovery on day 21, the crew resolves the corrective order 20 min later;
- el3 (another estate): fault on day 10, recovery 10.5, resolved an hour later; the same fault again on
  day 15 (rework: the order reopens), recovery 15.5, resolved on day 16.

A fire-alarm preventive order (day 5) and a cancelled inspection of el1 (day 40) are not elevator repairs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.orm import Session

from api.context import AppContext
from api.routes import forecasts as forecasts_route
from facility.contract import AssetKind, Event, EventType, Reading
from facility.settings import Settings
from ingest.influx import InfluxClient
from ingest.lineprotocol import to_lines
from maintenance.db import Database
from maintenance.domain import OrderState, OrderType, Priority
from maintenance.handler import handle_event
from maintenance.models import Order
from maintenance.orders import create_order, transition
from predict.features import DAY_MS, spec_for_kind
from predict.history import Lifetime, MaintenanceRecord, lifetimes_from_records
from predict.influx_training import training_data_influx
from predict.repairs import order_repairs, repair_source
from predict.service import ForecastService
from tests.maint_helpers import T0, seed, small_fleet

pytestmark = pytest.mark.integration

KIND = AssetKind.ELEVATOR
EL1, EL2, EL3, FA1 = "lvyuan-b1-el1", "lvyuan-b1-el2", "jinhu-t1-el1", "lvyuan-b1-fa1"
REFS = {a.id: a.ref for a in small_fleet().assets}
END_DAY = 60.0
START_MS = int(T0.timestamp() * 1000)
END_MS = START_MS + round(END_DAY * DAY_MS)
H = 1 / 24  # an hour, in days


def at(day: float) -> dt.datetime:
    return T0 + dt.timedelta(days=day)


def ms(day: float) -> int:
    return START_MS + round(day * DAY_MS)


def d(day: float) -> float:
    """``day`` days after T0 in epoch days (the unit of MaintenanceRecord and Lifetime), via whole ms."""
    return ms(day) / DAY_MS


def event(asset: str, day: float, etype: EventType) -> Event:
    return Event(REFS[asset], ms(day), etype, "door_fault")


#: the devices' fault and recovery events, as both InfluxDB and the store's event handler receive them
EVENTS = [
    event(EL3, 10, EventType.FAULT),
    event(EL3, 10.5, EventType.RECOVERY),
    event(EL3, 15, EventType.FAULT),
    event(EL3, 15.5, EventType.RECOVERY),
    event(EL2, 20, EventType.FAULT),
    event(EL2, 21, EventType.RECOVERY),
]


def _work(s: Session, order: Order, started: float, resolved: float) -> None:
    """The assigned crew acknowledges and starts at ``started``, resolves at ``resolved`` (days)."""
    actor = f"crew:{order.crew_id}"
    transition(s, order, OrderState.ACKNOWLEDGED, actor, at(started))
    transition(s, order, OrderState.IN_PROGRESS, actor, at(started))
    transition(s, order, OrderState.RESOLVED, actor, at(resolved), "fixed")


def _planned(s: Session, asset: str, otype: OrderType, opened: float, crew: str) -> Order:
    order = create_order(
        s, asset_id=asset, type=otype, priority=Priority.P3, title=f"{otype.value} {asset}", actor="test",
        at=at(opened), scheduled_for=at(opened + 1),
    )  # fmt: skip
    transition(s, order, OrderState.ASSIGNED, "engineer:test", at(opened), crew_id=crew)
    return order


def _order_of(s: Session, outcome_order_id: int | None) -> Order:
    assert outcome_order_id is not None
    order = s.get(Order, outcome_order_id)
    assert order is not None and order.crew_id is not None
    return order


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database.open(db_url)
    with database.transaction() as s:
        seed(s)
        _work(s, _planned(s, FA1, OrderType.PREVENTIVE, 4, "fire-a"), 5 - H, 5)
        _work(s, _planned(s, EL1, OrderType.PREVENTIVE, 23, "lift-a"), 25 - 2 * H, 25)
        cancelled = _planned(s, EL1, OrderType.INSPECTION, 40, "lift-a")
        transition(s, cancelled, OrderState.CANCELLED, "engineer:test", at(41))
        resolutions: dict[tuple[str, float], float] = {
            (EL3, 10): 10.5 + H,
            (EL3, 15): 16,
            (EL2, 20): 21 + 20 / 1440,
        }
        for e in EVENTS:
            outcome = handle_event(s, e, T0)
            day = (e.ts_ms - START_MS) / DAY_MS
            if e.type is EventType.FAULT:
                assert outcome.action == ("reopened" if (e.ref.asset, day) == (EL3, 15) else "opened")
                _work(s, _order_of(s, outcome.order_id), day + H, resolutions[e.ref.asset, day])
    yield database
    database.dispose()


def test_store_repairs_censor_at_preventive_orders_and_merge_with_recovery_events(db: Database) -> None:
    repairs = order_repairs(db, KIND, START_MS, END_MS)
    assert repairs == [
        MaintenanceRecord(EL3, d(10.5 + H), "repair", False),
        MaintenanceRecord(EL3, d(16), "repair", False),  # the reworked order: a second visit
        MaintenanceRecord(EL2, d(21 + 20 / 1440), "repair", False),
        MaintenanceRecord(EL1, d(25), "repair", True),
    ]
    # [start, end): a repair at the end is out, one at the start is in
    assert order_repairs(db, KIND, ms(16), ms(25)) == repairs[1:3]
    assert order_repairs(db, AssetKind.FIRE_ALARM, START_MS, END_MS) == [
        MaintenanceRecord(FA1, d(5), "repair", True)
    ]

    # lifetimes: a preventive order censors, a corrective order does not double anything
    events = [
        MaintenanceRecord(e.ref.asset, e.ts_ms / DAY_MS, "failure" if e.type is EventType.FAULT else "repair")
        for e in EVENTS
    ]
    assets = [EL1, EL2, EL3]
    start, end = d(0), d(END_DAY)
    influx_only = lifetimes_from_records(events, start, end, assets)
    assert influx_only == [
        Lifetime(EL1, start, end, False),  # the preventive visit is invisible
        Lifetime(EL2, start, d(20), True),
        Lifetime(EL2, d(21), end, False),
        Lifetime(EL3, start, d(10), True),
        Lifetime(EL3, d(10.5), d(15), True),
        Lifetime(EL3, d(15.5), end, False),
    ]
    both = lifetimes_from_records(events + repairs, start, end, assets)
    assert both == [
        # the preventive order ends the lifetime censored and starts a new one
        Lifetime(EL1, start, d(25), False),
        Lifetime(EL1, d(25), end, False),
        # recovery + resolved order are one repair: the lifetime starts at the later, nothing in between
        Lifetime(EL2, start, d(20), True),
        Lifetime(EL2, d(21 + 20 / 1440), end, False),
        Lifetime(EL3, start, d(10), True),
        Lifetime(EL3, d(10.5 + H), d(15), True),
        Lifetime(EL3, d(16), end, False),
    ]


@pytest.fixture
def history(influx: InfluxClient) -> InfluxClient:
    """Readings every 6 hours for the three elevators, plus the fault/recovery events."""
    rng = np.random.default_rng(5)
    readings = [
        Reading(
            REFS[a],
            START_MS + k * 6 * 3_600_000,
            {"vibration_mm_s": float(1 + rng.random()), "motor_current_a": float(10 + rng.random()), "trips": 30.0},
        )
        for a in (EL1, EL2, EL3)
        for k in range(int(END_DAY * 4))
    ]  # fmt: skip
    influx.write(to_lines([*readings, *EVENTS]))
    return influx


def _lifetimes_of_rows(
    influx: InfluxClient, extra: list[MaintenanceRecord]
) -> dict[str, set[tuple[float, int]]]:
    """Per asset, the (length, event) of the lifetimes training rows fall in: since_repair + residual life."""
    spec = spec_for_kind(KIND, window_days=7, buckets=7)
    data = training_data_influx(influx, KIND, START_MS, END_MS, spec, 2.0, extra=extra)
    assert data.X["since_repair"].min() >= spec.window  # a full window after every (merged) repair
    out: dict[str, set[tuple[float, int]]] = {}
    for asset, since, left, ev in zip(
        data.groups, data.X["since_repair"], data.time, data.event, strict=True
    ):
        out.setdefault(str(asset), set()).add((round(float(since + left), 6), int(ev)))
    return out


def test_training_rows_and_live_since_repair_start_at_store_repairs(
    db: Database, history: InfluxClient, tmp_path: Path
) -> None:
    assert _lifetimes_of_rows(history, []) == {
        EL1: {(60.0, 0)},
        EL2: {(20.0, 1), (39.0, 0)},
        EL3: {(10.0, 1), (44.5, 0)},  # (10.5, 15) is shorter than the window: no row
    }
    assert _lifetimes_of_rows(history, order_repairs(db, KIND, START_MS, END_MS)) == {
        EL1: {(25.0, 0), (35.0, 0)},
        EL2: {(20.0, 1), (round(39 - 20 / 1440, 6), 0)},
        EL3: {(10.0, 1), (44.0, 0)},
    }

    # live scoring: since_repair counts from the later of the last recovery event and resolved order
    settings = Settings(var_dir=tmp_path / "var")
    with_store = ForecastService(settings, history, small_fleet(), repairs=repair_source(db))
    influx_only = ForecastService(settings, history, small_fleet())
    now_ms = ms(26)
    assert influx_only._last_repair(KIND, now_ms) == {EL2: d(21), EL3: d(15.5)}
    assert with_store._last_repair(KIND, now_ms) == {
        EL1: d(25),  # preventive: the store alone knows
        EL2: d(21 + 20 / 1440),  # the later of recovery and resolution, as in training
        EL3: d(16),
    }
    # strictly before now: on day 25 itself the preventive visit has not ended yet
    assert EL1 not in with_store._last_repair(KIND, ms(25))
    assert repair_source(db)(AssetKind.FIRE_ALARM, now_ms) == {FA1: d(5)}
    # the API's service reads the app's store
    ctx = AppContext(settings, history, {"db": db})
    assert forecasts_route.service(ctx)._last_repair(KIND, now_ms) == with_store._last_repair(KIND, now_ms)
