"""The one layout every report uses, HTML and PDF alike (the PDF is the HTML printed by Chromium).

A report is a title, a few lines about the period, an optional provisional banner, summary facts, an
optional chart and tables. Builders (``evaluation/reports/build.py``) fill it in one language.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from evaluation.names import word

SHANGHAI = ZoneInfo("Asia/Shanghai")
COLOUR_HEX = {"green": "#2e7d32", "blue": "#1565c0", "yellow": "#f9a825", "red": "#c62828"}


@dataclass(frozen=True)
class Table:
    id: str
    title: str
    head: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    #: columns right-aligned (numbers)
    numeric: frozenset[int] = frozenset()
    #: the colour of each row's badge column (``badge`` index), "" for none
    badges: tuple[str, ...] = ()
    badge: int = -1
    foot: tuple[str, ...] = ()


@dataclass(frozen=True)
class Fact:
    id: str
    label: str
    value: str
    colour: str = ""  # a colour name: the value is shown as a badge


@dataclass(frozen=True)
class Report:
    lang: str
    kind: str  # company-month | company-quarter | district-month | district-quarter
    title: str
    lines: tuple[str, ...]
    provisional: str  # the reason, "" when final
    facts: tuple[Fact, ...]
    tables: tuple[Table, ...]
    chart: str = ""  # inline SVG
    chart_title: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def filename(self) -> str:
        return f"{self.kind}"


def local_time(t: dt.datetime) -> str:
    """A time as readers see it: Asia/Shanghai, with the zone named."""
    return t.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") + " (UTC+8)"


def num(x: float | None, lang: str, digits: int = 2) -> str:
    return word("no_data", lang) if x is None else f"{x:.{digits}f}"


def pct(x: float | None, lang: str) -> str:
    """A weight already in percent (0..100): ``26.7 %``."""
    return word("no_data", lang) if x is None else f"{x:.1f}%"
