"""Reports over the hand-computed fleet: HTML shows the score and colour, PDF is a PDF, CSV has every figure."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess

import pytest

from evaluation.ledger import Ledger
from evaluation.periods import parse_period
from evaluation.ratings import Ratings
from evaluation.reports.csvexport import month_csv
from evaluation.reports.data import company_report
from evaluation.reports.html import render_html, trend_svg
from evaluation.reports.pdf import latin, render_pdf
from evaluation.scheme import load_scheme
from evaluation.testing import AS_OF, small_fleet, store_db

OCT = parse_period("2026-10")
EAST = 20 + 10 / 3 + 10 / 3 + 5 / 3 + 15 + 2.5  # pc-a's score, worked out in test_evaluation_scoring


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


def test_html_contains_score_colour_and_indicators(report):
    html = render_html(report)
    assert f'<strong id="score">{EAST:.2f}</strong>' in html
    assert ">red</span>" in html
    assert "resident_satisfaction" in html and "Company A" in html
    assert "<svg" in html and "2026-09 –" in html
    assert "<h3>intactness_rate (%)</h3>" in html and "2026-10: 99.15" in html  # 1856/1872


def test_report_shows_how_much_was_observed(ratings, report):
    assert '<p id="monitoring">Observed: 100.00% of the assets&#39; hours</p>' in render_html(report)
    # pc-b: F1 and B1 observed all October (744 h each), B2 never: 1488 of 2232 asset-hours
    west = company_report(ratings, "pc-b", OCT, AS_OF, trend_months=1)
    assert west.monitoring == "Observed: 66.67% of the assets' hours (not observed in the period: B2)"
    assert render_pdf(west).startswith(b"%PDF-")


def test_html_escapes_names(ratings, report):
    import dataclasses

    html = render_html(dataclasses.replace(report, name="<script>x</script>"))
    assert "<script>x</script>" not in html and "&lt;script&gt;" in html


def test_pdf_renders(report, tmp_path):
    pdf = render_pdf(report)
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    if shutil.which("pdftoppm"):
        out = tmp_path / "page"
        (tmp_path / "r.pdf").write_bytes(pdf)
        subprocess.run(
            ["pdftoppm", "-png", "-r", "40", str(tmp_path / "r.pdf"), str(out)], check=True, timeout=30
        )
        assert list(tmp_path.glob("page*.png"))


def test_pdf_embeds_a_unicode_font_when_given_one(report):
    """The CJK path, exercised with whatever TrueType font the machine has (glyph coverage aside)."""
    import dataclasses
    import warnings
    from pathlib import Path

    fonts = sorted(Path("/usr/share/fonts").rglob("*.ttf")) if Path("/usr/share/fonts").is_dir() else []
    if not fonts:
        pytest.skip("no TrueType font on this machine")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # missing CJK glyphs in a non-CJK font
        pdf = render_pdf(dataclasses.replace(report, name="安居物业 Anju"), cjk_font=fonts[0])
    assert pdf.startswith(b"%PDF-") and b"FontFile2" in pdf  # the font is embedded
    assert b"FontFile2" not in render_pdf(report, cjk_font=False)


def test_latin_keeps_the_latin_part_of_names():
    assert latin("安居物业 Anju Property") == "Anju Property"
    assert latin("绿苑小区 (Lüyuan, old estate)") == "Lüyuan, old estate"
    assert latin("安居物业", "pc-anju") == "pc-anju"


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
