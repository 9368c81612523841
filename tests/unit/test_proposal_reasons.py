"""A proposal's reasons read in Chinese by default and in English on request: the probability, the threshold, the
failure window and the drivers in words with units (issue 12: the engineers who approve them are Chinese)."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import pytest

from facility.i18n import bilingual, in_language
from maintenance.preventive import description, stored_description
from predict.explain import describe
from predict.forecast import Driver, Forecast
from predict.planner import PlannerSettings, plan_work_orders
from predict.reasons import Localized, Reason, reason

NOW = dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.UTC)  # Monday 09:00 in Shanghai
ROW = {"vibration_mm_s__level": 3.9, "vibration_mm_s__trend": 0.167, "events_fault": 2.0}
CJK = re.compile(r"[\u4e00-\u9fff]")


def driver(key: str, contribution: float) -> Driver:
    return Driver(
        key,
        ROW[key],
        contribution,
        describe("elevator", key, ROW, 14, "zh"),
        describe("elevator", key, ROW, 14, "en"),
    )


def forecast(p30: float = 0.42, crit: int = 4, window: bool = True) -> Forecast:
    start = NOW + dt.timedelta(days=10) if window else None
    return Forecast(
        asset="lvyuan-b1-el1",
        kind="elevator",
        now=NOW,
        model_version="v7",
        curve_days=(0.0, 30.0),
        survival=(1.0, 1 - p30),
        p_fail={30: p30},
        window_start=start,
        window_end=None if start is None else start + dt.timedelta(days=20),
        criticality=crit,
        risk_horizon_days=30,
        risk=p30 * crit,
        drivers=(driver("vibration_mm_s__level", 0.9), driver("events_fault", 0.4)),
    )


def planned(**kw: object):  # type: ignore[no-untyped-def]
    cfg = PlannerSettings(risk_threshold=0.9, kind_thresholds={"elevator": 0.63}, tz="Asia/Shanghai")
    [order] = plan_work_orders([forecast(**kw)], [], {"crew": 3}, NOW, cfg)  # type: ignore[arg-type]
    return order


def test_reasons_read_in_chinese_by_default_with_probability_threshold_window_and_drivers_with_units() -> (
    None
):
    texts = [r.text() for r in planned().reasons]
    assert texts == [
        "30 天内故障概率 42.0%（模型 v7）",
        "风险 1.68 = 概率 0.42 × 重要度 4，达到阈值 0.63",
        # local time (Asia/Shanghai): the window opens 10 days after 09:00 on 23 Nov
        "预测故障窗口 2026-12-03 09:00 – 2026-12-23 09:00（北京时间；20%–80% 的故障落在其中）",
        "主要因素：轿厢振动 3.9 mm/s，14 天内上升 60%；14 天内故障 2 次",
    ]


def test_the_same_reasons_read_in_english_on_request() -> None:
    texts = [r.text("en") for r in planned().reasons]
    assert texts == [
        "P(failure within 30 d) = 42.0% (model v7)",
        "risk 1.68 = probability 0.42 × criticality 4 ≥ threshold 0.63",
        "predicted failure window 03 Dec 2026 09:00 – 23 Dec 2026 09:00 (Beijing time; 20%–80% of failures)",
        "drivers: car vibration 3.9 mm/s, up 60 % in 14 days; 2 faults in 14 days",
    ]
    assert not any(CJK.search(t) for t in texts)
    # a language the catalogue lacks, or none: Chinese
    assert [r.text("fr") for r in planned().reasons] == [r.text(None) for r in planned().reasons]


def test_calendar_late_and_open_window_reasons_in_both_languages() -> None:
    cfg = PlannerSettings(risk_threshold=0.9, max_interval_days={"elevator": 15}, tz="Asia/Shanghai")
    low = forecast(p30=0.05, window=False)
    [order] = plan_work_orders(
        [low], [], {"c": 3}, NOW, cfg, last_visits={low.asset: NOW - dt.timedelta(days=16)}
    )
    assert order.reasons[1].text() == "按周期保养：距上次维保已满 15 天（风险 0.20 低于阈值 0.90）"
    assert order.reasons[1].text("en").startswith("calendar: the last visit was 15 days ago or more")
    late = Forecast(
        **{**forecast().__dict__, "window_start": NOW + dt.timedelta(hours=1), "window_end": None}
    )
    [order] = plan_work_orders([late], [], {"c": 3}, NOW, PlannerSettings(risk_threshold=0.9))
    codes = [r.code for r in order.reasons]
    assert codes == ["probability", "risk", "window_open", "drivers", "late"]
    assert order.reasons[-1].text() == "偏晚：最早的空闲时段在预测故障窗口开始之后才结束"
    assert order.reasons[2].text("en") == (
        "predicted failure window from 23 Nov 2026 10:00 Beijing time (its end beyond the forecast horizon)"
    )


def test_the_stored_description_holds_both_languages_and_gives_back_each() -> None:
    order = planned()
    stored = stored_description(order)
    zh, en = in_language(stored, "zh"), in_language(stored, "en")
    assert zh == description(order, "zh") and en == description(order, "en")
    assert zh.splitlines()[0] == "原因："
    assert "- 风险 1.68 = 概率 0.42 × 重要度 4，达到阈值 0.63" in zh.splitlines()
    assert "等待工程师审批" not in zh and "Awaiting" not in en  # the order page says it while it is true
    assert not CJK.search(en) and "≥ threshold 0.63" in en and "car vibration 3.9 mm/s" in en
    assert in_language(stored) == zh  # no language given: Chinese
    # a text stored in one language only (a resident's report) reads the same in every language
    assert in_language("电梯异响", "en") == "电梯异响"
    assert in_language(bilingual({"zh": "甲", "en": "A"}), "en-US") == "A"


def test_a_reason_is_data_a_bad_code_is_refused() -> None:
    r = reason("drivers", drivers=Localized("振动", "vibration"))
    assert r == Reason("drivers", (("drivers", Localized("振动", "vibration")),))
    assert r.param("drivers") == Localized("振动", "vibration")
    with pytest.raises(ValueError, match="reason code must be"):
        Reason("no such code!")


def test_a_temperature_changes_in_degrees_not_per_cent() -> None:
    row = {"car_temp_c__level": 11.3, "car_temp_c__trend": -0.11, "vibration_mm_s__level": 3.9}
    assert describe("elevator", "car_temp_c__level", row, 14, "zh") == "轿厢温度 11.3 °C，14 天内下降 1.5 °C"
    assert describe("elevator", "car_temp_c__level", row, 14, "en") == (
        "car temperature 11.3 °C, down 1.5 °C in 14 days"
    )
    spread = {"vibration_mm_s__spread": 0.123}
    assert describe("elevator", "vibration_mm_s__spread", spread, 14, "zh") == "轿厢振动 14 天波动 0.12 mm/s"
    steady = {"car_temp_c__level": 11.3, "car_temp_c__trend": 0.001}
    assert describe("elevator", "car_temp_c__level", steady, 14, "en") == "car temperature 11.3 °C"


def test_a_reading_relative_to_its_peers_says_above_or_below_their_median() -> None:
    row = {"machine_room_temp_c__vs_peers_level": 2.14, "machine_room_temp_c__vs_peers_max": -1.0}
    key, peak = "machine_room_temp_c__vs_peers_level", "machine_room_temp_c__vs_peers_max"
    assert describe("elevator", key, row, 14, "zh") == "机房温度比同类设备中位数高 2.1 °C"
    assert (
        describe("elevator", key, row, 14, "en") == "machine-room temperature 2.1 °C above its peers' median"
    )
    assert describe("elevator", peak, row, 14, "en") == (
        "machine-room temperature 14-day max 1.0 °C below its peers' median"
    )
    assert describe("elevator", peak, row, 14, "zh") == "机房温度 14 天最大比同类设备中位数低 1.0 °C"


def test_a_driver_every_peer_shares_is_marked_as_such_in_both_languages() -> None:
    from predict.forecast import AssetInput, forecast_assets
    from predict.models import CoxPH
    from tests.unit.test_predict_models import weibull_data

    X, y = weibull_data()  # x1 shortens life, x2 is noise
    model = CoxPH().fit(X, y)
    rng = np.random.default_rng(1)
    lifts = [AssetInput(f"el{i}", "elevator", criticality=3) for i in range(6)]
    # winter for everyone: the whole fleet's x1 is up by 2 (± a little); then one asset alone is up by 2
    season = pd.DataFrame({"x1": 2.0 + rng.normal(0, 0.05, 6), "x2": rng.normal(0, 0.05, 6), "flat": 1.0})
    alone = season.assign(x1=[2.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    for live, expected in ((season, [True] * 6), (alone, [False])):
        out = forecast_assets(model, "v", live, lifts, NOW)
        tops = [f.drivers[0] for f in out if f.drivers and f.drivers[0].name == "x1"][: len(expected)]
        assert [d.common for d in tops] == expected
        for d in tops:
            assert d.text.endswith("（同类设备普遍如此）") == d.common
            assert d.text_en.endswith(" (its peers alike)") == d.common
    assert out[0].asset == "el0" and out[0].drivers[0].name == "x1"  # the one that stands out ranks first
