"""Reports over the hand-computed fleet: company and district, month and quarter, Chinese and English; the
breakdown's weights add up to 100 %; CSV has every figure. (The PDF: tests/integration/test_ratings_report_pdf.py.)"""

from __future__ import annotations

import csv
import io

import pytest

from evaluation.ledger import Ledger
from evaluation.periods import parse_period
from evaluation.ratings import Ratings
from evaluation.reports.build import build_report
from evaluation.reports.chart import trend_svg
from evaluation.reports.csvexport import month_csv
from evaluation.reports.data import company_report
from evaluation.reports.html import render_html
from evaluation.scheme import load_scheme
from evaluation.testing import AS_OF, small_fleet, store_db

OCT = parse_period("2026-10")
EAST = (
    (20 + 10 / 3 + 10 / 3 + 5 / 3 + 15 + 2.5) * 100 / 85
)  # pc-a's score, worked out in test_evaluation_scoring


class Source:
    def dataset(self, period, as_of):
        return small_fleet()


@pytest.fixture(scope="module")
def ratings(tmp_path_factory):
    led = Ledger(store_db(tmp_path_factory.mktemp("ledger")))
    yield Ratings(Source(), load_scheme(), led)
    led.close()


@pytest.fixture(scope="module")
def report(ratings):
    return company_report(ratings, "pc-a", OCT, AS_OF, trend_months=3)


def test_report_data(report):
    assert report.score == pytest.approx(EAST)
    # quarter to date = October alone: 45.83 → red, weekly inspections and a rectification plan
    assert report.quarter == "2026Q4" and report.quarter_average == pytest.approx(round(EAST, 2))
    assert report.colour == "red"
    assert report.inspection == "weekly inspections and a rectification plan"
    assert [e.score.id for e in report.estates] == ["east"]
    # Aug and Sep have no data before the fleet's timelines start: no score, not 100
    assert [(m, s is None) for m, s in report.trend] == [
        ("2026-08", True),
        ("2026-09", True),
        ("2026-10", False),
    ]


def test_company_month_html_in_chinese_and_english(ratings):
    zh = render_html(build_report(ratings, OCT, AS_OF, "zh", "pc-a"))
    assert '<html lang="zh-CN">' in zh and "月度物业服务企业考核报告" in zh
    assert f"{EAST:.2f}" in zh and ">红牌</span>" in zh
    assert ">业主满意度</td>" in zh and "resident_satisfaction" not in zh  # names from the catalogue
    assert "127.66 每百台月" in zh  # one entrapment over E1 and E2's 0.94 elevator-months
    assert "数据截至: 2026-11-05 08:00 (UTC+8)" in zh  # Asia/Shanghai
    assert 'id="provisional"' in zh and "仅监测到 81.9%" in zh  # B2 never observed: not final
    en = render_html(build_report(ratings, OCT, AS_OF, "en", "pc-a"))
    assert '<html lang="en">' in en and "<td>Resident satisfaction</td>" in en and ">red</span>" in en
    # H2 #14: the words of an English title are spaced ("QuarterlyDistrict rating report" before)
    assert '<h1 id="title">Company A · Monthly property-company rating report</h1>' in en
    assert (
        build_report(ratings, parse_period("2026Q4"), AS_OF, "en").title == "Quarterly district rating report"
    )
    assert build_report(ratings, parse_period("2026Q4"), AS_OF, "zh").title == "季度辖区物业考核报告"


def test_breakdown_weights_add_up_to_100_percent(ratings):
    rep = build_report(ratings, OCT, AS_OF, "zh", "pc-a")
    table = next(t for t in rep.tables if t.id == "indicators")
    weights = [float(row[4].rstrip("%")) for row in table.rows]
    # each shown to 0.1 %; intactness 20 of the 85 % scored (fault rate and entrapments: not enough data)
    assert sum(weights) == pytest.approx(100.0, abs=0.2) and max(weights) == 23.5
    assert table.foot[4] == "100.0%" and table.foot[5] == f"{EAST:.2f}"


