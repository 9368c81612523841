"""Scopes add up: on generated fleets over many months, every company's score and colour lie within its
estates' range, monthly and quarterly; the breakdown's effective weights add up to 100 and the contributions
to the score; one entrapment is counted by the entrapment indicator only; small exposure is shrunk."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from evaluation.inputs import (
    AssetInfo,
    AssetState,
    Dataset,
    EstateInfo,
    EventRecord,
    ExternalValue,
    OrderRecord,
    OrderType,
    StateInterval,
)
from evaluation.periods import ZONE, month, quarter
from evaluation.scheme import load_scheme
from evaluation.scopes import quarter_results
from evaluation.scoring import score_month, score_quarter

UTC = dt.UTC
START = dt.datetime(2026, 1, 1, tzinfo=UTC)
AS_OF = dt.datetime(2026, 10, 1, tzinfo=UTC)
KINDS = ("elevator", "fire_alarm", "water_pump", "smart_bin")
GROUPS = ("old", "luxury", "new", "resettlement")
COLOUR_ORDER = {"red": 0, "yellow": 1, "blue": 2, "green": 3}


def generated_fleet(seed: int) -> Dataset:
    """2–4 companies of 1–4 estates each, 1–12 assets per estate, faults with repair orders over 9 months,
    monthly surveys for some estates; installs spread over the year (some estates start late)."""
    rng = np.random.default_rng(seed)
    assets, estates, intervals, orders, external, events = [], [], [], [], [], []
    for c in range(int(rng.integers(2, 5))):
        company = f"pc{c}"
        for e in range(int(rng.integers(1, 5))):
            estate = f"{company}-e{e}"
            estates.append(EstateInfo(estate, estate, str(rng.choice(GROUPS)), company, company))
            since = START + dt.timedelta(days=int(rng.integers(0, 120)))
            for a in range(int(rng.integers(1, 13))):
                aid = f"{estate}-a{a}"
                kind = str(rng.choice(KINDS))
                assets.append(
                    AssetInfo(aid, kind, estate, "b", company, estates[-1].group, since, None, since)
                )
                t = since
                while True:
                    t += dt.timedelta(hours=float(rng.exponential(700 / (1 + 2 * rng.random()))))
                    if t >= AS_OF:
                        intervals.append(
                            StateInterval(aid, AssetState.IN_SERVICE, t - dt.timedelta(days=1), None)
                        )
                        break
                    down = dt.timedelta(hours=float(rng.gamma(2, 6)))
                    oid = f"{aid}-o{len(orders)}"
                    intervals.append(StateInterval(aid, AssetState.FAULTED, t, t + down, ref=f"{oid}-i"))
                    intervals.append(
                        StateInterval(aid, AssetState.IN_SERVICE, t + down, t + down + dt.timedelta(days=365))
                    )
                    if kind == "elevator" and rng.random() < 0.3:
                        events.append(EventRecord(aid, kind, "fault", "entrapment", t))
                        events.append(EventRecord(aid, kind, "recovery", "entrapment", t + down))
                    late = rng.random() < 0.2
                    orders.append(
                        OrderRecord(
                            oid, aid, OrderType.CORRECTIVE, t,
                            acknowledged=t + dt.timedelta(minutes=30 if late else 5),
                            resolved=t + down, closed=t + down, reopened=int(rng.random() < 0.05),
                            followed_up=bool(rng.random() < 0.8),
                        )
                    )  # fmt: skip
            for m in range(1, 10):
                if rng.random() < 0.7:
                    external.append(
                        ExternalValue(
                            estate, f"2026-{m:02d}", "resident_satisfaction", float(rng.uniform(0.5, 0.95))
                        )
                    )
    return Dataset(
        tuple(assets), tuple(intervals), tuple(orders), tuple(events), tuple(external), tuple(estates)
    )


SCHEME = load_scheme()


@pytest.mark.parametrize("seed", range(3))
def test_company_scores_and_colours_lie_within_their_estates(seed):
    ds = generated_fleet(seed)
    checked = 0
    series: dict[tuple[str, str], list] = {}
    for m in range(1, 10):
        scores = score_month(ds, month(2026, m), SCHEME, AS_OF)
        for s in scores:
            series.setdefault((s.entity, s.id), []).append(s)
        for company in {s.id for s in scores if s.entity == "company"}:
            c = next(s for s in scores if (s.entity, s.id) == ("company", company))
            mine = [
                s.score
                for s in scores
                if s.entity == "estate" and s.parent == company and s.score is not None
            ]
            assert (c.score is None) == (not mine)
            if c.score is None:
                continue
            assert min(mine) - 1e-9 <= c.score <= max(mine) + 1e-9
            colours = [COLOUR_ORDER[SCHEME.colour(x)] for x in mine]
            assert min(colours) <= COLOUR_ORDER[SCHEME.colour(c.score)] <= max(colours)
            assert sum(i.effective_weight for i in c.indicators) == pytest.approx(100.0)
            assert sum(i.contribution for i in c.indicators) == pytest.approx(c.score)
            checked += 1
    for q in (1, 2, 3):
        months = {p.label for p in quarter(2026, q).months()}
        results = quarter_results(
            {k: [s for s in v if s.period in months] for k, v in series.items()}, quarter(2026, q), SCHEME
        )
        for c in (r for r in results if r.entity == "company" and r.average is not None):
            mine = [r for r in results if r.entity == "estate" and r.parent == c.id and r.average is not None]
            assert min(r.average for r in mine) <= c.average <= max(r.average for r in mine)
            ranks = [COLOUR_ORDER[r.colour] for r in mine]
            assert min(ranks) <= COLOUR_ORDER[c.colour] <= max(ranks)
            checked += 1
    assert checked >= 10  # the generated fleets do score


def test_score_quarter_colours_companies_by_their_average():
    ds = generated_fleet(0)
    results = {(r.entity, r.id): r for r in score_quarter(ds, quarter(2026, 2), SCHEME, AS_OF)}
    companies = [r for r in results.values() if r.entity == "company" and r.average is not None]
    assert companies and all(r.colour == SCHEME.colour(r.average) for r in companies)


def test_an_entrapment_counts_once_and_small_exposure_is_shrunk():
    """One entrapment in the last 7 days of a month, on one estate of four lifts: the fault rate leaves the
    failure out (the entrapment indicator counts it) and the entrapment rate is shrunk toward the district's."""
    t0 = dt.datetime(2026, 9, 24, tzinfo=ZONE)
    end = dt.datetime(2026, 10, 1, tzinfo=ZONE)
    assets, estates, intervals = [], [], []
    for e, (n, since) in enumerate(((4, t0), (40, START))):
        estates.append(EstateInfo(f"e{e}", f"e{e}", "old", f"pc{e}", f"pc{e}"))
        for a in range(n):
            aid = f"e{e}-L{a}"
            assets.append(AssetInfo(aid, "elevator", f"e{e}", "b", f"pc{e}", "old", since, None, since))
            intervals.append(StateInterval(aid, AssetState.IN_SERVICE, since, None))
    hit = t0 + dt.timedelta(days=3)
    intervals.append(StateInterval("e0-L0", AssetState.FAULTED, hit, hit + dt.timedelta(hours=1)))
    events = (EventRecord("e0-L0", "elevator", "fault", "entrapment", hit),
              EventRecord("e0-L0", "elevator", "recovery", "entrapment", hit + dt.timedelta(hours=1)))  # fmt: skip
    ds = Dataset(tuple(assets), tuple(intervals), (), events, (), tuple(estates))
    small = next(s for s in score_month(ds, month(2026, 9), SCHEME, end) if s.id == "e0")
    fault = next(i for i in small.indicators if i.name == "fault_rate")
    trapped = next(i for i in small.indicators if i.name == "entrapments")
    assert small.metrics["failures"].value == 0  # left out of the failure count ...
    assert "counted by the entrapment indicator" in small.metrics["failures"].note
    assert fault.points == 100.0
    months = 4 * 7 / 30  # four lifts for 7 days
    assert trapped.raw == pytest.approx(100 / months)  # ... and counted here, once
    district = 100 / (months + 40)  # the district's entrapments per 100 lift-months in September
    k = SCHEME.credibility_asset_months
    assert trapped.value == pytest.approx(100 * (1 + k * district / 100) / (months + k))
    assert trapped.low < trapped.value < trapped.high
    assert 0 < trapped.points < 100


