"""Alarm rules: validation names the bad input; pure evaluation of each rule type; safe URLs."""

from __future__ import annotations

import pytest

from facility.contract import AssetKind, AssetRef, Event, EventType, Reading, Status
from maintenance.alarms.evaluate import IDLE, Action, on_message, on_tick
from maintenance.alarms.rules import (
    DEFAULT_RULES,
    Rule,
    RuleError,
    RuleType,
    Severity,
    defaults_for,
    effective,
)
from maintenance.safe_url import UnsafeUrl, check_url

PUMP = AssetRef("jinhu", "t1", AssetKind.WATER_PUMP, "jinhu-t1-wp1")
LIFT = AssetRef("lvyuan", "b1", AssetKind.ELEVATOR, "lvyuan-b1-el1")
MIN = 60_000


def reading(ms: int, **values: float) -> Reading:
    return Reading(PUMP, ms, values)


def run(rule: Rule, messages: list) -> list[tuple[str, int, int]]:
    state, out = IDLE, []
    for m in messages:
        state, sig = on_message(rule, state, m)
        if sig is not None:
            out.append((sig.action.value, sig.at_ms, sig.count))
    return out


def test_defaults_cover_every_kind_and_validate() -> None:
    assert {r.kind for r in DEFAULT_RULES} == set(AssetKind)
    assert defaults_for(AssetKind.ELEVATOR)["entrapment"].order is not None
    rep = defaults_for(AssetKind.WATER_PUMP)["low_pressure_repeated"]
    assert (rep.params["count"], rep.params["window_s"]) == (3, 86400.0)


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"field": "pressure", "op": "<", "value": 0.2}, "params.field", "has no field 'pressure'"),
        ({"field": "outlet_pressure_mpa", "op": "<", "value": 0.2, "unit": "bar"}, "params.unit", "'MPa'"),
        ({"field": "outlet_pressure_mpa", "op": "<", "value": 9.0}, "params.value", "outside"),
        ({"field": "outlet_pressure_mpa", "op": "<", "value": 0.2, "colour": 1}, "params.colour", "unknown"),
        (
            {"field": "outlet_pressure_mpa", "op": "<", "value": 0.3, "clear": 0.2},
            "params.clear",
            "hysteresis",
        ),
    ],
)
def test_bad_rules_name_what_is_wrong(params: dict, field: str, words: str) -> None:
    with pytest.raises(RuleError, match=words) as info:
        Rule("x", AssetKind.WATER_PUMP, RuleType.THRESHOLD, Severity.MAJOR, params)
    assert info.value.field == field


def test_threshold_needs_its_duration_and_clears_with_hysteresis() -> None:
    rule = defaults_for(AssetKind.WATER_PUMP)["outlet_pressure_low"]  # < 0.25 for 5 min, clears above 0.28
    p = "outlet_pressure_mpa"
    msgs = [
        reading(0, **{p: 0.20}),
        reading(4 * MIN, **{p: 0.20}),
        reading(5 * MIN, **{p: 0.26}),  # back above 0.25 before 5 min: nothing, timer restarts
        reading(6 * MIN, **{p: 0.2}),
        reading(11 * MIN, **{p: 0.21}),  # 5 min below: raise
        reading(12 * MIN, **{p: 0.27}),  # above 0.25 but not 0.28: still active
        reading(13 * MIN, **{p: 0.29}),  # clear
    ]
    assert run(rule, msgs) == [("raise", 11 * MIN, 1), ("clear", 13 * MIN, 1)]


def test_rate_offline_and_events() -> None:
    rate = defaults_for(AssetKind.SMART_BIN)["bin_heating"]  # temperature rising > 5 °C/min (fire risk)
    BIN = AssetRef("lvyuan", "b1", AssetKind.SMART_BIN, "lvyuan-b1-sb1")
    # every 10 s: noise of ±2 °C between readings (12 °C/min pair to pair) is not a rise over 5 min
    temps = [(i * 10_000, 20.0 + (2.0 if i % 2 else -2.0)) for i in range(31)]
    temps += [(310_000, 60.0), (320_000, 70.0)]  # then a fire: +45 °C within 5 min
    temps += [(320_000 + i * 60_000, 70.0) for i in range(1, 7)]  # it stays hot: no longer rising
    signals = run(rate, [Reading(BIN, t, {"temperature_c": v}) for t, v in temps])
    assert signals == [("raise", 380_000, 1), ("clear", 620_000, 1)]  # kept rising for 1 min (for_s)
    off = defaults_for(AssetKind.WATER_PUMP)["pump_offline"]  # 15 min
    state, _ = on_message(off, IDLE, reading(0, outlet_pressure_mpa=0.4))
    assert on_tick(off, state, PUMP.asset, 14 * MIN)[1] is None
    state, sig = on_tick(off, state, PUMP.asset, 16 * MIN)
    assert sig is not None and sig.action is Action.RAISE
    assert on_message(off, state, reading(17 * MIN, outlet_pressure_mpa=0.4))[1].action is Action.CLEAR
    trapped = defaults_for(AssetKind.ELEVATOR)["entrapment"]
    assert run(
        trapped,
        [Event(LIFT, 1, EventType.FAULT, "entrapment"), Event(LIFT, 2, EventType.RECOVERY, "entrapment")],
    ) == [
        ("raise", 1, 1),
        ("clear", 2, 1),
    ]


