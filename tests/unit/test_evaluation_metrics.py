"""Every metric on the hand-computed small fleet (evaluation/testing.py), October 2026 = 744 h.

Known hours per asset: E1 744, E2 384 (installed Oct 16), P1 744, F1 744, B1 744, B2 0 (no timeline)
→ 3360. Down hours: E1 12 (fault 6 + maintenance 6), P1 4 (fault 00-02 then offline 02-04; planned
maintenance 08-11 Oct 20 excused), F1 12 offline + 24 faulted (Oct 31, open) → 52; working 3308.
Failures starting in October: E1 Oct 10, P1 Oct 25, F1 Oct 31 → 3; repaired: E1 (12 h), P1 (4 h).
"""

from __future__ import annotations

import dataclasses

import pytest

from evaluation.inputs import AssetState, Dataset, StateInterval
from evaluation.metric_types import MetricSettings, nearest_rank
from evaluation.metrics import CATALOGUE, compute_all
from evaluation.periods import parse_period
from evaluation.testing import AS_OF, small_fleet, t

OCT = parse_period("2026-10")


@pytest.fixture(scope="module")
def m():
    return compute_all(small_fleet(), OCT, MetricSettings(AS_OF))


def approx(x: float):
    return pytest.approx(x, rel=1e-12, abs=1e-12)


def test_intactness_is_time_weighted_over_known_hours(m):
    assert m["intactness_rate"].value == approx(3308 / 3360)
    assert (m["intactness_rate"].numerator, m["intactness_rate"].denominator) == (3308, 3360)
    assert m["down_hours"].value == 52
    assert set(m["intactness_rate"].evidence) == {"E1-b", "E1-c", "P1-f", "P1-off", "F1-off", "F1-f"}


def test_planned_maintenance_counts_against_when_the_setting_is_off():
    m = compute_all(small_fleet(), OCT, MetricSettings(AS_OF, excuse_planned=False))
    assert m["intactness_rate"].value == approx((3308 - 3) / 3360)
    assert "P1-pm" in m["intactness_rate"].evidence
    # planned work that overran its window is not a failure either way
    assert m["failures"].value == 3


def test_planned_maintenance_finished_late_is_not_excused():
    ds = small_fleet()
    late = [dataclasses.replace(o, resolved=t(20, 13)) if o.order_id == "O5" else o for o in ds.orders]
    m = compute_all(dataclasses.replace(ds, orders=tuple(late)), OCT, MetricSettings(AS_OF))
    assert m["intactness_rate"].value == approx((3308 - 3) / 3360)


def test_fault_rates_mtbf_mttr(m):
    assert m["failures"].value == 3
    assert m["fault_rate_per_100_asset_months"].value == approx(3 * 100 / (3360 / 720))
    assert m["fault_rate_per_1000_asset_days"].value == approx(3 * 1000 / (3360 / 24))
    assert m["mtbf_hours"].value == approx(3308 / 3)
    assert m["mttr_hours"].value == approx((12 + 4) / 2)  # F1's open fault is censored


def test_service_shares(m):
    # reactive, not cancelled, created in Oct: O1, O2, O3, O7 (O4 cancelled)
    assert m["response_on_time_rate"].value == approx(3 / 4)  # O2 took 30 min; O7 exactly 15 min is on time
    assert m["resolve_on_time_rate"].value == approx(2 / 4)  # O2 27 h; O3 unresolved past its 24 h
    assert m["first_time_fix_rate"].value == approx(2 / 3)  # resolved O1, O2, O7; O2 reopened
    assert m["rework_rate"].value == approx(1 / 3)
    assert m["follow_up_rate"].value == approx(2 / 3)  # closed O1, O2, O7; O2 not followed up
    assert m["rejection_rate"].value == approx(1 / 6)  # all created in Oct incl. cancelled O4: 6
    assert m["rejection_rate"].evidence == ("O2",)
    assert m["order_satisfaction_rate"].value == approx(1 / 2)  # O1 rated 5, O2 rated 2


