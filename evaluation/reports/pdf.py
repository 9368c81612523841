"""The PDF report (fpdf2).

When fontconfig knows a CJK-capable TrueType/OpenType font (``fc-list :lang=zh``), it is embedded and names
keep their Chinese characters. Otherwise (as on the build machine) the PDF uses the core Helvetica font and
Latin text: Chinese names are reduced to their Latin part (demo names carry one, e.g. "安居物业 Anju
Property" → "Anju Property") or to the id. The HTML report always keeps the full names.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from pathlib import Path

from fpdf import FPDF

from evaluation.reports.data import COLOUR_HEX, CompanyReport
from evaluation.reports.html import fmt

_NON_LATIN = re.compile(r"[^\x20-\x7e\xa0-\xff]+")


def latin(text: str, fallback: str = "") -> str:
    out = re.sub(r"\s+", " ", _NON_LATIN.sub(" ", text)).strip(" ()")
    return out or fallback


@functools.cache
def find_cjk_font() -> Path | None:
    """A .ttf/.otf/.ttc font covering Chinese, per fontconfig; None when there is none (or no fc-list).

    Single fonts are preferred; a collection (.ttc, e.g. Debian's fonts-wqy-zenhei, which
    `facility setup --browser` installs) is used through its first face, which fpdf2 reads."""
    if shutil.which("fc-list") is None:
        return None
    try:
        out = subprocess.run(
            ["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    files = sorted(Path(line.split(":")[0].strip()) for line in out.splitlines() if line.strip())
    for suffixes in ((".ttf", ".otf"), (".ttc",)):
        found = next((f for f in files if f.suffix.lower() in suffixes and f.is_file()), None)
        if found is not None:
            return found
    return None


class _Text:
    """The font family to use and how to make text printable with it."""

    def __init__(self, pdf: FPDF, cjk: Path | None) -> None:
        self.family = "Helvetica"
        self.unicode = False
        if cjk is not None:
            try:
                pdf.add_font("cjk", "", str(cjk))
                pdf.add_font("cjk", "B", str(cjk))
                self.family, self.unicode = "cjk", True
            except Exception:  # a font fpdf2 cannot read: fall back to Latin text
                pass

    def __call__(self, text: str, fallback: str = "") -> str:
        return text if self.unicode else latin(text, fallback)


def _rgb(hex_: str) -> tuple[int, int, int]:
    return int(hex_[1:3], 16), int(hex_[3:5], 16), int(hex_[5:7], 16)


def render_pdf(r: CompanyReport, cjk_font: Path | bool | None = True) -> bytes:
    """``cjk_font``: True = look one up (fc-list), False/None = Latin only, or a font file to embed."""
    pdf = FPDF(format="A4")
    font = (
        None if cjk_font is False or cjk_font is None else find_cjk_font() if cjk_font is True else cjk_font
    )
    tx = _Text(pdf, font)
    pdf.set_title(f"{r.company} rating {r.period}")
    pdf.set_creator("facility-monitor evaluation")
    pdf.add_page()
    pdf.set_font(tx.family, "B", 16)
    pdf.cell(0, 10, f"{tx(r.name, r.company)} ({r.company})", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(tx.family, "", 10)
    pdf.cell(0, 6, f"Monthly rating {r.period} - scheme {tx(r.scheme)} - data as of {r.as_of} UTC",
             new_x="LMARGIN", new_y="NEXT")  # fmt: skip
    pdf.ln(2)
    pdf.set_font(tx.family, "B", 13)
    pdf.cell(60, 9, f"Score: {fmt(r.score)} / 100")
    pdf.set_fill_color(*_rgb(COLOUR_HEX.get(r.colour or "", "#757575")))
    pdf.set_text_color(255, 255, 255)
    pdf.cell(40, 9, (r.colour or "no data").upper(), fill=True, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    pdf.set_font(tx.family, "", 10)
    pdf.cell(0, 6, f"{r.quarter} to date average {fmt(r.quarter_average)}; next quarter: {r.inspection}",
             new_x="LMARGIN", new_y="NEXT")  # fmt: skip
    pdf.cell(0, 6, f"Rank {r.rank_overall or '-'} of {r.ranked_companies} overall; {r.rank_in_group or '-'} of "
                   f"{r.group_size} in group {r.group}", new_x="LMARGIN", new_y="NEXT")  # fmt: skip
    if r.monitoring:
        pdf.multi_cell(0, 6, tx(r.monitoring), new_x="LMARGIN", new_y="NEXT")
    _trend(pdf, r, tx)
    months = [m for m, _ in r.trend]
    _table(
        pdf,
        tx,
        "Indicator trend (%)",
        ("indicator", *months),
        (50, *(int(130 / max(1, len(months))),) * len(months)),
        [
            (metric, *("-" if v is None else f"{100 * v:.1f}" for _, v in points))
            for metric, points in r.indicator_trends.items()
        ],
    )
    _table(
        pdf,
        tx,
        "Indicators",
        ("indicator", "value", "points", "weight", "contribution"),
        (60, 40, 25, 25, 30),
        [(i.name, i.display, fmt(i.points), fmt(i.weight), fmt(i.contribution)) for i in r.indicators],
    )
    _table(
        pdf,
        tx,
        "Estates",
        ("estate", "group", "score", "rank in group"),
        (70, 40, 30, 40),
        [
            (
                tx(e.score.name, e.score.id),
                e.score.group,
                fmt(e.score.score),
                f"{e.rank_in_group or '-'} / {e.group_size}",
            )
            for e in r.estates
        ],
    )
    return bytes(pdf.output())


def _trend(pdf: FPDF, r: CompanyReport, tx: _Text) -> None:
    pdf.ln(3)
    pdf.set_font(tx.family, "B", 11)
    pdf.cell(0, 7, "Trend (monthly score)", new_x="LMARGIN", new_y="NEXT")
    x0, y0, w, h = pdf.get_x(), pdf.get_y(), 150.0, 40.0
    pdf.set_draw_color(180, 180, 180)
    pdf.line(x0, y0 + h, x0 + w, y0 + h)
    slot = w / max(1, len(r.trend))
    pdf.set_font(tx.family, "", 7)
    pdf.set_fill_color(21, 101, 192)
    for i, (label, score) in enumerate(r.trend):
        x = x0 + i * slot + slot * 0.15
        if score is not None:
            bh = h * max(0.0, min(100.0, score)) / 100
            pdf.rect(x, y0 + h - bh, slot * 0.7, bh, style="F")
            pdf.text(x, y0 + h - bh - 1, f"{score:.1f}")
        pdf.text(x, y0 + h + 4, label + ("" if score is not None else " -"))
    pdf.set_xy(x0, y0 + h + 7)


def _table(
    pdf: FPDF,
    tx: _Text,
    title: str,
    head: tuple[str, ...],
    widths: tuple[int, ...],
    rows: list[tuple[str, ...]],
) -> None:
    pdf.ln(2)
    pdf.set_font(tx.family, "B", 11)
    pdf.cell(0, 7, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(tx.family, "B", 9)
    for text, w in zip(head, widths, strict=True):
        pdf.cell(w, 6, text, border="B")
    pdf.ln()
    pdf.set_font(tx.family, "", 9)
    for row in rows:
        for text, w in zip(row, widths, strict=True):
            pdf.cell(w, 6, tx(str(text)))
        pdf.ln()
