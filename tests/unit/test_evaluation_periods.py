"""Periods: parsing, months of a quarter, previous period across year ends."""

from __future__ import annotations

import datetime as dt

import pytest

from evaluation.periods import parse_period, quarter_of

Z8 = dt.timezone(dt.timedelta(hours=8))  # Asia/Shanghai (no daylight saving)


def test_parse_month_quarter_day():
    # H2 #9: periods begin and end at midnight in the estates' time zone, not UTC
    m = parse_period("2026-02")
    assert (m.start, m.end, m.granularity, m.hours) == (
        dt.datetime(2026, 1, 31, 16, tzinfo=dt.UTC), dt.datetime(2026, 2, 28, 16, tzinfo=dt.UTC), "month", 28 * 24
    )  # fmt: skip
    assert m.start == dt.datetime(2026, 2, 1, tzinfo=Z8)
    q = parse_period("2026-q4")
    assert q.label == "2026Q4" and [x.label for x in q.months()] == ["2026-10", "2026-11", "2026-12"]
    assert q.end == dt.datetime(2027, 1, 1, tzinfo=Z8) == dt.datetime(2026, 12, 31, 16, tzinfo=dt.UTC)
    assert q.end_text() == "2027-01-01 00:00 (Asia/Shanghai)"
    d = parse_period("2026-10-05")
    assert d.hours == 24 and [x.label for x in d.months()] == ["2026-10"]
    assert quarter_of(parse_period("2026-11")).label == "2026Q4"


def test_previous_crosses_year_ends():
    assert parse_period("2026-01").previous().label == "2025-12"
    assert parse_period("2026Q1").previous().label == "2025Q4"
    assert parse_period("2026-03-01").previous().label == "2026-02-28"


@pytest.mark.parametrize("text", ["2026-13", "October", "2026Q5", "2026-02-30", "", "0001-01", "9999-12"])
def test_bad_periods_say_what_is_expected(text):
    with pytest.raises(ValueError, match="is not a month like 2026-10, a quarter like 2026Q4 or a day like"):
        parse_period(text)
