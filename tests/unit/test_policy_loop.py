"""The policy benchmark's loop (bench/policy_loop.py): the warm-up every policy starts the year from, and the
predictive policy's thresholds weighed by the cost of a failure."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

from policy_loop import DAY_MS, FixedInterval, LoopConfig, Oracle, Policy, figures, simulate, utc_ms  # noqa: E402
from policy_predictive import Predictive  # noqa: E402

from facility.fleet import load_fleet  # noqa: E402

FLEET = load_fleet(BENCH.parent / "simulators" / "fleets" / "demo.yaml")
START = utc_ms(2026, 1, 1)


def _before(state, t_ms: int) -> list[tuple]:
    return sorted((r.asset, r.type, r.ts, r.preventive) for r in state.truth if r.ts < t_ms)


def test_every_policy_starts_the_year_from_the_same_fleet_and_the_warm_up_is_not_counted() -> None:
    cfg = LoopConfig(start_ms=START, days=30, warmup_days=120)
    reactive = simulate(FLEET, 7, cfg, Policy())
    fixed = simulate(FLEET, 7, cfg, FixedInterval(20.0))
    warm = _before(reactive, START)
    assert any(t == "failure" for _, t, _, _ in warm)  # the warm-up has failures of its own ...
    assert warm == _before(fixed, START)  # ... the same ones whatever policy runs the year
    assert not any(p for *_, p in warm)  # and nobody decides there: no preventive visit
    counted = [r for r in reactive.truth if r.ts >= START and r.type == "failure"]
    assert figures(reactive)["failures"] == len(counted)
    # the calendar's first visits are spread over the counted period, not bunched on its first day
    visits = sorted(r.ts for r in fixed.truth if r.preventive)
    assert visits and min(visits) >= START
    first_day = sum(1 for t in visits if t < START + DAY_MS)
    assert first_day <= cfg.capacity < len(visits)


def test_the_oracle_is_never_late_after_a_warm_up() -> None:
    """The oracle looks at an asset only when it could have reached its threshold; the daily ground truth
    checks that bound, and what happened in the warm-up, before anyone decides, is no late look."""
    oracle = Oracle(0.25)
    state = simulate(FLEET, 7, LoopConfig(start_ms=START, days=60, warmup_days=60), oracle)
    assert oracle.late_checks == 0
    assert figures(state)["preventive_visits"] > 0


def test_without_a_warm_up_the_counted_period_is_the_whole_run() -> None:
    cfg = LoopConfig(start_ms=START, days=30)
    state = simulate(FLEET, 7, cfg, Policy())
    assert state.sim_start_ms == START
    assert figures(state)["failures"] == sum(1 for r in state.truth if r.type == "failure")


@pytest.mark.parametrize("p", [0.2, 0.3])
def test_an_asset_is_visited_when_the_failure_cost_it_averts_outweighs_the_visit(p: float) -> None:
    crit = {a.id: a.criticality for a in FLEET.assets}
    weighted = Predictive(FLEET, {}, p, criticality=crit)
    equal = Predictive(FLEET, {}, p)
    for kind in {a.kind.value for a in FLEET.assets}:
        # the planner compares P × criticality with p × 3: an asset of criticality c from P >= 3p / c
        assert weighted.planner.threshold(kind) == pytest.approx(3 * p)
        assert equal.planner.threshold(kind) == pytest.approx(3 * p)
    panel = next(a for a in FLEET.assets if a.kind.value == "fire_alarm")
    bin_ = next(a for a in FLEET.assets if a.kind.value == "smart_bin")
    assert panel.criticality > bin_.criticality
    p_panel = weighted.planner.threshold("fire_alarm") / weighted.crit[panel.id]
    p_bin = weighted.planner.threshold("smart_bin") / weighted.crit[bin_.id]
    assert p_panel < p < p_bin  # a dead fire panel is worth a visit at a lower probability than a full bin
    assert equal.crit[panel.id] == equal.crit[bin_.id] == 3
