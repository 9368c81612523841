"""Every report as HTML (jinja2, autoescaped): one template, ``templates/report.html``, for all of them."""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, select_autoescape

from evaluation.names import word
from evaluation.reports.layout import COLOUR_HEX, Report

_ENV = Environment(loader=PackageLoader("evaluation.reports", "templates"), autoescape=select_autoescape())


def render_html(report: Report) -> str:
    return _ENV.get_template("report.html").render(
        r=report, hex=COLOUR_HEX, provisional_label=word("provisional", report.lang)
    )
