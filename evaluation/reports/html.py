"""The HTML report (jinja2, autoescaped) with an inline SVG trend chart."""

from __future__ import annotations

from collections.abc import Sequence

from jinja2 import Environment, PackageLoader, select_autoescape

from evaluation.reports.data import CompanyReport

_ENV = Environment(loader=PackageLoader("evaluation.reports", "templates"), autoescape=select_autoescape())


def fmt(x: float | int | None) -> str:
    return "no data" if x is None else f"{x:.2f}"


def trend_svg(points: Sequence[tuple[str, float | None]], width: int = 480, height: int = 160) -> str:
    """A bar chart of monthly scores (0..100); months without a score are labelled "–"."""
    n = max(1, len(points))
    slot = width / n
    bars = []
    for i, (label, score) in enumerate(points):
        x = i * slot + slot * 0.15
        w = slot * 0.7
        if score is not None:
            h = (height - 30) * max(0.0, min(100.0, score)) / 100
            bars.append(
                f'<rect x="{x:.1f}" y="{height - 20 - h:.1f}" width="{w:.1f}" height="{h:.1f}" fill="#1565c0">'
                f"<title>{label}: {score:.2f}</title></rect>"
                f'<text x="{x + w / 2:.1f}" y="{height - 24 - h:.1f}" font-size="10" text-anchor="middle">{score:.1f}</text>'
            )
        bars.append(
            f'<text x="{x + w / 2:.1f}" y="{height - 6}" font-size="10" text-anchor="middle">'
            f"{label}{'' if score is not None else ' –'}</text>"
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="monthly scores">{"".join(bars)}</svg>'
    )


def render_html(report: CompanyReport) -> str:
    shares = {
        metric: trend_svg([(m, None if v is None else 100 * v) for m, v in points], height=120)
        for metric, points in report.indicator_trends.items()
    }
    return _ENV.get_template("company.html").render(
        r=report, fmt=fmt, trend_svg=trend_svg(report.trend), indicator_svgs=shares
    )
