"""Closed-loop policy benchmark: reactive, fixed-interval, predictive (this product) and oracle maintenance
on the same simulated fleet. Prints one JSON object.

    .venv/bin/python bench/policy.py --json

Protocol: the predictive models are trained on history generated from the *training* seeds; every policy's
one parameter (fixed interval; oracle hazard threshold; predictive risk threshold for the planner) is tuned
for cost on closed-loop runs of the training seeds; then each tuned policy runs one simulated year on every
*held-out* seed and the figures are averaged. Loop details (capacity, corrective delay, costs): bench/policy_loop.py.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from policy_loop import LoopConfig, fixed_interval, oracle, reactive, run_loop, utc_ms
from policy_predictive import predictive, train_models

from facility.fleet import load_fleet

REPO = Path(__file__).resolve().parent.parent
GRIDS = {
    "fixed_interval": (30.0, 45.0, 60.0, 90.0),
    "oracle": (0.15, 0.25, 0.35, 0.5),
    "predictive": (0.6, 0.75, 0.9, 1.05, 1.2, 1.35),
}
_STATE: dict = {}


def _run(job: tuple[str, float | None, int]) -> tuple[str, float | None, int, dict]:
    warnings.simplefilter("ignore")
    name, param, seed = job
    fleet, cfg = _STATE["fleet"], _STATE["cfg"]
    if name == "reactive":
        policy = reactive()
    elif name == "fixed_interval":
        policy = fixed_interval(float(param))  # type: ignore[arg-type]
    elif name == "oracle":
        policy = oracle(float(param))  # type: ignore[arg-type]
    else:
        policy = predictive(fleet, _STATE["models"], float(param), use_criticality=_STATE["criticality"])  # type: ignore[arg-type]
    return name, param, seed, run_loop(fleet, seed, cfg, policy)


def _mean(rows: list[dict]) -> dict:
    keys = rows[0].keys()
    return {k: round(sum(r[k] for r in rows) / len(rows), 5) for k in keys}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--fleet", type=Path, default=REPO / "simulators" / "fleets" / "demo.yaml")
    ap.add_argument("--train-seeds", default="1,2")
    ap.add_argument("--tune-seeds", default="1,2")
    ap.add_argument("--test-seeds", default="101,102")
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--capacity", type=int, default=3, help="preventive visits a day, all crews together")
    ap.add_argument("--preventive-cost", type=float, default=1.0)
    ap.add_argument("--corrective-cost", type=float, default=5.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument(
        "--use-criticality",
        action="store_true",
        help="rank by P(fail) x the fleet's criticality (default: equal weights, as the costs are equal)",
    )
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    t0 = time.perf_counter()
    fleet = load_fleet(args.fleet)
    start = utc_ms(2026, 1, 1)
    cfg = LoopConfig(
        start_ms=start,
        days=args.days,
        capacity=args.capacity,
        preventive_cost=args.preventive_cost,
        corrective_cost=args.corrective_cost,
    )
    seeds = {k: [int(s) for s in getattr(args, f"{k}_seeds").split(",")] for k in ("train", "tune", "test")}
    models = train_models(fleet, seeds["train"], end_ms=start)  # history strictly before the loop year
    t_train = time.perf_counter() - t0
    _STATE.update(fleet=fleet, cfg=cfg, models=models, criticality=args.use_criticality)
    ctx = mp.get_context("fork")
    with ctx.Pool(args.workers) as pool:
        tune_jobs = [(n, p, s) for n, grid in GRIDS.items() for p in grid for s in seeds["tune"]]
        tuned_runs = pool.map(_run, tune_jobs)
        best: dict[str, float | None] = {"reactive": None}
        tuning: dict[str, dict[str, float]] = {}
        for name, grid in GRIDS.items():
            costs = {
                p: sum(r["maintenance_cost"] for n, q, _, r in tuned_runs if n == name and q == p)
                for p in grid
            }
            tuning[name] = {str(p): c for p, c in costs.items()}
            best[name] = min(costs, key=lambda p: costs[p])
        test_jobs = [(n, best[n], s) for n in ("reactive", *GRIDS) for s in seeds["test"]]
        test_runs = pool.map(_run, test_jobs)
    policies = {}
    for name in ("reactive", *GRIDS):
        rows = [r for n, _, _, r in test_runs if n == name]
        policies[name] = {"parameter": best[name], **_mean(rows)}
    rea, pre, ora = policies["reactive"], policies["predictive"], policies["oracle"]
    out = {
        "fleet_assets": len(fleet.assets),
        "days": args.days,
        "train_seeds": seeds["train"],
        "tune_seeds": seeds["tune"],
        "test_seeds": seeds["test"],
        "capacity_per_day": args.capacity,
        "criticality_weighted": args.use_criticality,
        "preventive_cost": args.preventive_cost,
        "corrective_cost": args.corrective_cost,
        "models": {
            k.value: {"model": m.name, "cv_concordance": round(m.cv_concordance, 4)}
            for k, m in models.items()
        },
        "tuning_cost": tuning,
        "policies": policies,
        "fault_rate_reduction": round(1 - pre["failures"] / rea["failures"], 4),
        "cost_reduction": round(1 - pre["maintenance_cost"] / rea["maintenance_cost"], 4),
        "beats_fixed_interval_on_cost": pre["maintenance_cost"]
        < policies["fixed_interval"]["maintenance_cost"],
        "oracle_saving_captured": round(
            (rea["maintenance_cost"] - pre["maintenance_cost"])
            / (rea["maintenance_cost"] - ora["maintenance_cost"]),
            4,
        ),
        "train_seconds": round(t_train, 1),
        "total_seconds": round(time.perf_counter() - t0, 1),
    }
    print(json.dumps(out) if args.json else json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