def test_the_priors_lean_rates_equal_the_full_computation():
    from evaluation.availability import timelines
    from evaluation.credibility import RATE_METRICS, kind_ids
    from evaluation.metrics import compute_all, rate_metrics
    from evaluation.scoring import metric_settings

    ds, p = generated_fleet(1), month(2026, 6)
    s = metric_settings(SCHEME, AS_OF)
    tl = timelines(ds, s)
    for ids in kind_ids(ds).values():
        sub, stl = ds.subset(ids), tl.of(ids)
        full, lean = compute_all(sub, p, s, stl), rate_metrics(sub, p, s, stl)
        for name in RATE_METRICS.keys() & lean.keys():
            assert (lean[name].value, lean[name].numerator, lean[name].denominator) == pytest.approx(
                (full[name].value, full[name].numerator, full[name].denominator)
            ), name


def test_a_small_district_gives_no_prior_and_one_entrapment_is_not_enough_data():
    """H2 #8: a week into December, two companies of three and four lifts (2.3 lift-months in the district) and
    one entrapment. The district's rate rests on the same incident, so it cannot be the prior: the entrapment
    indicator is "not enough data" (not scored, weight redistributed) with its 90 % interval, for the estate and
    for its company, instead of 0 points from a rate of 100 per 100 lift-months."""
    t0 = dt.datetime(2026, 12, 1, tzinfo=ZONE)
    as_of = dt.datetime(2026, 12, 7, tzinfo=ZONE)
    assets, estates, intervals = [], [], []
    for e, n in enumerate((3, 4)):
        estates.append(EstateInfo(f"e{e}", f"e{e}", "old", f"pc{e}", f"pc{e}"))
        for a in range(n):
            aid = f"e{e}-L{a}"
            assets.append(AssetInfo(aid, "elevator", f"e{e}", "b", f"pc{e}", "old", START, None, START))
            intervals.append(StateInterval(aid, AssetState.IN_SERVICE, START, None))
    hit = t0 + dt.timedelta(days=3)
    events = (EventRecord("e0-L0", "elevator", "fault", "entrapment", hit),
              EventRecord("e0-L0", "elevator", "recovery", "entrapment", hit + dt.timedelta(hours=1)))  # fmt: skip
    ds = Dataset(tuple(assets), tuple(intervals), (), events, (), tuple(estates))
    scores = {(s.entity, s.id): s for s in score_month(ds, month(2026, 12), SCHEME, as_of)}
    months = 3 * 6 / 30  # three lifts for 6 days
    for key in (("estate", "e0"), ("company", "pc0")):
        trapped = next(i for i in scores[key].indicators if i.name == "entrapments")
        assert trapped.raw == pytest.approx(100 / months), key
        assert trapped.value == pytest.approx(100 / months), key  # measured, not shrunk toward itself
        assert trapped.points is None and trapped.effective_weight == 0.0, key
        assert "not enough data: 0.60 asset-months here and 1.40 in the district" in trapped.note, key
        # Jeffreys 90 % interval of one incident over 0.6 lift-months: Gamma(1.5, 0.6) = χ²(3) / 1.2, with
        # χ²(3)'s 5 % and 95 % points 0.3518 and 7.8147, per 100
        assert (trapped.low, trapped.high) == pytest.approx(
            (0.3518 / 1.2 * 100, 7.8147 / 1.2 * 100), abs=0.01
        )
    quiet = next(i for i in scores[("estate", "e1")].indicators if i.name == "entrapments")
    assert (
        quiet.points is None and quiet.value == 0.0
    )  # no incident over 0.8 lift-months is no verdict either
    assert sum(i.effective_weight for i in scores[("estate", "e0")].indicators) == pytest.approx(100.0)
