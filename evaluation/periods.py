"""Rating periods: a day, a calendar month or a quarter, as half-open intervals ``[start, end)``.

A period's calendar is the estates' (``ZONE``, Asia/Shanghai): 2026Q4 runs from 2026-10-01 00:00 to 2027-01-01
00:00 Shanghai time, i.e. 2026-09-30T16:00Z to 2026-12-31T16:00Z. ``start`` and ``end`` are UTC datetimes (the
stores are UTC); ``end_text`` is how the end is shown.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

UTC = dt.UTC
#: the estates' time zone: days, months and quarters begin and end at its midnight
ZONE_NAME = "Asia/Shanghai"
ZONE = ZoneInfo(ZONE_NAME)
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

    @property
    def local_start(self) -> dt.datetime:
        return self.start.astimezone(ZONE)

    def end_text(self) -> str:
        """``2027-01-01 00:00 (Asia/Shanghai)``"""
        return f"{self.end.astimezone(ZONE):%Y-%m-%d %H:%M} ({ZONE_NAME})"

    def months(self) -> tuple[Period, ...]:
        """The calendar months inside this period (a month is its own only month)."""
        out: list[Period] = []
        y, m = self.local_start.year, self.local_start.month
        while True:
            p = month(y, m)
            if p.start >= self.end:
                break
            out.append(p)
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        return tuple(out)

    def previous(self) -> Period:
        s = self.local_start
        if self.granularity == "quarter":
            q = (s.month - 1) // 3 + 1
            return quarter(s.year - 1, 4) if q == 1 else quarter(s.year, q - 1)
        if self.granularity == "month":
            return month(s.year - 1, 12) if s.month == 1 else month(s.year, s.month - 1)
        d = s.date() - dt.timedelta(days=1)
        return day(d.year, d.month, d.day)


def _midnight(year: int, mon: int, d: int = 1) -> dt.datetime:
    """Midnight of that date in the estates' zone, as UTC."""
    return dt.datetime(year, mon, d, tzinfo=ZONE).astimezone(UTC)


def month(year: int, mon: int) -> Period:
    start = _midnight(year, mon)
    end = _midnight(year + 1, 1) if mon == 12 else _midnight(year, mon + 1)
    return Period(start, end, f"{year:04d}-{mon:02d}", "month")


def quarter(year: int, q: int) -> Period:
    start = _midnight(year, 3 * (q - 1) + 1)
    end = _midnight(year + 1, 1) if q == 4 else _midnight(year, 3 * q + 1)
    return Period(start, end, f"{year:04d}Q{q}", "quarter")


def day(year: int, mon: int, d: int) -> Period:
    start = dt.date(year, mon, d)
    nxt = start + dt.timedelta(days=1)
    return Period(
        _midnight(year, mon, d),
        _midnight(nxt.year, nxt.month, nxt.day),
        f"{year:04d}-{mon:02d}-{d:02d}",
        "day",
    )


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
    except (
        ValueError,
        OverflowError,
    ):  # no such date, or out of range in UTC (0001-01 began in year 0 there)
        pass
    raise ValueError(
        f"period {text!r} is not a month like 2026-10, a quarter like 2026Q4 or a day like 2026-10-05"
    )


def quarter_of(p: Period) -> Period:
    s = p.local_start
    return quarter(s.year, (s.month - 1) // 3 + 1)
