"""The quarterly district report renders in Chinese as HTML and as PDF (the HTML printed by the real Chromium)
with no overlapping columns: the PDF's text is read back with its positions, and the printed layout of the
same HTML is measured in the browser (print media, A4's printable width)."""

from __future__ import annotations

import io
import itertools
import unicodedata
from pathlib import Path

import pytest
from pypdf import PdfReader

from evaluation.ledger import Ledger
from evaluation.periods import parse_period
from evaluation.ratings import Ratings
from evaluation.reports.build import build_report
from evaluation.reports.html import render_html
from evaluation.reports.pdf import render_pdf
from evaluation.scheme import load_scheme
from evaluation.testing import AS_OF, small_fleet, store_db

pytestmark = pytest.mark.integration
CHROMIUM = "/usr/bin/chromium"
A4_PRINTABLE_PX = round((210 - 24) / 25.4 * 96)  # the template's @page margins are 12 mm left and right


class Source:
    def dataset(self, period, as_of):
        return small_fleet()


@pytest.fixture(scope="module")
def ratings(tmp_path_factory):
    return Ratings(Source(), load_scheme(), Ledger(store_db(tmp_path_factory.mktemp("store"))))


def _fragments(pdf: bytes) -> list[tuple[float, float, str, float]]:
    """(x, y, text, font size in pt) of every text run of the PDF, in points."""
    out: list[tuple[float, float, str, float]] = []
    for page in PdfReader(io.BytesIO(pdf)).pages:

        def visit(text, cm, tm, font, size):
            if text.strip():
                x, y = tm[4] * cm[0] + cm[4], tm[5] * cm[3] + cm[5]
                out.append((x, y, text, size * tm[0] * cm[0]))

        page.extract_text(visitor_text=visit)
    return out


def _min_width(text: str, size: float) -> float:
    """A lower bound of the printed width: CJK glyphs are one em, Latin ones at least 0.4 em."""
    wide = sum(1 for c in text if unicodedata.east_asian_width(c) in "WF")
    return size * (wide + 0.4 * (len(text) - wide))


def test_quarterly_district_report_in_chinese_prints_without_overlaps(ratings, tmp_path):
    rep = build_report(ratings, parse_period("2026Q4"), AS_OF, "zh")
    pdf = render_pdf(rep)
    assert pdf.startswith(b"%PDF-")
    frags = _fragments(pdf)
    text = "".join(f[2] for f in frags)
    assert "季度辖区物业考核报告" in text and "每周检查并提交整改方案" in text and "红牌" in text
    checked = 0
    for table in rep.tables:
        for row in (table.head, *table.rows):
            # the row's line: the runs at the height of a run with its first cell (a heading may share the
            # text: the first such line with a run per column), left to right
            line = next(
                ln
                for f in frags
                if f[2].strip() == row[0]
                and len(ln := sorted((g for g in frags if abs(g[1] - f[1]) < 3), key=lambda g: g[0]))
                >= len(row)
            )
            cells = [f[2].strip() for f in line]
            assert cells == list(row)  # every column, in order, each its own text
            for a, b in itertools.pairwise(line):
                assert a[0] + _min_width(a[2], a[3]) <= b[0] + 0.5, f"{a[2]!r} runs into {b[2]!r}"
            checked += 1
            frags = [f for f in frags if f not in line]  # the same first cell may start a later row
    assert checked == sum(1 + len(t.rows) for t in rep.tables)


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs `facility setup --browser`")
def test_printed_layout_keeps_every_cell_inside_its_column(ratings, browser):
    pages = [
        render_html(build_report(ratings, parse_period("2026Q4"), AS_OF, "zh")),
        render_html(
            build_report(ratings, parse_period("2026-10"), AS_OF, "en", "pc-a")
        ),  # "… per 100 asset-months"
    ]
    page = browser.new_page(viewport={"width": A4_PRINTABLE_PX, "height": 1100})
    page.emulate_media(media="print")
    problems = []
    try:
        for html in pages:
            page.set_content(html)
            problems += page.evaluate(OVERLAPS)
            cells = page.evaluate("document.querySelectorAll('td').length")
            assert cells > 10
    finally:
        page.close()
    assert problems == []


OVERLAPS = """() => {
  const out = [];
  const body = document.body.getBoundingClientRect();
  for (const table of document.querySelectorAll("table")) {
    const t = table.getBoundingClientRect();
    if (t.right > body.right + 0.5) out.push(`${table.id} is wider than the page`);
    for (const tr of table.rows) {
      let prev = null;
      for (const cell of tr.cells) {
        const c = cell.getBoundingClientRect();
        if (prev && c.left < prev.right - 0.5) out.push(`${table.id}: cells overlap at "${cell.textContent}"`);
        const range = document.createRange();
        range.selectNodeContents(cell);
        for (const r of range.getClientRects()) {
          if (r.width > 0 && (r.left < c.left - 0.5 || r.right > c.right + 0.5))
            out.push(`${table.id}: "${cell.textContent}" runs out of its column`);
        }
        prev = c;
      }
    }
  }
  return out;
}"""


#: the short cells (headers, colours, inspections) of each table laid out on more than one line
WRAPPED = """() => {
  const out = [];
  for (const cell of document.querySelectorAll("table th, table td")) {
    const text = cell.textContent.trim();
    if (!text || text.length > 12 || text.includes(" ")) continue;
    const walk = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walk.nextNode(); node; node = walk.nextNode()) {
      const range = document.createRange();
      range.selectNodeContents(node);
      const tops = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top)));
      if (tops.size > 1) out.push(text);
    }
  }
  return out;
}"""

#: headers and short cells (a colour, "每月1次检查", "每周检查并提交整改方案") that the layout may still break
NOWRAP = """() => [...document.querySelectorAll("table th, table td")]
  .filter((c) => c.textContent.trim().length <= 11 && getComputedStyle(c).whiteSpace !== "nowrap")
  .map((c) => c.textContent.trim())"""


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs `facility setup --browser`")
def test_short_headers_and_inspections_stay_on_one_line_beside_long_names(ratings, browser):
    """H2 #14: with real names (long, mixed Chinese and English) the estates table printed "挂牌颜/色" and
    "每月1次检/查" over two lines; headers and short cells keep one line, long names wrap between words."""
    import dataclasses

    rep = build_report(ratings, parse_period("2026Q4"), AS_OF, "zh")
    long_names = {
        "West Estate": "金湖花园 (Jinhu Garden, luxury estate)",
        "East Estate": "安宁家园 (Anning, resettlement estate)",
        "Company A": "安居物业 Anju Property",
        "Company B": "恒泰物业 Hengtai Property",
    }  # fmt: skip  (the demo's)
    tables = tuple(
        dataclasses.replace(t, rows=tuple(tuple(long_names.get(c, c) for c in row) for row in t.rows))
        for t in rep.tables
    )
    html = render_html(dataclasses.replace(rep, tables=tables))
    page = browser.new_page(viewport={"width": A4_PRINTABLE_PX, "height": 1100})
    page.emulate_media(media="print")
    try:
        page.set_content(html)
        shown = page.evaluate("[...document.querySelectorAll('table th')].map((c) => c.textContent.trim())")
        assert "挂牌颜色" in shown
        # (the demo's fuller table squeezed these over two lines in print; here they may fit either way, so
        # the rule that keeps them on one line is checked as well as the result)
        assert page.evaluate(NOWRAP) == []
        assert page.evaluate(WRAPPED) == []
        assert page.evaluate(OVERLAPS) == []
    finally:
        page.close()