def test_response_and_resolution_times(m):
    assert m["response_minutes_mean"].value == approx((10 + 30 + 5 + 15) / 4)
    assert m["response_minutes_p90"].value == 30  # ceil(0.9·4) = 4th smallest
    assert m["resolution_hours_mean"].value == approx((12 + 27 + (3 + 55 / 60)) / 3)
    assert m["resolution_hours_p90"].value == 27  # ceil(0.9·3) = 3rd smallest


def test_prevention(m):
    assert m["preventive_share"].value == approx(1 / 5)  # O5 among O1 O2 O3 O5 O7
    assert m["preventive_on_time_rate"].value == approx(1 / 2)  # O5 on time, O6 (due Oct 3) never done
    assert m["failures_preceded_rate"].value == approx(2 / 3)  # E1 by O6 (Sep 20), P1 by O5; F1 not


def test_kind_specific(m):
    assert m["elevator_entrapments"].value == 2  # duplicate onset ignored; E2's pair given out of order
    assert m["elevator_entrapment_rate"].value == approx(2 * 100 / ((744 + 384) / 720))
    assert m["elevator_out_of_service_hours"].value == 12
    assert m["fire_alarm_fault_rate"].value == approx(1 * 100 / (744 / 720))
    assert m["fire_alarm_false_alarm_rate"].value == approx(1 / 2)
    assert m["fire_alarm_offline_rate"].value == approx(12 / 744)
    assert m["water_pump_dry_run_events"].value == 1
    assert m["water_pump_pressure_loss_hours"].value == 3 + 4  # 00-03 Oct 1 and 20-24 Oct 31 (open)
    assert m["smart_bin_overflow_hours"].value == 6
    assert set(m["elevator_out_of_service_hours"].evidence) == {"E1-b", "E1-c"}
    assert m["fire_alarm_offline_rate"].evidence == ("F1-off",)


def test_kind_evidence_is_only_what_lies_in_the_period():
    nov = compute_all(small_fleet(), parse_period("2026-11"), MetricSettings(AS_OF))  # Nov 1-5 known
    assert (
        nov["elevator_out_of_service_hours"].value == 0
        and nov["elevator_out_of_service_hours"].evidence == ()
    )
    assert nov["fire_alarm_offline_rate"].value == 0 and nov["fire_alarm_offline_rate"].evidence == ()


def test_external_indicators(m):
    assert m["resident_satisfaction"].value == approx((0.9 * 100 + 0.8 * 300) / 400)  # count-weighted
    assert m["inspection_score"].value == approx((90 + 70) / 2)  # no counts: plain mean
    assert m["hotline_complaints"].value == 5  # counts add up
    assert m["hotline_complaint_density"].value == approx(5 * 100 / 6)  # 6 assets, 1 month
    assert m["complaint_handling_satisfaction"].value is None


def test_every_catalogued_metric_is_computed(m):
    assert set(m) == set(CATALOGUE)


def test_no_data_is_none_not_100_percent():
    ds = small_fleet().where(asset_id="B2")
    m = compute_all(ds, OCT, MetricSettings(AS_OF))
    assert m["intactness_rate"].value is None
    assert m["intactness_rate"].display() == "no data"
    assert m["fault_rate_per_100_asset_months"].value is None
    assert m["first_time_fix_rate"].value is None
    assert m["smart_bin_overflow_hours"].value is None


def test_a_month_before_anything_happened_has_no_data():
    m = compute_all(small_fleet(), parse_period("2019-05"), MetricSettings(AS_OF))
    assert {k: v.value for k, v in m.items() if v.value is not None} == {}


def test_mid_month_installation_counts_only_installed_hours():
    m = compute_all(small_fleet().where(asset_id="E2"), OCT, MetricSettings(AS_OF))
    assert m["intactness_rate"].denominator == 16 * 24


def test_per_kind_and_per_estate_subsets():
    ds = small_fleet()
    el = compute_all(ds.where(kind="elevator"), OCT, MetricSettings(AS_OF))
    assert el["intactness_rate"].value == approx((744 + 384 - 12) / (744 + 384))
    west = compute_all(ds.where(estate="west"), OCT, MetricSettings(AS_OF))
    assert west["intactness_rate"].value == approx((744 * 2 - 36) / (744 * 2))
    assert west["resident_satisfaction"].value == approx(0.8)