def test_offline_status_waits_for_the_silence_and_online_clears() -> None:
    """H2 #4: an "offline" status at a restart must not raise at once; back online clears the alarm."""
    off = defaults_for(AssetKind.WATER_PUMP)["pump_offline"]  # no data for 15 min
    state, sig = on_message(off, IDLE, reading(0, outlet_pressure_mpa=0.4))
    state, sig = on_message(off, state, Status(PUMP, 1 * MIN, False))  # the last will at a restart
    assert sig is None
    assert on_tick(off, state, PUMP.asset, 10 * MIN)[1] is None  # 9 min after the status: not yet
    back, sig = on_message(off, state, Status(PUMP, 2 * MIN, True))  # back within the 15 min
    assert sig is not None and sig.action is Action.CLEAR  # clears whatever an earlier run left
    assert on_tick(off, back, PUMP.asset, 16 * MIN)[1] is None
    state, sig = on_tick(off, state, PUMP.asset, 16 * MIN)  # really gone: 15 min after the status
    assert sig is not None and sig.action is Action.RAISE and sig.at_ms == 16 * MIN
    state, sig = on_message(off, state, Status(PUMP, 20 * MIN, True))
    assert sig is not None and (sig.action, sig.at_ms) == (Action.CLEAR, 20 * MIN)
    assert not state.active


def test_repetition_counts_inside_the_window() -> None:
    rule = defaults_for(AssetKind.WATER_PUMP)["low_pressure_repeated"]  # 3 within 24 h
    h = 3_600_000
    ev = [Event(PUMP, t * h, EventType.ALARM, "low_pressure") for t in (0, 20, 30, 40, 41, 100)]
    clears = [Event(PUMP, t * h + 1, EventType.ALARM_CLEAR, "low_pressure") for t in (0, 20)]
    # 0, 20: two within 24 h; 30 drops 0 → (20, 30); 40 → (20, 30, 40) = 3: raise with count 3; 41 repeats
    assert run(rule, sorted(ev + clears, key=lambda m: m.ts_ms)) == [
        ("raise", 40 * h, 3),
        ("raise", 41 * h, 1),
    ]


def test_overrides_narrow_by_scope() -> None:
    base = defaults_for(AssetKind.WATER_PUMP)["outlet_pressure_low"]
    estate = Rule(
        base.key, base.kind, base.type, Severity.MINOR, {**base.params, "value": 0.2}, source="estate:jinhu"
    )
    asset = Rule(
        base.key, base.kind, base.type, Severity.CRITICAL, {**base.params, "value": 0.1}, source="asset:p9"
    )
    by_key = {r.key: r for r in effective(AssetKind.WATER_PUMP, "jinhu", "p1", [asset, estate])}
    assert by_key[base.key].params["value"] == 0.2
    by_key = {r.key: r for r in effective(AssetKind.WATER_PUMP, "jinhu", "p9", [asset, estate])}
    assert (by_key[base.key].params["value"], by_key[base.key].severity) == (0.1, Severity.CRITICAL)
    assert effective(AssetKind.WATER_PUMP, "other", "p1", [estate])[0].source == "default"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8086/query?q=CREATE+DATABASE+x",
        "http://localhost/hook",
        "http://10.0.0.5/x",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.100.100.200/latest/meta-data/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
        "file:///etc/passwd",
        "gopher://example.com/",
        "http://user:pw@93.184.216.34/",
    ],
)
def test_unsafe_destinations_are_refused(url: str) -> None:
    with pytest.raises(UnsafeUrl):
        check_url(url, resolver=lambda host, port: ["127.0.0.1"])


def test_allow_list_and_public_hosts() -> None:
    assert check_url("http://127.0.0.1:9/x", allow=["127.0.0.1"])
    assert check_url("http://hooks.lan/x", allow=["10.0.0.0/8"], resolver=lambda h, p: ["10.1.2.3"])
    assert check_url("https://oapi.dingtalk.com/robot/send", resolver=lambda h, p: ["203.119.0.1"])
    with pytest.raises(UnsafeUrl, match="FACILITY_OUTGOING_ALLOW"):
        check_url("https://rebind.example/", resolver=lambda h, p: ["203.119.0.1", "10.0.0.1"])


