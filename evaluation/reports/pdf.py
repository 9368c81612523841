"""The PDF of a report: its HTML printed by headless Chromium, so the PDF has the HTML's one layout
(``facility setup --browser`` installs Chromium and a CJK font; Chinese text is kept as it is)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from evaluation.reports.html import render_html
from evaluation.reports.layout import Report

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class PdfUnavailable(RuntimeError):
    """No Chromium to print with."""


def chromium() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    raise PdfUnavailable(
        "PDF reports are printed by Chromium, which is not installed: run `facility setup --browser` "
        "(or take the HTML report)"
    )


def html_to_pdf(html: str, timeout_s: float = 60.0) -> bytes:
    """Print ``html`` to an A4 PDF (its ``@page`` rules apply) with headless Chromium."""
    exe = chromium()
    with tempfile.TemporaryDirectory(prefix="facility-report-") as tmp:
        src, out = Path(tmp) / "report.html", Path(tmp) / "report.pdf"
        src.write_text(html, encoding="utf-8")
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--no-pdf-header-footer", f"--user-data-dir={tmp}/profile", f"--print-to-pdf={out}",
               src.as_uri()]  # fmt: skip
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            raise PdfUnavailable(f"Chromium did not print the report within {timeout_s:g} s") from None
        if not out.is_file() or out.stat().st_size == 0:
            tail = (done.stderr or "").strip().splitlines()[-3:]
            raise PdfUnavailable(f"Chromium printed no PDF (exit {done.returncode}): {' | '.join(tail)}")
        return out.read_bytes()


def render_pdf(report: Report) -> bytes:
    return html_to_pdf(render_html(report))
