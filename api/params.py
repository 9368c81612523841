"""Reusable parameter types for the routes: out-of-range ids and dates are a 422 naming the parameter.

Use them as a parameter's type, in the path or the query, alone or inside ``Annotated[..., Query(...)]``::

    def read(order_id: RowId, at: Instant | None = None, period: Month = ...) -> ...

- ``RowId``: a database id, 1 .. 2**63-1 (larger ids overflow the store's BIGINT and used to be a 500);
- ``Instant``: a date-time in 2000-01-01 .. 2100-01-01 (naive values are taken as UTC for the check and
  passed on unchanged; InfluxDB cannot store times before 1677 or after 2262, and nothing here is older
  than 2000);
- ``Month`` ("2026-03") and ``Quarter`` ("2026Q1" or "2026-Q1"): periods whose year is in 2000 .. 2099;
- ``PeriodText``: any period a route parses itself (day, week, month, quarter) whose year is in 2000 .. 2099.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from annotated_types import Ge, Le
from pydantic import AfterValidator, Field

__all__ = [
    "EARLIEST",
    "INT64_MAX",
    "LATEST",
    "Instant",
    "Month",
    "PeriodText",
    "Quarter",
    "RowId",
    "check_instant",
]

INT64_MAX = 2**63 - 1
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_QUARTER = re.compile(r"^(\d{4})-?Q([1-4])$")
_YEAR = re.compile(r"^(\d{4})(\D|$)")


def check_instant(value: dt.datetime) -> dt.datetime:
    """``value`` unchanged if it lies in [EARLIEST, LATEST), else ValueError naming the range."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    if not EARLIEST <= aware < LATEST:
        raise ValueError(f"must lie between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}")
    return value


def _check_year(year: int) -> None:
    if not EARLIEST.year <= year < LATEST.year:
        raise ValueError(f"the year must lie between {EARLIEST.year} and {LATEST.year - 1}")


def _month(value: str) -> str:
    m = _MONTH.match(value)
    if m is None:
        raise ValueError("a month looks like 2026-03")
    _check_year(int(m.group(1)))
    return value


def _quarter(value: str) -> str:
    m = _QUARTER.match(value)
    if m is None:
        raise ValueError("a quarter looks like 2026Q1")
    _check_year(int(m.group(1)))
    return value


def _period_year(value: str) -> str:
    m = _YEAR.match(value)
    if m is None:
        raise ValueError("a period starts with its year, e.g. 2026-03, 2026Q1 or 2026-03-05")
    _check_year(int(m.group(1)))
    return value


RowId = Annotated[int, Ge(1), Le(INT64_MAX)]
Instant = Annotated[dt.datetime, AfterValidator(check_instant)]
Month = Annotated[str, Field(min_length=7, max_length=7, examples=["2026-03"]), AfterValidator(_month)]
Quarter = Annotated[str, Field(min_length=6, max_length=7, examples=["2026Q1"]), AfterValidator(_quarter)]
PeriodText = Annotated[
    str, Field(min_length=4, max_length=16, examples=["2026-10"]), AfterValidator(_period_year)
]
