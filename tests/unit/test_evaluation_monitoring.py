"""Hours before the platform observed an asset are unknown, not in service (hand-computed figures).

Estate ``east`` (company pc-a), every asset registered in service from its install date (the store's
registration interval, ``*-reg``):

* A: installed 2020, observed from Oct 6 00:00; faulted Oct 20 00:00-06:00.
* B: installed 2020, never observed (no reading, status, event or monitored state change).
* C: installed Oct 16 00:00, observed from Sep 1 (before its install: counts from the install).

October (744 h): lived A 744 + B 744 + C 384 = 1872 asset-hours; known A 624 (26 days) + C 384 = 1008;
working 1008 − 6 = 1002. Coverage 1008/1872 = 53.8 %, intactness 1002/1008, 1 failure → fault rate
1 × 100 / (1008/720) = 71.43 per 100 asset-months.
September (720 h): lived A 720 + B 720 = 1440, known 0 → coverage 0 %, intactness no data.
November, as of Dec 1 (720 h): lived 3 × 720 = 2160, known A 720 + C 720 → coverage 2/3, intactness 100 %.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from evaluation.availability import timelines
from evaluation.drilldown import explain
from evaluation.inputs import NOT_MONITORED, AssetInfo, AssetState, Dataset, EstateInfo, ExternalValue
from evaluation.inputs import StateInterval as SI
from evaluation.metric_types import MetricSettings, MetricValue
from evaluation.metrics import TIMELINE_METRICS, compute_all
from evaluation.periods import ZONE, parse_period
from evaluation.scheme import SchemeError, load_scheme, parse_scheme
from evaluation.scoring import score_metrics, score_month, score_quarter
from evaluation.source import monitoring_starts, with_monitoring

UTC = dt.UTC
AS_OF = dt.datetime(2026, 12, 1, tzinfo=ZONE)  # the estates' clock, as the periods
LONG_AGO = dt.datetime(2020, 1, 1, tzinfo=UTC)
S = AssetState


def t(month: int, day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=ZONE)


def fleet(monitored: bool = True) -> Dataset:
    """``monitored=False``: the same data without monitoring starts (what the ratings saw before)."""
    since = (
        {"A": t(10, 6), "B": NOT_MONITORED, "C": t(9, 1)} if monitored else {"A": None, "B": None, "C": None}
    )
    assets = (
        AssetInfo("A", "elevator", "east", "b1", "pc-a", "old", LONG_AGO, monitored_since=since["A"]),
        AssetInfo("B", "elevator", "east", "b1", "pc-a", "old", LONG_AGO, monitored_since=since["B"]),
        AssetInfo("C", "water_pump", "east", "b1", "pc-a", "old", t(10, 16), monitored_since=since["C"]),
    )
    intervals = (
        SI("A", S.IN_SERVICE, LONG_AGO, t(10, 20), ref="A-reg"),
        SI("A", S.FAULTED, t(10, 20), t(10, 20, 6), ref="A-f"),
        SI("A", S.IN_SERVICE, t(10, 20, 6), None, ref="A-back"),
        SI("B", S.IN_SERVICE, LONG_AGO, None, ref="B-reg"),
        SI("C", S.IN_SERVICE, t(10, 16), None, ref="C-reg"),
    )
    external = tuple(
        ExternalValue("east", m, "resident_satisfaction", 0.80, 50) for m in ("2026-09", "2026-10", "2026-11")
    )
    estates = (EstateInfo("east", "East", "old", "pc-a", "Company A"),)
    return Dataset(assets, intervals, external=external, estates=estates)


def figures(label: str, monitored: bool = True) -> dict[str, MetricValue]:
    return compute_all(fleet(monitored), parse_period(label), MetricSettings(AS_OF))


def approx(x: float):
    return pytest.approx(x, rel=1e-12, abs=1e-12)


def test_intactness_counts_only_observed_hours_and_shows_the_coverage():
    m = figures("2026-10")
    cov = m["monitoring_coverage"]
    assert (cov.numerator, cov.denominator, cov.value) == (1008, 1872, approx(1008 / 1872))
    assert cov.evidence == ("B",) and "not observed in the period: B" in cov.note
    it = m["intactness_rate"]
    assert (it.numerator, it.denominator, it.value) == (1002, 1008, approx(1002 / 1008))
    assert it.note == "over the 53.8% of asset-hours observed (the rest is unknown, not counted)"
    assert m["failures"].value == 1
    assert m["fault_rate_per_100_asset_months"].value == approx(100 / (1008 / 720))
    assert m["mtbf_hours"].value == approx(1002)
    # every timeline figure carries the coverage of its assets; kind figures that of their kind
    absent = ("fire_alarm_", "smart_bin_")  # no asset of these kinds: nothing to cover
    assert all((m[n].coverage is None) == n.startswith(absent) for n in TIMELINE_METRICS)
    assert m["fault_rate_per_100_asset_months"].coverage == approx(1008 / 1872)
    assert m["elevator_out_of_service_hours"].coverage == approx(624 / 1488)  # A and B only
    assert m["water_pump_pressure_loss_hours"].coverage == approx(1.0)  # C, observed since before install
    assert m["response_on_time_rate"].coverage is None


def test_a_month_before_monitoring_began_is_no_data_not_100_percent():
    m = figures("2026-09")
    assert m["monitoring_coverage"].value == 0.0 and m["monitoring_coverage"].denominator == 1440
    for name in ("intactness_rate", "failures", "fault_rate_per_100_asset_months", "mtbf_hours"):
        assert m[name].value is None, name
    assert m["intactness_rate"].display() == "no data"
    # what the ratings said before: the registration interval made September 100 % intact
    assert figures("2026-09", monitored=False)["intactness_rate"].value == 1.0


def test_before_any_asset_existed_coverage_itself_is_no_data():
    m = figures("2019-12")
    assert m["monitoring_coverage"].value is None and m["intactness_rate"].value is None


def test_never_monitored_asset_has_no_segments_and_its_drilldown_says_so():
    tl = timelines(fleet(), MetricSettings(AS_OF))
    assert {s.asset_id for s in tl.segments} == {"A", "C"}
    assert next(s.start for s in tl.segments if s.asset_id == "A") == t(10, 6)
    assert next(s.start for s in tl.segments if s.asset_id == "C") == t(10, 16)
    (b,) = explain(fleet(), ["B"])
    assert b == {"type": "asset", "id": "B", "asset_id": "B", "kind": "elevator",
                 "installed": LONG_AGO.isoformat(), "monitored_since": None, "monitored": False}  # fmt: skip


def test_monitoring_start_is_the_earliest_evidence_per_asset():
    ev = [("A", t(10, 9)), ("A", t(10, 6)), ("C", t(9, 1)), ("A", t(10, 7))]
    starts = monitoring_starts(ev)
    assert starts == {"A": t(10, 6), "C": t(9, 1)}
    assets = with_monitoring(fleet(monitored=False).assets, starts)
    assert [a.monitored_since for a in assets] == [t(10, 6), NOT_MONITORED, t(9, 1)]
    assert [a.monitored for a in assets] == [True, False, True]


SCHEME = {
    "scheme": "t",
    "version": "1",
    "indicators": [
        {"name": "intactness", "metric": "intactness_rate", "weight": 40, "zero": 0.8, "full": 0.98},
        {
            "name": "fault_rate",
            "metric": "fault_rate_per_100_asset_months",
            "weight": 20,
            "zero": 20,
            "full": 2,
        },
        {"name": "satisfaction", "metric": "resident_satisfaction", "weight": 40, "zero": 0.6, "full": 0.85},
    ],
    "colours": {"green": 90, "blue": 80, "yellow": 70},
    "inspections": {c: {"per_month": n} for c, n in (("green", 0), ("blue", 1), ("yellow", 3), ("red", 4))},
    "groups": {"old": ["old", "housing-reform", "resettlement"], "new": ["luxury", "new", "affordable"]},
    "settings": {"min_coverage": 0.5, "min_monitored_share": 0.5},
}


def company(scores):
    return next(s for s in scores if s.entity == "company")


def test_monthly_scores_no_longer_reward_unobserved_months():
    scheme = parse_scheme(SCHEME)
    ds = fleet()
    sep = company(score_month(ds, parse_period("2026-09"), scheme, AS_OF))
    # only satisfaction (40 % of the weight) has data: no score
    assert sep.score is None and sep.coverage == approx(0.4)
    # before: intactness 100 % (100 points), no failures (100), satisfaction 80 % (80) → 92, green
    old = company(score_month(fleet(monitored=False), parse_period("2026-09"), scheme, AS_OF))
    assert old.score == approx((40 * 100 + 20 * 100 + 40 * 80) / 100)
    oct_ = company(score_month(ds, parse_period("2026-10"), scheme, AS_OF))
    # coverage 53.8 % ≥ 50 %: intactness 99.4 % → 100 points, 71.43 faults/100 asset-months → 0, satisfaction 80
    assert oct_.score == approx((40 * 100 + 20 * 0 + 40 * 80) / 100)
    nov = company(score_month(ds, parse_period("2026-11"), scheme, AS_OF))
    assert nov.score == approx((40 * 100 + 20 * 100 + 40 * 80) / 100)


def test_quarter_colour_averages_only_the_months_with_a_score():
    scheme = parse_scheme(SCHEME)
    q4 = next(
        q for q in score_quarter(fleet(), parse_period("2026Q4"), scheme, AS_OF) if q.entity == "company"
    )
    assert q4.monthly == (("2026-10", approx(72.0)), ("2026-11", approx(92.0)), ("2026-12", None))
    assert (q4.average, q4.colour) == (82.0, "blue")
    q3 = next(
        q for q in score_quarter(fleet(), parse_period("2026Q3"), scheme, AS_OF) if q.entity == "company"
    )
    assert (q3.average, q3.colour, q3.inspection) == (None, None, None)
    old = score_quarter(fleet(monitored=False), parse_period("2026Q3"), scheme, AS_OF)
    assert next(q for q in old if q.entity == "company").colour == "green"  # the bug this pins


def test_a_figure_observed_too_little_is_shown_but_not_scored_at_the_boundary():
    scheme = parse_scheme(SCHEME)
    base = figures("2026-10")

    def with_cov(cov: float):
        ms = dict(base)
        for name in ("intactness_rate", "fault_rate_per_100_asset_months"):
            ms[name] = dataclasses.replace(ms[name], coverage=cov)
        return score_metrics(ms, scheme, "old")

    score, weight_cov, results = with_cov(0.5)  # exactly the minimum: scored
    assert score == approx(72.0) and weight_cov == 1.0
    score, weight_cov, results = with_cov(0.4999)
    assert score is None and weight_cov == approx(0.4)  # only satisfaction left: below min_coverage
    it = next(r for r in results if r.name == "intactness")
    assert it.points is None and it.value == approx(1002 / 1008) and it.display == "99.40%"
    assert it.note == "not scored: only 50.0% of the asset-hours were observed (the scheme needs 50%)"


def test_min_monitored_share_is_validated_and_defaults_to_half():
    assert load_scheme().min_monitored == 0.5
    assert parse_scheme(SCHEME | {"settings": {"min_monitored_share": 0}}).min_monitored == 0
    with pytest.raises(SchemeError, match=r"min_monitored_share must be within \[0, 1\], got 1.5"):
        parse_scheme(SCHEME | {"settings": {"min_monitored_share": 1.5}})
