"""`facility simulate` / `facility history` argument handling (the runs themselves are integration-tested)."""

from __future__ import annotations

import argparse

import pytest

from facility.cli import UserError
from simulators.cli import _fleet, parse_duration, register
from simulators.live import SimClock
from simulators.service import default_step_s


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser()
    register(p.add_subparsers(dest="command"))
    return p


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("90s", 90), ("15m", 900), ("12h", 43_200), ("30d", 2_592_000), ("1y", 31_536_000)],
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "-5m", "3 weeks", "1.5.2h"])
def test_bad_durations_say_what_is_expected(text):
    with pytest.raises(argparse.ArgumentTypeError, match="is not a duration like 90s, 15m, 12h, 30d or 1y"):
        parse_duration(text)


def test_commands_parse_with_their_defaults():
    args = parser().parse_args(["simulate", "--speed", "525600", "--duration", "30d", "--seed", "3"])
    assert (args.speed, args.duration, args.seed, args.auto_repair_hours, args.step) == (
        525600,
        2_592_000,
        3,
        8,
        None,
    )
    args = parser().parse_args(
        ["history", "--days", "180", "--step-min", "15", "--end", "2026-11-23T08:00:00"]
    )
    assert (args.days, args.step_min, args.end) == (180, 15, 1795420800000)


def test_missing_fleet_file_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        _fleet(tmp_path / "nope.yaml")


def test_accelerated_clock_ends_at_the_real_time_it_finishes():
    clock = SimClock.ending_now(wall_s=1_000_000.0, speed=525_600, duration_s=365 * 86_400)
    finish = 1_000_000.0 + 365 * 86_400 / 525_600
    assert clock.sim_ms(finish) == pytest.approx(finish * 1000, abs=1)
    assert clock.sim_ms(1_000_000.0) == pytest.approx((finish - 365 * 86_400) * 1000, abs=1)
    with pytest.raises(ValueError, match="speed must be positive"):
        SimClock(0, 0.0, 0)


def test_default_step_keeps_the_publish_rate_bounded():
    assert default_step_s(44, 1) == 10
    assert default_step_s(44, 525_600) == 14_400  # 44 × 525600 / 14400 ≈ 1,600 messages/s
    assert 44 * 1000 / default_step_s(44, 1000) <= 3000