def test_quiet_hours_defer_to_their_end_in_shanghai() -> None:
    import datetime as dt

    from maintenance.outbox import quiet_until

    at = dt.datetime(2026, 12, 7, 15, 30, tzinfo=dt.UTC)  # 23:30 in Shanghai
    assert quiet_until((22, 7), "Asia/Shanghai", at) == dt.datetime(2026, 12, 7, 23, 0, tzinfo=dt.UTC)
    assert quiet_until((22, 7), "Asia/Shanghai", at - dt.timedelta(hours=2)) is None  # 21:30
    assert quiet_until(
        (12, 14), "Asia/Shanghai", dt.datetime(2026, 12, 7, 4, 5, tzinfo=dt.UTC)
    ) == dt.datetime(2026, 12, 7, 6, 0, tzinfo=dt.UTC)


def test_a_faulty_detector_count_must_hold_and_clears_back_at_zero() -> None:
    """H2 #5: "detectors_faulty > 0" fired on a single reading's blip and, with clear 0, never cleared."""
    PANEL = AssetRef("lvyuan", "b1", AssetKind.FIRE_ALARM, "lvyuan-b1-fa1")
    rule = defaults_for(AssetKind.FIRE_ALARM)["detectors_faulty"]

    def panel(ms: int, faulty: int) -> Reading:
        return Reading(PANEL, ms, {"detectors_total": 400, "detectors_faulty": faulty})

    blips = [panel(i * 10_000, 1 if i % 3 == 0 else 0) for i in range(60)]  # one in three readings: 1
    assert run(rule, blips) == []
    held = [panel(10 * MIN + i * 10_000, 2) for i in range(32)]  # a real fault: 2 for 5 min 10 s
    assert run(rule, [*held, panel(16 * MIN, 0)]) == [("raise", 15 * MIN, 1), ("clear", 16 * MIN, 1)]


def test_a_rate_rule_ignores_warm_up_below_its_level_and_does_not_flap() -> None:
    """H2 #5: a bearing "rising > 2 °C/min" rule fired on every pump's warm-up and flapped around the rate."""
    rule = Rule(
        "bearing_heating",
        AssetKind.WATER_PUMP,
        RuleType.RATE,
        Severity.MAJOR,
        {"field": "bearing_temp_c", "op": ">", "per_min": 2.0, "for_s": 120, "min_value": 60.0},
    )
    warm_up = [reading(i * 10_000, bearing_temp_c=20.0 + 0.5 * i) for i in range(31)]  # +3 °C/min to 35 °C
    assert run(rule, warm_up) == []
    # overheating at 60+ °C: +3 °C/min, then the rise wavers between 1.6 and 2.4 °C/min: one alarm, no flapping
    hot = [reading(i * 10_000, bearing_temp_c=60.0 + 0.5 * i) for i in range(31)]
    t, v = 300_000, 75.0
    for i in range(60):
        t, v = t + 10_000, v + (0.4 if i % 12 < 6 else 0.27)
        hot.append(reading(t, bearing_temp_c=v))
    assert run(rule, hot) == [("raise", 270_000, 1)]  # first verdict at 150 s (half the window) + 120 s held
    cool = [*hot, *(reading(t + i * 10_000, bearing_temp_c=v) for i in range(1, 40))]
    assert run(rule, cool)[-1][0] == "clear"
    with pytest.raises(RuleError) as bad:
        Rule(
            "x",
            AssetKind.WATER_PUMP,
            RuleType.RATE,
            Severity.MAJOR,
            {"field": "bearing_temp_c", "op": ">", "per_min": 2.0, "clear_per_min": 3.0},
        )
    assert bad.value.field == "params.clear_per_min"


def test_rules_and_system_order_titles_are_named_in_the_readers_language() -> None:
    """H2 #13: rules were shown as raw keys; order titles were English on Chinese pages."""
    from maintenance.alarms.texts import RULE_NAMES, rule_name
    from maintenance.orders import fault_title, preventive_title, system_title

    for lang in ("zh", "en"):
        assert {r.key for r in DEFAULT_RULES} <= set(RULE_NAMES[lang])
    assert (rule_name("low_pressure_repeated"), rule_name("bin_full", "en")) == (
        "供水压力低反复出现",
        "Bin nearly full",
    )
    assert rule_name("my_own_rule") == "my_own_rule"
    assert fault_title("elevator", "lvyuan-b1-el9", "entrapment") == "电梯 lvyuan-b1-el9：困人"
    assert (
        preventive_title("elevator", "lvyuan-b1-el1", 2.714) == "预防性维护：电梯 lvyuan-b1-el1（风险 2.71）"
    )
    assert system_title("water_pump", "anning-a2-wp1", rule_name("low_pressure_repeated")) == (
        "二次供水泵 anning-a2-wp1：供水压力低反复出现"
    )
    assert fault_title("elevator", "e1", "entrapment", "en") == "Elevator e1: entrapment"