def test_event_counts_are_no_data_when_events_were_not_loaded():
    ds = dataclasses.replace(small_fleet(), events=(), events_loaded=False)
    m = compute_all(ds, OCT, MetricSettings(AS_OF))
    assert m["elevator_entrapments"].value is None and m["smart_bin_overflow_hours"].value is None
    assert m["elevator_entrapments"].note == "no data: device events not loaded"
    assert m["intactness_rate"].value == approx(3308 / 3360)  # the timeline does not depend on events
    assert (
        compute_all(dataclasses.replace(ds, events_loaded=True), OCT, MetricSettings(AS_OF))[
            "elevator_entrapments"
        ].value
        == 0
    )


def test_overlaps_resolve_to_the_worse_state():
    ds = small_fleet().where(asset_id="P1")
    extra = (*ds.intervals, StateInterval("P1", AssetState.OFFLINE, t(24, 23), t(25, 1)))
    m = compute_all(dataclasses.replace(ds, intervals=extra), OCT, MetricSettings(AS_OF))
    # the outage now runs 23:00 Oct 24 .. 04:00 Oct 25 (5 h): one failure, its repair took 5 h
    assert m["down_hours"].value == 5
    assert m["mttr_hours"].value == 5
    assert m["failures"].value == 1


def test_bad_inputs_are_refused_with_the_fix():
    with pytest.raises(ValueError, match=r"end .* is before start"):
        StateInterval("E1", AssetState.FAULTED, t(5), t(4))
    with pytest.raises(ValueError, match="timezone-aware"):
        MetricSettings(AS_OF.replace(tzinfo=None))


def test_nearest_rank():
    assert nearest_rank([5, 1, 3], 0.9) == 5
    assert nearest_rank([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9) == 9
    assert nearest_rank([7], 0.9) == 7


def test_dataset_where_keeps_estates_and_external():
    ds = small_fleet().where(company="pc-b")
    assert {a.asset_id for a in ds.assets} == {"F1", "B1", "B2"}
    assert {e.estate for e in ds.external} == {"west"}
    assert isinstance(ds, Dataset)


def test_random_timelines_keep_the_invariants_and_ignore_input_order():
    """Seeded random overlapping intervals: 0 ≤ intactness ≤ 1, known ≤ exposure, order-independent."""
    import datetime as dt

    import numpy as np

    from evaluation.inputs import AssetInfo

    rng = np.random.default_rng(11)
    states = list(AssetState)
    for trial in range(30):
        installed = t(1) + dt.timedelta(hours=float(rng.integers(0, 400)))
        asset = AssetInfo("X", "elevator", "e", "b", "c", "old", installed)
        ivs = []
        for k in range(int(rng.integers(0, 25))):
            start = t(1) - dt.timedelta(days=5) + dt.timedelta(minutes=float(rng.integers(0, 50_000)))
            end = None if rng.random() < 0.1 else start + dt.timedelta(minutes=float(rng.integers(1, 9_000)))
            ivs.append(StateInterval("X", states[int(rng.integers(0, 4))], start, end, ref=f"i{k}"))
        ds = Dataset((asset,), tuple(ivs))
        a = compute_all(ds, OCT, MetricSettings(AS_OF))
        b = compute_all(dataclasses.replace(ds, intervals=tuple(reversed(ivs))), OCT, MetricSettings(AS_OF))
        exposure_h = (OCT.end - max(installed, OCT.start)).total_seconds() / 3600
        ia = a["intactness_rate"]
        assert ia.denominator <= exposure_h + 1e-9, trial
        assert ia.value is None or 0 <= ia.value <= 1, trial
        assert a["down_hours"].value is None or a["down_hours"].value == approx(ia.denominator - ia.numerator)
        assert {k: v.value for k, v in a.items()} == {k: v.value for k, v in b.items()}, trial
