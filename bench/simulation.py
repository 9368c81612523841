"""Simulator speed: history generation and a policy-style year. Prints one JSON object.

.venv/bin/python bench/simulation.py
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

from facility.fleet import load_fleet
from simulators.fleetsim import FleetSimulator
from simulators.history import generate_history

REPO = Path(__file__).resolve().parent.parent
DAY_MS = 86_400_000


def main() -> None:
    fleet = load_fleet(REPO / "simulators" / "fleets" / "demo.yaml")
    end = int(dt.datetime(2026, 11, 23, tzinfo=dt.UTC).timestamp() * 1000)
    t0 = time.perf_counter()
    history = generate_history(fleet, seed=1, end_ms=end, days=180, step_s=900)
    t1 = time.perf_counter()
    n = sum(1 for _ in history.messages())
    t2 = time.perf_counter()

    sim = FleetSimulator(fleet, 1, end, health_every_s=86_400)
    t3 = time.perf_counter()
    msgs = 0
    for day in range(365):
        now = end + (day + 1) * DAY_MS
        msgs += len(sim.advance(now, 3600))
        for asset_id, a in sim.assets.items():
            if a.down:
                sim.repair(asset_id, now, preventive=False)
    t4 = time.perf_counter()
    print(
        json.dumps(
            {
                "assets": len(fleet.assets),
                "history_days": 180,
                "history_step_min": 15,
                "history_messages": n,
                "history_generate_s": round(t1 - t0, 2),
                "history_iterate_s": round(t2 - t1, 2),
                "policy_year_daily_advance_hourly_steps_s": round(t4 - t3, 2),
                "policy_year_messages": msgs,
                "policy_year_failures": sum(1 for r in sim.drain_truth() if r.type == "failure"),
            }
        )
    )


if __name__ == "__main__":
    main()
