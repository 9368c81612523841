"""Pure maintenance logic: state machine, priorities, SLA clocks and targets, crew choice, iCalendar.

Webhook signatures: tests/unit/test_maintenance_signing.py."""

from __future__ import annotations

import datetime as dt
import itertools
from types import SimpleNamespace

import pytest

from facility.contract import AssetKind
from maintenance.assignment import choose_crew
from maintenance.domain import (
    TRANSITIONS,
    CrewProfile,
    InvalidTransition,
    OrderState,
    Priority,
    check_transition,
    fault_priority,
)
from maintenance.ical import calendar
from maintenance.sla import OrderClock, SlaTargets, default_targets, parse_targets, sla_status

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
H = dt.timedelta(hours=1)
M = dt.timedelta(minutes=1)


def test_happy_path_is_allowed_and_final_states_are_final() -> None:
    path = ["created", "assigned", "acknowledged", "in_progress", "resolved", "verified", "closed"]
    for a, b in itertools.pairwise(path):
        check_transition(OrderState(a), OrderState(b))
    assert TRANSITIONS[OrderState.CANCELLED] == ()
    with pytest.raises(InvalidTransition, match="cannot go to 'assigned'; allowed from 'cancelled': none"):
        check_transition(OrderState.CANCELLED, OrderState.ASSIGNED)


@pytest.mark.parametrize("state", list(OrderState))
def test_every_disallowed_transition_raises_naming_the_allowed(state: OrderState) -> None:
    for target in OrderState:
        if target in TRANSITIONS[state]:
            continue
        with pytest.raises(InvalidTransition) as err:
            check_transition(state, target, note="reason")
        assert err.value.allowed == TRANSITIONS[state]
        for allowed in TRANSITIONS[state]:
            assert allowed.value in str(err.value)


def test_rejection_needs_a_reason_and_rework_reopens_resolved_work() -> None:
    with pytest.raises(ValueError, match="needs a reason"):
        check_transition(OrderState.ASSIGNED, OrderState.REJECTED, "")
    check_transition(OrderState.ASSIGNED, OrderState.REJECTED, "part missing")
    for s in (OrderState.RESOLVED, OrderState.VERIFIED, OrderState.CLOSED):
        check_transition(s, OrderState.REOPENED)
    with pytest.raises(InvalidTransition):
        check_transition(OrderState.IN_PROGRESS, OrderState.REOPENED)


def test_fault_priorities() -> None:
    assert fault_priority(AssetKind.ELEVATOR, "entrapment") is Priority.P1
    assert fault_priority(AssetKind.FIRE_ALARM, "power_fault") is Priority.P1
    assert fault_priority(AssetKind.ELEVATOR, "door_fault") is Priority.P2
    assert fault_priority(AssetKind.WATER_PUMP, "dry_run") is Priority.P2
    assert fault_priority(AssetKind.SMART_BIN, "lid_fault") is Priority.P3


def test_default_targets_follow_domain_standards() -> None:
    t = default_targets()
    p2 = t.for_(AssetKind.ELEVATOR, Priority.P2)
    assert (p2.respond, p2.resolve, p2.complex_resolve) == (15 * M, 24 * H, 48 * H)
    assert t.for_(AssetKind.ELEVATOR, Priority.P1).respond == 10 * M


def test_most_specific_rule_wins() -> None:
    t = parse_targets(
        {
            "default": {"respond_minutes": 15, "resolve_hours": 24, "complex_resolve_hours": 48},
            "rule": [
                {"kind": "elevator", "priority": "p1", "respond_minutes": 5},
                {"priority": "p1", "respond_minutes": 10, "resolve_hours": 8},
                {"kind": "elevator", "resolve_hours": 12},
            ],
        }
    )
    e1 = t.for_(AssetKind.ELEVATOR, Priority.P1)
    assert (e1.respond, e1.resolve) == (5 * M, 12 * H)
    assert (
        t.for_(AssetKind.WATER_PUMP, Priority.P1).resolve,
        t.for_(AssetKind.WATER_PUMP, Priority.P2).resolve,
    ) == (
        8 * H,
        24 * H,
    )
    with pytest.raises(ValueError, match="respond_minutes, resolve_hours"):
        parse_targets({"default": {"respond_minutes": 15}})


def test_sla_status_running_met_and_breached() -> None:
    targets: SlaTargets = default_targets()
    clock = OrderClock(AssetKind.ELEVATOR, Priority.P2, T0)
    running = sla_status(clock, T0 + 14 * M, targets)
    assert (running.response_minutes, running.response_breached, running.resolution_breached) == (
        None,
        False,
        False,
    )
    late = sla_status(clock, T0 + 16 * M, targets)
    assert late.response_breached and not late.resolution_breached and late.respond_due == T0 + 15 * M
    done = OrderClock(AssetKind.ELEVATOR, Priority.P2, T0, T0 + 9 * M, T0 + 30 * H)
    s = sla_status(done, T0 + 100 * H, targets)
    assert (s.response_minutes, s.resolution_hours, s.response_breached, s.resolution_breached) == (
        9.0,
        30.0,
        False,
        True,
    )
    complex_ = OrderClock(AssetKind.ELEVATOR, Priority.P2, T0, T0 + 9 * M, T0 + 30 * H, complex=True)
    assert not sla_status(complex_, T0 + 100 * H, targets).resolution_breached
    exactly = OrderClock(AssetKind.ELEVATOR, Priority.P2, T0, T0 + 15 * M)
    assert not sla_status(exactly, T0 + 15 * M, targets).response_breached


