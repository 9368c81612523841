"""The maintenance store on SQLite and PostgreSQL: registry, events → orders, timeline, locking, queries."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from facility.contract import AssetKind, AssetRef, Event, EventType, Status
from maintenance import queries, timeline
from maintenance.db import Database
from maintenance.domain import InvalidTransition, OrderState
from maintenance.handler import Outcome, handle_event
from maintenance.history import replay
from maintenance.models import Asset, Crew, Order
from maintenance.orders import ConcurrentUpdate, auto_assign, get_order, transition
from maintenance.registry import RegistryError, export_csv, import_csv
from tests.maint_helpers import T0, seed

pytestmark = pytest.mark.integration
EL = AssetRef("lvyuan", "b1", AssetKind.ELEVATOR, "lvyuan-b1-el1")


def ms(t: dt.datetime) -> int:
    return int(t.timestamp() * 1000)


def fault(at: dt.datetime, code: str = "door_fault", ref: AssetRef = EL) -> Event:
    return Event(ref, ms(at), EventType.FAULT, code)


def oid_of(outcome: Outcome) -> int:
    assert outcome.order_id is not None, outcome
    return outcome.order_id


@pytest.fixture
def db(db_url: str):
    database = Database.open(db_url)
    with database.transaction() as s:
        seed(s)
    yield database
    database.dispose()


def test_registry_csv_round_trip_and_bad_row_changes_nothing(db: Database) -> None:
    with db.transaction() as s:
        text = export_csv(s)
    lines = text.splitlines()
    assert len(lines) == 1 + 6
    assert (
        "lvyuan-b1-el1,elevator,lvyuan,lvyuan,old,pc-anju,Anju,b1,b1,11,traction-1000kg,2010-01-01,4,"
        in lines
    )
    with db.transaction() as s:
        edited = text.replace("traction-1000kg,2010-01-01,4", "KONE,2012-05-01,5", 1)
        assert import_csv(s, edited) == 6
    with db.transaction() as s:
        a = s.get(Asset, "lvyuan-b1-el1")
        assert a is not None
        assert (a.model, a.installed, a.criticality) == ("KONE", dt.date(2012, 5, 1), 5)
    bad = text + "new-el9,elevator,lvyuan,lvyuan,old,pc-anju,Anju,b1,b1,11,m,2020-01-01,9,\n"
    with (
        pytest.raises(RegistryError, match=r"CSV line 8: criticality must be 1\.\.5, got 9"),
        db.transaction() as s,
    ):
        import_csv(s, bad.replace("lvyuan-b1-fa1", "lvyuan-b1-fa1x"))
    with db.transaction() as s:
        assert s.get(Asset, "lvyuan-b1-fa1x") is None
        assert s.scalar(sa.select(sa.func.count()).select_from(Asset)) == 6


def test_fault_opens_one_assigned_order_and_lifecycle_drives_the_timeline(db: Database) -> None:
    with db.transaction() as s:
        out = handle_event(s, fault(T0), T0)
        assert (out.action, out.crew_id) == ("opened", "lift-a")
        again = handle_event(s, fault(T0 + dt.timedelta(minutes=1)), T0)
        assert (again.action, again.order_id) == ("duplicate", out.order_id)
        assert out.order_id is not None
        order_id = out.order_id
    steps = [(OrderState.ACKNOWLEDGED, 12), (OrderState.IN_PROGRESS, 30), (OrderState.RESOLVED, 150)]
    for state, minutes in steps:
        with db.transaction() as s:
            transition(s, get_order(s, order_id), state, "crew:lift-a", T0 + dt.timedelta(minutes=minutes))
    with db.transaction() as s:
        handle_event(s, Event(EL, ms(T0 + dt.timedelta(minutes=140)), EventType.RECOVERY, "door_fault"), T0)
        order = get_order(s, order_id)
        assert order.priority == "p2"
        assert order.recovered_at == T0 + dt.timedelta(minutes=140)
        assert [(t.from_state, t.to_state, t.actor) for t in order.transitions] == [
            (None, "created", "system:events"),
            ("created", "assigned", "system:events"),
            ("assigned", "acknowledged", "crew:lift-a"),
            ("acknowledged", "in_progress", "crew:lift-a"),
            ("in_progress", "resolved", "crew:lift-a"),
        ]
        states = [(r.state, r.start_at, r.end_at) for r in timeline.history(s, EL.asset)]
    installed = dt.datetime(2010, 1, 1, tzinfo=dt.UTC)
    assert states == [
        ("in_service", installed, T0),
        ("faulted", T0, T0 + dt.timedelta(minutes=30)),
        ("under_maintenance", T0 + dt.timedelta(minutes=30), T0 + dt.timedelta(minutes=150)),
        ("in_service", T0 + dt.timedelta(minutes=150), None),
    ]
    with db.transaction() as s:
        window = queries.state_intervals(s, T0 - dt.timedelta(hours=1), T0 + dt.timedelta(hours=5))
        recs = queries.orders(s, T0, T0 + dt.timedelta(days=1))
    el1 = [(i.state, i.seconds) for i in window if i.asset_id == EL.asset]
    assert el1 == [
        ("in_service", 3600.0),
        ("faulted", 1800.0),
        ("under_maintenance", 7200.0),
        ("in_service", 9000.0),
    ]
    assert {i.asset_id for i in window} == {
        "lvyuan-b1-el1",
        "lvyuan-b1-el2",
        "lvyuan-b1-fa1",
        "lvyuan-b1-sb1",
        "jinhu-t1-el1",
        "jinhu-t1-wp1",
    }
    (rec,) = recs
    assert (rec.company, rec.group, rec.building, rec.crew_id) == ("pc-anju", "old", "b1", "lift-a")
    assert rec.acknowledged_at == T0 + dt.timedelta(minutes=12)
    assert rec.resolved_at == T0 + dt.timedelta(minutes=150)
    assert rec.rework_count == 0 and len(rec.transitions) == 5


def test_entrapment_and_fire_faults_are_p1_and_load_balances(db: Database) -> None:
    fa = AssetRef("lvyuan", "b1", AssetKind.FIRE_ALARM, "lvyuan-b1-fa1")
    with db.transaction() as s:
        a = handle_event(s, fault(T0, "entrapment"), T0)
        b = handle_event(s, fault(T0, "loop_fault", fa), T0)
        c = handle_event(
            s, fault(T0, "drive_fault", AssetRef("jinhu", "t1", AssetKind.ELEVATOR, "jinhu-t1-el1")), T0
        )
        prio = {o.id: (o.priority, o.crew_id) for o in s.scalars(sa.select(Order))}
    assert prio[oid_of(a)] == ("p1", "lift-a")
    assert prio[oid_of(b)] == ("p1", "fire-a")
    assert prio[oid_of(c)] == ("p2", "all-j")


def test_same_fault_within_30_days_of_resolution_reopens_as_rework(db: Database) -> None:
    with db.transaction() as s:
        oid = oid_of(handle_event(s, fault(T0), T0))
        o = get_order(s, oid)
        for i, st in enumerate([OrderState.ACKNOWLEDGED, OrderState.IN_PROGRESS, OrderState.RESOLVED]):
            transition(s, o, st, "crew:lift-a", T0 + dt.timedelta(hours=i + 1))
        out = handle_event(s, fault(T0 + dt.timedelta(days=29)), T0)
        assert (out.action, out.order_id, out.crew_id) == ("reopened", oid, "lift-a")
        assert (o.state, o.rework_count) == ("assigned", 1)
        for i, st in enumerate([OrderState.ACKNOWLEDGED, OrderState.IN_PROGRESS, OrderState.RESOLVED]):
            transition(s, o, st, "crew:lift-a", T0 + dt.timedelta(days=29, hours=i + 1))
        late = handle_event(s, fault(T0 + dt.timedelta(days=29 + 31)), T0)
        assert late.action == "opened" and late.order_id != oid


def test_invalid_transition_names_allowed_and_rejection_needs_reason(db: Database) -> None:
    with db.transaction() as s:
        o = get_order(s, oid_of(handle_event(s, fault(T0), T0)))
        with pytest.raises(
            InvalidTransition, match="allowed from 'assigned': assigned, acknowledged, rejected"
        ):
            transition(s, o, OrderState.RESOLVED, "x", T0)
        with pytest.raises(ValueError, match="needs a reason"):
            transition(s, o, OrderState.REJECTED, "x", T0, note=" ")
        transition(s, o, OrderState.REJECTED, "crew:lift-a", T0, note="no spare part")
        with pytest.raises(ValueError, match="assigning needs a crew"):
            transition(s, o, OrderState.ASSIGNED, "eng", T0)
        s.add(Crew(id="lift-b", name="Lift B", skills=["elevator"], estates=["lvyuan"]))
        s.flush()
        crew = auto_assign(s, o, "eng", T0)  # the crew that refused is passed over
        assert crew is not None and crew.id == "lift-b" == o.crew_id
        transition(s, o, OrderState.ASSIGNED, "eng", T0, crew_id="all-j")
        assert o.crew_id == "all-j"
        assert [t.to_state for t in o.transitions][-3:] == ["rejected", "assigned", "assigned"]


def test_optimistic_locking_does_not_lose_a_transition(db: Database) -> None:
    with db.transaction() as s:
        oid = oid_of(handle_event(s, fault(T0), T0))
    s1, s2 = db.sessions(), db.sessions()
    try:
        o1, o2 = get_order(s1, oid), get_order(s2, oid)
        assert o1.version == o2.version
        transition(s1, o1, OrderState.ACKNOWLEDGED, "crew:a", T0)
        s1.commit()
        with pytest.raises(ConcurrentUpdate, match="changed by someone else"):
            transition(s2, o2, OrderState.REJECTED, "crew:b", T0, note="busy")
        s2.rollback()
    finally:
        s1.close()
        s2.close()
    with db.transaction() as s:
        assert [t.to_state for t in get_order(s, oid).transitions] == ["created", "assigned", "acknowledged"]


def test_offline_and_back_restores_previous_state(db: Database) -> None:
    with db.transaction() as s:
        handle_event(s, fault(T0), T0)
        handle_event(s, Status(EL, ms(T0 + dt.timedelta(minutes=5)), False), T0)
        handle_event(s, Status(EL, ms(T0 + dt.timedelta(minutes=9)), True), T0)
        assert [r.state for r in timeline.history(s, EL.asset)] == [
            "in_service",
            "faulted",
            "offline",
            "faulted",
        ]


@dataclass(frozen=True)
class Repair:
    ts: int
    asset: str
    code: str = ""
    preventive: bool | None = False
    was_down: bool | None = True


def test_history_replay_builds_past_orders_and_timeline(db: Database) -> None:
    h = dt.timedelta(hours=1)
    messages = [
        fault(T0),
        fault(T0 + h),  # repeated event: no second order
        Event(EL, ms(T0 + 3 * h), EventType.RECOVERY, "door_fault"),
    ]
    repairs = [
        Repair(ms(T0 + 3 * h), EL.asset, "door_fault"),
        Repair(ms(T0 + 30 * h), EL.asset, "", True, False),
    ]
    with db.transaction() as s:
        counts = replay(s, messages, repairs, T0)
    assert counts == {"opened": 1, "duplicate": 1, "recovered": 1, "fixed": 1, "preventive": 1}
    with db.transaction() as s:
        recs = queries.orders(s, T0, T0 + 2 * 24 * h)
        states = [(r.state, r.start_at, r.end_at) for r in timeline.history(s, EL.asset)]
    assert [(r.type, r.state, r.crew_id) for r in recs] == [
        ("corrective", "closed", "lift-a"),
        ("preventive", "closed", "lift-a"),
    ]
    fix = recs[0]
    assert (fix.opened_at, fix.acknowledged_at, fix.resolved_at, fix.closed_at) == (
        T0,
        T0 + 3 * h,
        T0 + 3 * h,
        T0 + 3 * h,
    )
    assert states == [
        ("in_service", dt.datetime(2010, 1, 1, tzinfo=dt.UTC), T0),
        ("faulted", T0, T0 + 3 * h),
        ("in_service", T0 + 3 * h, None),  # an instant visit leaves no zero-length interval
    ]


def test_migrations_match_the_models(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from maintenance.db import make_engine, migrate
    from runtime.schema import Base

    migrate(db_url)
    migrate(db_url)  # idempotent
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_alarms_and_unknown_assets_open_nothing(db: Database) -> None:
    fa = AssetRef("lvyuan", "b1", AssetKind.FIRE_ALARM, "lvyuan-b1-fa1")
    ghost = AssetRef("lvyuan", "b1", AssetKind.ELEVATOR, "ghost-el")
    with db.transaction() as s:
        assert handle_event(s, Event(fa, ms(T0), EventType.ALARM, "fire_alarm"), T0).action == "ignored"
        assert handle_event(s, fault(T0, ref=ghost), T0).action == "unknown_asset"
        assert handle_event(s, Event(EL, ms(T0), EventType.RECOVERY, "door_fault"), T0).action == "recovered"
        assert s.scalar(sa.select(sa.func.count()).select_from(Order)) == 0
        assert [r.state for r in timeline.history(s, fa.asset)] == ["in_service"]


def test_processes_and_threads_starting_together_all_migrate(pg_server: str) -> None:
    import secrets
    import subprocess
    import sys
    import threading
    import time

    from maintenance.db import migrate
    from tests.conftest import REPO, _pg_execute

    name = f"t_mig_{secrets.token_hex(5)}"
    _pg_execute(pg_server, f'CREATE DATABASE "{name}"')
    url = f"{pg_server}/{name}"
    errors: list[BaseException] = []

    def run() -> None:
        try:
            migrate(url)
        except BaseException as exc:
            errors.append(exc)

    try:
        go = time.time() + 2.5  # all start migrating at the same moment, once the interpreters are up
        code = (
            "import time; from maintenance.db import migrate; "
            f"time.sleep(max(0.0, {go} - time.time())); migrate({url!r})"
        )
        procs = [
            subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stderr=subprocess.PIPE) for _ in range(3)
        ]
        threads = [threading.Thread(target=run) for _ in range(2)]
        time.sleep(max(0.0, go - time.time()))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        outs = [(p.wait(timeout=60), p.stderr.read().decode() if p.stderr else "") for p in procs]
        assert errors == []
        assert [rc for rc, _ in outs] == [0, 0, 0], outs
    finally:
        _pg_execute(pg_server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
