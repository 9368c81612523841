"""The inline SVG bar chart of monthly scores the reports show."""

from __future__ import annotations

from collections.abc import Sequence


def trend_svg(
    points: Sequence[tuple[str, float | None]],
    width: int = 480,
    height: int = 160,
    label: str = "monthly scores",
) -> str:
    """A bar chart of monthly scores (0..100); months without a score are labelled "–"."""
    n = max(1, len(points))
    slot = width / n
    bars = []
    for i, (month, score) in enumerate(points):
        x = i * slot + slot * 0.15
        w = slot * 0.7
        if score is not None:
            h = (height - 30) * max(0.0, min(100.0, score)) / 100
            bars.append(
                f'<rect x="{x:.1f}" y="{height - 20 - h:.1f}" width="{w:.1f}" height="{h:.1f}" fill="#1565c0">'
                f"<title>{month}: {score:.2f}</title></rect>"
                f'<text x="{x + w / 2:.1f}" y="{height - 24 - h:.1f}" font-size="10" text-anchor="middle">'
                f"{score:.1f}</text>"
            )
        bars.append(
            f'<text x="{x + w / 2:.1f}" y="{height - 6}" font-size="10" text-anchor="middle">'
            f"{month}{'' if score is not None else ' –'}</text>"
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="{label}">{"".join(bars)}</svg>'
    )