def crew(
    cid: str, skills: set[AssetKind], estates: set[str], hours: tuple[int, int] = (0, 24)
) -> CrewProfile:
    return CrewProfile(cid, frozenset(skills), frozenset(estates), hours)


def test_choose_crew_by_skill_estate_duty_and_load() -> None:
    e = AssetKind.ELEVATOR
    crews = [
        crew("a", {e}, {"lvyuan"}),
        crew("b", {e, AssetKind.WATER_PUMP}, {"lvyuan"}),
        crew("c", {AssetKind.FIRE_ALARM}, {"lvyuan"}),
        crew("d", {e}, {"jinhu"}),
        crew("night", {e}, {"lvyuan"}, (22, 6)),
    ]
    day, night = T0, T0.replace(hour=23)
    assert choose_crew(crews, e, "lvyuan", {}, day).id == "a"  # type: ignore[union-attr]
    assert choose_crew(crews, e, "lvyuan", {"a": 2, "b": 1}, day).id == "b"  # type: ignore[union-attr]
    # an idle crew that is off duty loses to a busier crew on duty
    assert choose_crew(crews, e, "lvyuan", {"a": 2, "b": 1, "night": 0}, day).id == "b"  # type: ignore[union-attr]
    assert choose_crew(crews, e, "lvyuan", {"a": 9, "b": 9, "night": 5}, night).id == "night"  # type: ignore[union-attr]
    assert choose_crew(crews, AssetKind.SMART_BIN, "lvyuan", {}, day) is None
    assert choose_crew(crews, e, "anning", {}, day) is None
    with pytest.raises(ValueError, match="working hours"):
        crew("x", {e}, {"a"}, (5, 25))


def test_ical_escapes_folds_and_uses_utc() -> None:
    order = SimpleNamespace(
        id=7,
        type="inspection",
        title="Fire panel check; loop 1, 2 — " + "长" * 30,
        asset_id="lvyuan-b1-fa1",
        priority="p3",
        state="assigned",
        scheduled_for=dt.datetime(2026, 11, 5, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))),
    )
    text = calendar("fire-a", [order], T0)  # type: ignore[list-item]
    lines = text.split("\r\n")
    assert "DTSTART:20261105T020000Z" in lines and "DTSTAMP:20261102T090000Z" in lines
    assert all(len(x.encode()) <= 75 for x in lines)
    unfolded = text.replace("\r\n ", "")
    assert "SUMMARY:[inspection] Fire panel check\\; loop 1\\, 2 — " + "长" * 30 + "\r\n" in unfolded


def test_working_hours_are_local_to_the_crews_time_zone() -> None:
    c = CrewProfile(
        "sh", frozenset({AssetKind.ELEVATOR}), frozenset({"lvyuan"}), (8, 20), timezone="Asia/Shanghai"
    )
    assert c.on_duty(dt.datetime(2026, 11, 2, 1, 0, tzinfo=dt.UTC))  # 09:00 in Shanghai
    assert not c.on_duty(dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.UTC))  # 20:00 in Shanghai
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Base'"):
        CrewProfile("x", frozenset(), frozenset(), timezone="Mars/Base")


def test_planned_work_response_time_runs_from_approval_not_from_the_proposal() -> None:
    # order #70 of the trial: proposed at T0, approved 2 h later, acknowledged 12 min after the approval —
    # the response is 12 minutes (measured from opening it was 132, mostly the wait for approval)
    targets = default_targets()
    approved = T0 + 2 * H
    clock = OrderClock(
        AssetKind.ELEVATOR,
        Priority.P3,
        T0,
        acknowledged_at=approved + 12 * M,
        resolved_at=T0 + 30 * H,
        window_end=T0 + 7 * 24 * H,
        approved_at=approved,
    )
    s = sla_status(clock, T0 + 40 * H, targets)
    assert (s.response_minutes, s.resolution_hours, s.breached) == (12.0, 30.0, False)
    assert s.respond_due == approved + 24 * H  # [planned] respond_hours
    # an unplanned order keeps its clock from opening
    unplanned = OrderClock(AssetKind.ELEVATOR, Priority.P3, T0, acknowledged_at=approved + 12 * M)
    assert sla_status(unplanned, T0 + 40 * H, targets).response_minutes == 132.0
