"""The rating service over a fake source (the hand-computed fleet): publish, quarter colours from the
ledger, corrections; external CSV import; conversion of the maintenance store's records."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from evaluation.external import ExternalError, parse_csv
from evaluation.external_store import ExternalStore
from evaluation.ledger import Ledger, LedgerError
from evaluation.periods import parse_period
from evaluation.ratings import ProvisionalError, Ratings
from evaluation.scheme import load_scheme
from evaluation.source import intervals_from_maintenance, orders_from_maintenance
from evaluation.testing import AS_OF, small_fleet, store_db, t
from maintenance import queries as mq

UTC = dt.UTC


class FleetSource:
    def __init__(self, ds):
        self.ds = ds
        self.calls = 0

    def dataset(self, period, as_of):
        self.calls += 1
        return self.ds


@pytest.fixture
def ratings(tmp_path):
    led = Ledger(store_db(tmp_path))
    yield Ratings(FleetSource(small_fleet()), load_scheme(), led)
    led.close()


def test_month_ranks_estates_and_companies(ratings):
    res = ratings.month(parse_period("2026-10"), AS_OF)
    scores = [r.score.score for r in res.estates]
    assert None not in scores and scores == sorted(scores, reverse=True)
    assert [r.rank_overall for r in res.estates] == [1, 2]
    east, pc_a = res.find("estate", "east"), res.find("company", "pc-a")
    assert east is not None and pc_a is not None
    assert east.rank_in_group == 1 and east.group_size == 1  # alone in old-estates
    assert pc_a.score.score == pytest.approx(east.score.score)


def test_publish_month_then_quarter_uses_the_published_scores(ratings):
    oct_ = parse_period("2026-10")
    # B2 was never observed: 3360 of the fleet's 4104 asset-hours (81.9 %) < the scheme's 90 % → provisional
    with pytest.raises(
        ProvisionalError, match=r"2026-10 is provisional: only 81\.9% of 2026-10's asset-hours"
    ):
        ratings.publish(oct_, AS_OF, AS_OF)
    e = ratings.publish(oct_, AS_OF, AS_OF, provisional=True)
    assert e.seq == 1 and e.kind == "monthly" and e.data()["provisional"] is True
    published = {x["id"]: x["score"] for x in e.data()["scores"]}
    assert published["east"] == pytest.approx((20 + 10 / 3 + 10 / 3 + 5 / 3 + 15 + 2.5) / 0.85, abs=1e-6)
    # how much of each entity was observed is published with its score (west: B2 never, 1488/2232 h)
    observed = {x["id"]: x["monitoring_coverage"] for x in e.data()["scores"]}
    assert observed == {"east": 1.0, "west": round(2 / 3, 6), "pc-a": 1.0, "pc-b": round(2 / 3, 6)}
    with pytest.raises(LedgerError, match="already published"):
        ratings.publish(oct_, AS_OF, AS_OF, provisional=True)
    # the source changes after publication: the quarter still uses the published October
    ratings.source.ds = dataclasses.replace(small_fleet(), orders=())
    with pytest.raises(ProvisionalError, match="2026Q4 has not ended"):
        ratings.publish(parse_period("2026Q4"), AS_OF, AS_OF)
    q = ratings.publish(parse_period("2026Q4"), AS_OF, AS_OF, provisional=True)
    # H2 #9: at midnight on the estates' calendar, not UTC's (which was 08:00 there)
    assert q.data()["provisional_reason"] == "2026Q4 has not ended (it ends 2027-01-01 00:00 (Asia/Shanghai))"
    results = {r["id"]: r for r in q.data()["results"]}
    assert q.data()["months_published"] == ["2026-10"]
    east = results["east"]
    # Nov has data only up to AS_OF (Nov 5), Dec is after AS_OF and left out
    assert [m["period"] for m in east["monthly"]] == ["2026-10", "2026-11", "2026-12"]
    assert east["monthly"][0]["score"] == published["east"]
    assert east["monthly"][2]["score"] is None
    assert ratings.ledger.verify().ok


def test_correction_references_the_published_entry(ratings):
    oct_ = parse_period("2026-10")
    ratings.publish(oct_, AS_OF, AS_OF, provisional=True)
    with pytest.raises(ValueError, match="not published yet"):
        ratings.correct(parse_period("2026-09"), AS_OF, AS_OF, "late data")
    c = ratings.correct(oct_, AS_OF, AS_OF, "orders re-imported")
    assert c.kind == "correction" and c.corrects == 1 and c.data()["reason"] == "orders re-imported"
    assert ratings.published_month("2026-10") == c


CSV = """estate,month,indicator,value,count,source
east,2026-10,resident_satisfaction,88%,120,survey
west,2026-10,hotline_handled_rate,0.9,,12345
"""


def test_external_csv_import_and_store(tmp_path):
    vals = parse_csv(CSV, known_estates=["east", "west"])
    assert [(v.estate, v.indicator, v.value, v.count) for v in vals] == [
        ("east", "resident_satisfaction", 0.88, 120),
        ("west", "hotline_handled_rate", 0.9, 0),
    ]
    store = ExternalStore(store_db(tmp_path))
    store.put(vals)
    store.put([dataclasses.replace(vals[0], value=0.5)])  # same key: replaced
    assert sorted((v.estate, v.value) for v in store.values(["2026-10"])) == [("east", 0.5), ("west", 0.9)]
    assert store.values(["2026-11"]) == []
    store.close()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("estate,month,value\n", "CSV header lacks ['indicator']"),
        ("estate,month,indicator,value\neast,2026-10,happiness,1\n", "line 2: unknown indicator 'happiness'"),
        ("estate,month,indicator,value\neast,2026-13,resident_satisfaction,0.8\n", "line 2: month '2026-13'"),
        (
            "estate,month,indicator,value\neast,2026-10,resident_satisfaction,180\n",
            "line 2: resident_satisfaction=180",
        ),
        (
            "estate,month,indicator,value\nnorth,2026-10,resident_satisfaction,0.8\n",
            "line 2: unknown estate 'north'",
        ),
        ("estate,month,indicator,value\neast,2026-10,inspection_score,\n", "line 2: missing 'value'"),
    ],
)
def test_external_csv_errors_name_the_line(text, message):
    with pytest.raises(ExternalError) as exc:
        parse_csv(text, known_estates=["east", "west"])
    assert str(exc.value).startswith(message)


def _morder(id_, type_, opened, **kw):
    base = dict(
        id=id_, asset_id="E1", kind="elevator", estate="east", building="b1", company="pc-a", group="old",
        type=type_, priority="p2", state="closed", fault_code=None, crew_id="c1", complex=False, opened_at=opened,
        scheduled_for=None, recovered_at=None, assigned_at=None, acknowledged_at=None, started_at=None,
        resolved_at=None, verified_at=None, closed_at=None, cancelled_at=None, rejections=0, rework_count=0,
        transitions=(), followed_up=None, followed_up_at=None, resident_rating=None,
    )  # fmt: skip
    names = {f.name for f in dataclasses.fields(mq.OrderRecord)}
    return mq.OrderRecord(**{k: v for k, v in (base | kw).items() if k in names})


def test_maintenance_records_convert_with_sla_deadlines_and_planned_windows():
    tr = mq.TransitionRecord
    pm = _morder(7, "preventive", t(15), scheduled_for=t(20, 8), started_at=t(20, 8), resolved_at=t(20, 11),
                 transitions=(tr("assigned", "in_progress", "crew", t(20, 8), "", "c1"),))  # fmt: skip
    cm = _morder(8, "corrective", t(10), priority="p1", acknowledged_at=t(10, 0, 5), rework_count=1,
                 closed_at=t(11), followed_up=True, resident_rating=4,
                 transitions=(tr("assigned", "rejected", "crew", t(10, 0, 2), "busy", "c1"),))  # fmt: skip
    orders = orders_from_maintenance([pm, cm])
    p, c = orders
    assert (p.order_id, p.window_start, p.window_end) == ("7", t(20, 8), t(20, 8) + dt.timedelta(hours=24))
    assert p.scheduled_ahead and p.in_progress == t(20, 8)
    assert c.respond_by == t(10, 0, 10)  # p1: 10 minutes (maintenance/sla.toml)
    assert c.resolve_by == t(11)
    assert c.rejected == t(10, 0, 2) and c.reopened == 1 and c.rework
    assert (c.followed_up, c.resident_rating) == (True, 4) and p.followed_up is None
    si = mq.StateInterval
    ivs = intervals_from_maintenance(
        [si("E1", "elevator", "east", "b1", "pc-a", "old", "under_maintenance", t(20, 8), t(20, 11), False),
         si("E1", "elevator", "east", "b1", "pc-a", "old", "in_service", t(20, 11), t(31), True)],
        [pm, cm],
    )  # fmt: skip
    assert ivs[0].order_id == "7" and ivs[0].end == t(20, 11)
    assert ivs[1].end is None and ivs[1].order_id is None


def test_a_proposals_window_is_its_own_due_time_and_unapproved_proposals_are_not_late_work():
    """Issue 12: the window ends at the order's ``window_end`` (scheduled + up to 7 days), not scheduled + 24 h;
    a proposal never approved is not preventive work — not late while waiting, not late after its window."""
    from evaluation.metric_types import MetricSettings
    from evaluation.service import preventive_on_time_rate

    tr = mq.TransitionRecord
    due = t(9, 8)  # scheduled t(2, 8) + 7 days
    base = dict(scheduled_for=t(2, 8), window_end=due)
    waiting = _morder(1, "preventive", t(1), state="created", **base)
    approved = tr("created", "assigned", "engineer", t(1, 10), "", "c1")
    done = _morder(2, "preventive", t(1), assigned_at=t(1, 10), acknowledged_at=t(1, 11), resolved_at=t(6),
                   transitions=(approved,), **base)  # fmt: skip
    running = _morder(
        3, "preventive", t(1), state="assigned", assigned_at=t(1, 10), transitions=(approved,), **base
    )
    lapsed = _morder(4, "preventive", t(1), state="created", **base)
    w, d, r, lapsed_ = orders_from_maintenance([waiting, done, running, lapsed])
    assert (d.window_start, d.window_end, d.resolve_by) == (t(2, 8), due, due)
    assert d.respond_by == t(1, 10) + dt.timedelta(hours=24)  # approval + [planned] respond_hours
    assert (w.window_end, w.resolve_by, w.respond_by) == (None, None, None)  # never approved: not work
    oct_ = parse_period("2026-10")
    # four days after scheduling (old window end: t(3, 8)): done on time, the rest neither late nor due
    m = preventive_on_time_rate([w, d, r], oct_, MetricSettings(t(6, 12)))
    assert (m.numerator, m.denominator, m.value) == (1, 1, 1.0)
    # after the window: the approved, unresolved order is late; the lapsed proposal is not counted
    m = preventive_on_time_rate([w, d, r, lapsed_], oct_, MetricSettings(t(10)))
    assert (m.numerator, m.denominator, m.evidence) == (1, 2, ("2", "3"))
    assert m.note == "late: 3"


def test_dashboard_rows_carry_company_estate_group_colour(ratings):
    from evaluation.analytics import dashboard_rows

    oct_ = parse_period("2026-10")
    rows = dashboard_rows(ratings.month(oct_, AS_OF), ratings.quarter(parse_period("2026Q4"), AS_OF))
    east = next(r for r in rows if r["estate"] == "east")
    assert (
        east["company"] == "pc-a"
        and east["group"] == "old-estates"
        and east["period"] == "2026-10 暂定 provisional"
    )  # 81.9 % observed
    assert east["colour"] == "red" and east["rank_in_group"] == 1
    assert east["score"] == pytest.approx((20 + 10 / 3 + 10 / 3 + 5 / 3 + 15 + 2.5) / 0.85, abs=1e-4)
    company = next(r for r in rows if r["company"] == "pc-a" and r["estate"] == "")
    assert company["score"] == east["score"]


def test_one_entity_month_is_the_same_score_computed_alone_or_read_from_the_ledger(ratings):
    oct_ = parse_period("2026-10")
    everyone = {(s.entity, s.id): s for s in ratings.month_scores(oct_, AS_OF)}
    for key in everyone:
        alone = ratings.entity_month(*key, oct_, AS_OF)
        assert alone is not None and alone.score == everyone[key].score
        assert alone.metrics["intactness_rate"] == everyone[key].metrics["intactness_rate"]
    assert ratings.entity_month("company", "pc-nobody", oct_, AS_OF) is None
    ratings.publish(oct_, AS_OF, AS_OF, provisional=True)
    published = ratings.entity_month("estate", "west", oct_, AS_OF)
    assert published is not None and published.metrics == {}  # from the ledger, not recomputed
    assert published.score == pytest.approx(everyone[("estate", "west")].score, abs=1e-6)


def test_a_final_publication_supersedes_the_provisional_one(ratings):
    q4 = parse_period("2026Q4")
    first = ratings.publish(q4, AS_OF, AS_OF, provisional=True)
    assert first.data()["provisional"] is True
    assert all(r.provisional for r in ratings.quarter(q4, AS_OF))
    later = dt.datetime(2027, 1, 3, tzinfo=UTC)
    ratings.scheme = dataclasses.replace(ratings.scheme, complete_coverage=0.5)  # B2 is never seen
    assert not any(r.provisional for r in ratings.quarter(q4, later))
    final = ratings.publish(q4, later, later)
    assert final.seq == 2 and final.data()["provisional"] is False
    assert ratings.ledger.latest("2026Q4", "quarterly") == final
    assert ratings.ledger.entries()[0] == first  # the provisional entry stays, superseded
    with pytest.raises(LedgerError, match="already published"):
        ratings.publish(q4, later, later)
    assert ratings.ledger.verify(head=final.entry_sha256).ok
