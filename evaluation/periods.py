"""Rating periods: a day, a calendar month or a quarter, as half-open UTC intervals ``[start, end)``."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

UTC = dt.UTC
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-?Q([1-4])$", re.IGNORECASE)
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


@dataclass(frozen=True, order=True)
class Period:
    """``label`` is ``2026-10`` (month), ``2026Q4`` (quarter) or ``2026-10-05`` (day)."""

    start: dt.datetime
    end: dt.datetime
    label: str
    granularity: str  # day | month | quarter

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError(f"period {self.label}: start and end must be timezone-aware (UTC)")
        if self.end <= self.start:
            raise ValueError(f"period {self.label}: end {self.end} is not after start {self.start}")

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600

    @property
    def days(self) -> float:
        return self.hours / 24

    def months(self) -> tuple[Period, ...]:
        """The calendar months inside this period (a month is its own only month)."""
        out: list[Period] = []
        y, m = self.start.year, self.start.month
        while True:
            p = month(y, m)
            if p.start >= self.end:
                break
            out.append(p)
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        return tuple(out)

    def previous(self) -> Period:
        if self.granularity == "quarter":
            q = (self.start.month - 1) // 3 + 1
            return quarter(self.start.year - 1, 4) if q == 1 else quarter(self.start.year, q - 1)
        if self.granularity == "month":
            y, m = self.start.year, self.start.month
            return month(y - 1, 12) if m == 1 else month(y, m - 1)
        d = self.start.date() - dt.timedelta(days=1)
        return day(d.year, d.month, d.day)


def month(year: int, mon: int) -> Period:
    start = dt.datetime(year, mon, 1, tzinfo=UTC)
    end = dt.datetime(year + 1, 1, 1, tzinfo=UTC) if mon == 12 else dt.datetime(year, mon + 1, 1, tzinfo=UTC)
    return Period(start, end, f"{year:04d}-{mon:02d}", "month")


def quarter(year: int, q: int) -> Period:
    start = dt.datetime(year, 3 * (q - 1) + 1, 1, tzinfo=UTC)
    end = dt.datetime(year + 1, 1, 1, tzinfo=UTC) if q == 4 else dt.datetime(year, 3 * q + 1, 1, tzinfo=UTC)
    return Period(start, end, f"{year:04d}Q{q}", "quarter")


def day(year: int, mon: int, d: int) -> Period:
    start = dt.datetime(year, mon, d, tzinfo=UTC)
    return Period(start, start + dt.timedelta(days=1), f"{year:04d}-{mon:02d}-{d:02d}", "day")


def parse_period(text: str) -> Period:
    """``2026-10`` → month, ``2026Q4`` or ``2026-Q4`` → quarter, ``2026-10-05`` → day."""
    text = text.strip()
    try:
        if m := _MONTH.match(text):
            return month(int(m[1]), int(m[2]))
        if m := _QUARTER.match(text):
            return quarter(int(m[1]), int(m[2]))
        if m := _DAY.match(text):
            return day(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        pass
    raise ValueError(
        f"period {text!r} is not a month like 2026-10, a quarter like 2026Q4 or a day like 2026-10-05"
    )


def quarter_of(p: Period) -> Period:
    return quarter(p.start.year, (p.start.month - 1) // 3 + 1)