def test_district_quarter_ranks_companies_with_colours_and_inspections(ratings):
    rep = build_report(ratings, parse_period("2026Q4"), AS_OF, "zh")
    companies = next(t for t in rep.tables if t.id == "companies")
    assert [row[2] for row in companies.rows] == ["Company B", "Company A"]
    assert [row[0] for row in companies.rows] == ["1", "2"]
    # B 75.52 yellow, A 53.92 red (their fault and entrapment rates over a few asset-months: not enough data)
    assert [row[-2:] for row in companies.rows] == [
        ("黄牌", "每月3次检查"),
        ("红牌", "每周检查并提交整改方案"),
    ]
    estates = next(t for t in rep.tables if t.id == "estates")
    assert [(row[2], row[3]) for row in estates.rows] == [
        ("West Estate", "Company B"),
        ("East Estate", "Company A"),
    ]
    assert (
        rep.provisional == "2026Q4 尚未结束（北京时间 2027-01-01 00:00 结束）"
    )  # H2 #9: not 08:00 (UTC midnight)


def test_company_quarter_and_unknown_company(ratings):
    rep = build_report(ratings, parse_period("2026Q4"), AS_OF, "en", "pc-a")
    assert rep.kind == "company-quarter" and next(f for f in rep.facts if f.id == "colour").value == "red"
    with pytest.raises(KeyError, match="no property company 'pc-x'"):
        build_report(ratings, parse_period("2026Q4"), AS_OF, "en", "pc-x")


def test_html_escapes_names(ratings):
    import dataclasses

    rep = build_report(ratings, OCT, AS_OF, "zh", "pc-a")
    html = render_html(dataclasses.replace(rep, title="<script>x</script>"))
    assert "<script>x</script>" not in html and "&lt;script&gt;" in html


def test_csv_has_every_figure(ratings):
    res = ratings.month(OCT, AS_OF)
    rows = list(csv.DictReader(io.StringIO(month_csv(res))))
    score = next(r for r in rows if r["id"] == "pc-a" and r["row"] == "score")
    assert float(score["value"]) == pytest.approx(EAST) and score["rank_overall"] in ("1", "2")
    intact = next(
        r for r in rows if r["id"] == "east" and r["row"] == "metric" and r["name"] == "intactness_rate"
    )
    assert (float(intact["numerator"]), float(intact["denominator"])) == (1856.0, 1872.0)
    only = list(csv.DictReader(io.StringIO(month_csv(res, "company", "pc-b"))))
    assert {r["id"] for r in only} == {"pc-b"}
    cov = next(r for r in only if r["row"] == "metric" and r["name"] == "monitoring_coverage")
    assert (float(cov["numerator"]), float(cov["denominator"])) == (1488.0, 2232.0)


def test_trend_svg_marks_missing_months():
    svg = trend_svg([("2026-09", None), ("2026-10", 50.0)])
    assert svg.count("<rect") == 1 and "2026-09 –" in svg and "50.0" in svg


def test_trends_of_a_later_month_read_the_published_month(tmp_path):
    led = Ledger(store_db(tmp_path))
    r = Ratings(Source(), load_scheme(), led)
    r.publish(OCT, AS_OF, AS_OF, provisional=True)
    rep = company_report(r, "pc-a", parse_period("2026-11"), AS_OF, trend_months=2)
    assert rep.trend[0] == ("2026-10", pytest.approx(EAST, abs=1e-6))
    assert rep.indicator_trends["first_time_fix_rate"][0][1] == pytest.approx(2 / 3, abs=1e-6)
    # quarter to date: Oct (published) and Nov (data up to AS_OF)
    assert rep.quarter == "2026Q4" and rep.quarter_average is not None
    assert led.verify().ok
    led.close()
