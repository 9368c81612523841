"""The planner's rules: threshold, before the window, capacity, working hours, no duplicates, approval."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

import pytest

from facility.contract import AssetKind
from maintenance.domain import Priority
from maintenance.sla import OrderClock, default_targets, sla_status
from predict.forecast import Driver, Forecast
from predict.planner import CrewSpec, PlannerSettings, plan_work_orders, threshold_from_backtest

UTC = dt.UTC
NOW = dt.datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai
SETTINGS = PlannerSettings(risk_threshold=0.9, work_hours=(8, 17), job_hours=2.0, tz="Asia/Shanghai")


def fc(asset: str, p30: float, crit: int = 3, window_in_days: float | None = 10.0) -> Forecast:
    start = None if window_in_days is None else NOW + dt.timedelta(days=window_in_days)
    return Forecast(
        asset=asset,
        kind="elevator",
        now=NOW,
        model_version="v1",
        curve_days=(0.0, 7.0, 30.0, 90.0),
        survival=(1.0, 1 - p30 / 2, 1 - p30, max(0.0, 1 - 2 * p30)),
        p_fail={7: p30 / 2, 30: p30, 90: min(1.0, 2 * p30)},
        window_start=start,
        window_end=None if start is None else start + dt.timedelta(days=20),
        criticality=crit,
        risk_horizon_days=30,
        risk=p30 * crit,
        drivers=(Driver("vibration_mm_s__trend", 0.4, 0.8),),
    )


def test_only_assets_at_or_above_the_threshold_get_orders() -> None:
    orders = plan_work_orders(
        [fc("a", 0.31), fc("b", 0.29), fc("c", 0.2, crit=5)], [], {"crew1": 4}, NOW, SETTINGS
    )
    assert [o.asset for o in orders] == ["c", "a"]  # 1.0 and 0.93 pass 0.9 (riskier first); 0.87 does not


def test_orders_are_scheduled_before_the_window_opens_earliest_deadline_first() -> None:
    forecasts = [fc("late-window", 0.5, window_in_days=6), fc("soon", 0.5, window_in_days=1.2), fc("x", 0.5)]
    orders = plan_work_orders(forecasts, [], {"crew1": 1}, NOW, SETTINGS)
    assert [o.asset for o in orders] == ["soon", "late-window", "x"]
    for o in orders:
        assert o.window_start is not None and o.end <= o.window_start
        assert not o.late


def test_crew_capacity_per_day_is_respected() -> None:
    forecasts = [fc(f"a{i}", 0.5, window_in_days=30) for i in range(9)]
    orders = plan_work_orders(forecasts, [], {"crew1": 2, "crew2": 1}, NOW, SETTINGS)
    assert len(orders) == 9
    per_day: dict[tuple[str, dt.date], int] = {}
    for o in orders:
        key = (o.crew, o.start.astimezone(ZoneInfo("Asia/Shanghai")).date())
        per_day[key] = per_day.get(key, 0) + 1
    assert max(n for (crew, _), n in per_day.items() if crew == "crew1") == 2
    assert max(n for (crew, _), n in per_day.items() if crew == "crew2") == 1
    # the same crew never has two orders at once
    slots = [(o.crew, o.start) for o in orders]
    assert len(slots) == len(set(slots))


def test_orders_fall_in_working_hours_on_working_days_and_not_in_the_past() -> None:
    friday_evening = dt.datetime(2026, 11, 27, 9, 30, tzinfo=UTC)  # 17:30 Friday in Shanghai
    forecasts = [fc(f"a{i}", 0.5, window_in_days=30) for i in range(6)]
    orders = plan_work_orders(forecasts, [], {"crew1": 4}, friday_evening, SETTINGS)
    tz = ZoneInfo("Asia/Shanghai")
    for o in orders:
        start, end = o.start.astimezone(tz), o.end.astimezone(tz)
        assert start.weekday() < 5
        assert start.hour >= 8 and (end.hour, end.minute) <= (17, 0)
        assert o.start >= friday_evening
    assert orders[0].start.astimezone(tz) == dt.datetime(2026, 11, 30, 8, 0, tzinfo=tz)  # Monday 08:00


def test_no_order_when_one_is_open_and_no_duplicates() -> None:
    @dataclass(frozen=True)
    class Open:
        asset_id: str

    forecasts = [fc("a", 0.5), fc("a", 0.6), fc("b", 0.5), fc("c", 0.5)]
    orders = plan_work_orders(forecasts, [Open("b"), "c"], {"crew1": 4}, NOW, SETTINGS)
    assert [o.asset for o in orders] == ["a"]
    assert orders[0].probability == pytest.approx(0.6)


def test_approval_required_by_default_and_reasons_on_the_order() -> None:
    [order] = plan_work_orders([fc("a", 0.5)], [], {"crew1": 1}, NOW, SETTINGS)
    assert order.requires_approval
    text = " | ".join(r.text("en") for r in order.reasons)
    assert "P(failure within 30 d) = 50.0%" in text
    assert "risk 1.50 = probability 0.50 × criticality 3 ≥ threshold 0.90" in text
    assert "vibration_mm_s__trend (+0.80)" in text
    auto = PlannerSettings(risk_threshold=0.9, auto_approve=True)
    [order] = plan_work_orders([fc("a", 0.5)], [], {"crew1": 1}, NOW, auto)
    assert not order.requires_approval


def test_an_order_that_cannot_make_the_window_is_flagged_late() -> None:
    forecasts = [fc("a", 0.5, window_in_days=0.05), fc("b", 0.5, window_in_days=0.06)]
    orders = plan_work_orders(forecasts, [], {"crew1": 1}, NOW, SETTINGS)
    assert [o.late for o in orders] == [True, True]
    assert orders[0].reasons[-1].code == "late"
    assert orders[0].reasons[-1].text("en").startswith("late:")


def test_threshold_from_backtest_and_bad_settings() -> None:
    assert threshold_from_backtest(0.3) == pytest.approx(0.9)
    with pytest.raises(ValueError, match=r"work_hours must be \(start, end\)"):
        PlannerSettings(work_hours=(18, 8))
    with pytest.raises(ValueError, match="timezone-aware"):
        plan_work_orders([], [], {}, dt.datetime(2026, 1, 1), SETTINGS)


def test_per_kind_thresholds_override_the_default() -> None:
    pump = fc("pump", 0.2)
    pump = Forecast(**{**pump.__dict__, "kind": "water_pump"})
    cfg = PlannerSettings(risk_threshold=0.9, kind_thresholds={"water_pump": 0.5}, tz="Asia/Shanghai")
    orders = plan_work_orders([pump, fc("lift", 0.2)], [], {"crew1": 4}, NOW, cfg)
    assert [o.asset for o in orders] == ["pump"]  # 0.6 passes the pump's 0.5; the lift's 0.6 misses 0.9
    assert "≥ threshold 0.50" in orders[0].reasons[1].text("en")


def kind_fc(asset: str, kind: str, p30: float = 0.5) -> Forecast:
    f = fc(asset, p30, window_in_days=None)
    return Forecast(**{**f.__dict__, "kind": kind})


def test_only_crews_with_the_kind_skill_in_the_asset_estate_within_their_hours_and_capacity() -> None:
    crews = [
        CrewSpec("bins", frozenset({"smart_bin"}), frozenset({"e1"}), capacity=5),
        CrewSpec(
            "lifts-e1", frozenset({"elevator"}), frozenset({"e1"}), (9, 12), "Asia/Shanghai", capacity=1
        ),
        CrewSpec("lifts-e2", frozenset({"elevator"}), frozenset({"e2"}), capacity=2),
    ]
    forecasts = [kind_fc(f"l{i}", "elevator") for i in range(4)] + [kind_fc("p1", "water_pump")]
    estates = {"l0": "e1", "l1": "e1", "l2": "e2", "l3": "e2", "p1": "e1"}
    orders = plan_work_orders(forecasts, [], crews, NOW, SETTINGS, estates=estates)
    by_asset = {o.asset: o for o in orders}
    assert "p1" not in by_asset  # no crew has the pump skill: not planned, not given to the bin crew
    assert {by_asset[a].crew for a in ("l0", "l1")} == {"lifts-e1"}
    assert {by_asset[a].crew for a in ("l2", "l3")} == {"lifts-e2"}
    sh = ZoneInfo("Asia/Shanghai")
    e1 = sorted(by_asset[a].start.astimezone(sh) for a in ("l0", "l1"))
    # one job a day, inside 09–12 local (NOW is 09:00 on Monday): today and tomorrow
    assert [t.hour for t in e1] == [9, 9] and e1[1].date() - e1[0].date() == dt.timedelta(days=1)
    assert all(by_asset[a].end.astimezone(sh).hour <= 12 for a in ("l0", "l1"))


def test_no_proposal_within_the_cool_down_after_a_visit_unless_new_evidence() -> None:
    forecasts = [fc("visited", 0.5), fc("alarmed", 0.5), fc("long-ago", 0.5), fc("open", 0.5)]
    visits = {
        "visited": NOW - dt.timedelta(days=3),
        "alarmed": NOW - dt.timedelta(days=3),
        "long-ago": NOW - dt.timedelta(days=30),
    }
    evidence = {"alarmed": NOW - dt.timedelta(days=1), "visited": NOW - dt.timedelta(days=5)}
    cfg = PlannerSettings(risk_threshold=0.9, default_cooldown_days=14)
    orders = plan_work_orders(forecasts, ["open"], {"c": 9}, NOW, cfg, last_visits=visits, evidence=evidence)
    assert sorted(o.asset for o in orders) == ["alarmed", "long-ago"]


def test_a_proposal_has_a_scheduled_window_ending_by_its_deadline() -> None:
    orders = plan_work_orders(
        [fc("a", 0.5, window_in_days=3), fc("b", 0.5, window_in_days=None)], [], {"c": 3}, NOW, SETTINGS
    )
    a, b = sorted(orders, key=lambda o: o.asset)
    assert a.due == NOW + dt.timedelta(days=3)  # the failure window opens then
    assert b.due == b.start + dt.timedelta(days=SETTINGS.window_days)


def test_planned_work_has_no_response_clock_until_approved_and_is_due_at_the_window_end() -> None:
    targets = default_targets()
    opened = NOW
    window_end = NOW + dt.timedelta(days=2)
    waiting = OrderClock(AssetKind.ELEVATOR, Priority.P3, opened, window_end=window_end)
    # a day later, still awaiting approval: no breach (a 15-minute response clock would have breached)
    assert not sla_status(waiting, NOW + dt.timedelta(days=1), targets).breached
    late = sla_status(waiting, window_end + dt.timedelta(minutes=1), targets)
    assert late.resolution_breached and not late.response_breached and late.resolve_due == window_end
    approved = OrderClock(
        AssetKind.ELEVATOR,
        Priority.P3,
        opened,
        window_end=window_end,
        approved_at=NOW + dt.timedelta(hours=3),
    )
    status = sla_status(approved, NOW + dt.timedelta(hours=28), targets)
    assert status.respond_due == NOW + dt.timedelta(hours=27) and status.response_breached
    done = OrderClock(
        AssetKind.ELEVATOR,
        Priority.P3,
        opened,
        acknowledged_at=NOW + dt.timedelta(hours=4),
        resolved_at=NOW + dt.timedelta(days=1),
        window_end=window_end,
        approved_at=NOW + dt.timedelta(hours=3),
    )
    assert not sla_status(done, NOW + dt.timedelta(days=5), targets).breached


def test_a_calendar_under_the_predictions_makes_an_asset_due_whatever_its_risk() -> None:
    cfg = PlannerSettings(risk_threshold=0.9, max_interval_days={"elevator": 15})
    visits = {"due": NOW - dt.timedelta(days=16), "recent": NOW - dt.timedelta(days=14.5)}
    orders = plan_work_orders(
        [fc("due", 0.05), fc("recent", 0.05)], [], {"c": 3}, NOW, cfg, last_visits=visits
    )
    assert [o.asset for o in orders] == ["due"] and orders[0].reasons[1].text("en").startswith(
        "calendar: the last visit"
    )


def test_no_predictive_proposal_below_the_kinds_kaplan_meier_rate_whatever_the_criticality() -> None:
    # risk threshold 3 x 0.30: a criticality-5 lift passes at P 0.19 by risk alone; the floor 0.27 (the kind's
    # Kaplan-Meier 30-day rate) keeps it out, a criticality-5 lift at P 0.28 (above the typical lift) gets one
    cfg = PlannerSettings(
        kind_thresholds={"elevator": 0.9}, min_probability={"elevator": 0.27}, tz="Asia/Shanghai"
    )
    forecasts = [fc("below", 0.19, crit=5), fc("above", 0.28, crit=5), fc("typical", 0.31)]
    orders = plan_work_orders(forecasts, [], {"crew1": 4}, NOW, cfg)
    assert sorted(o.asset for o in orders) == ["above", "typical"]
    assert cfg.floor("elevator") == 0.27 and cfg.floor("water_pump") == 0.0
    # without the floor the first is proposed: the check is what keeps it out
    assert len(plan_work_orders(forecasts, [], {"crew1": 4}, NOW, replace(cfg, min_probability={}))) == 3


def test_a_kind_without_a_threshold_gets_no_predictive_proposals_but_keeps_its_calendar() -> None:
    cfg = PlannerSettings(
        kind_thresholds={"elevator": math.inf}, max_interval_days={"elevator": 15.0}, tz="Asia/Shanghai"
    )
    last = {"due": NOW - dt.timedelta(days=16), "sure": NOW - dt.timedelta(days=2)}
    orders = plan_work_orders(
        [fc("sure", 0.99, crit=5), fc("due", 0.1)], [], {"crew1": 4}, NOW, cfg, last_visits=last
    )
    assert [o.asset for o in orders] == ["due"]
    assert "∞" in orders[0].reasons[1].text("en")
