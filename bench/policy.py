"""Closed-loop policy benchmark: reactive, fixed-interval, predictive (this product) and oracle maintenance
on the same simulated fleet. Prints one JSON object.

    .venv/bin/python bench/policy.py --json                      # equal weights: every failure costs the same
    .venv/bin/python bench/policy.py --json --use-criticality    # failures cost corrective × criticality / 3

Protocol: the predictive models are trained on run-to-failure history generated from the *training* seeds.
Each policy's parameter — fixed interval (days), oracle threshold (true expected failures in 30 d), predictive
threshold (P(failure within 30 d) of a typical asset of the kind) — is tuned for cost on closed-loop runs of
the training seeds: first one value for all kinds over a grid; then, from the same runs' per-kind costs, the
best value for each kind, kept only if a run with those per-kind values is cheaper on the training seeds
too. Then each tuned policy runs one simulated year on every *held-out* seed; the JSON gives the mean, every
seed's figures and their spread. Held-out seeds are never used to choose anything. Calibration of the
predictive models: their P(failure within 30 d) against what happened in the held-out reactive years.
Loop details (capacity, call-out delay, cost model): bench/policy_loop.py.
"""

from __future__ import annotations

import argparse
import heapq
import json
import multiprocessing as mp
import os
import queue
import resource
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from policy_loop import (
    REGULATED_LIFT_DAYS,
    FixedInterval,
    LoopConfig,
    OnTop,
    Oracle,
    Policy,
    figures,
    simulate,
    utc_ms,
)
from policy_predictive import (
    WINDOW_DAYS,
    KindModel,
    Predictive,
    calibration_rows,
    calibration_summary,
    fit_kind,
    training_part,
)

from facility.contract import AssetKind
from facility.fleet import load_fleet
from predict.planner import REFERENCE_CRITICALITY

REPO = Path(__file__).resolve().parent.parent
GRIDS: dict[str, tuple[float, ...]] = {
    "fixed_interval": (30.0, 45.0, 60.0, 90.0, 120.0),
    "oracle": (0.1, 0.15, 0.25, 0.35, 0.5),
    "predictive": (0.2, 0.25, 0.3, 0.35, 0.4),
}
POLICIES = ("reactive", *GRIDS)
#: not tuned: lifts on the regulated 15-day calendar (TSG T5002), the other kinds on their tuned fixed intervals;
#: and the same calendar with the tuned predictive policy on top (every kind)
REGULATED = ("regulated_calendar", "regulated_plus_predictive")
KEY_FIGURES = (
    "failures_per_100_assets_year",
    "unplanned_downtime_hours",
    "weighted_downtime_hours",
    "intactness",
    "preventive_visits",
    "corrective_repairs",
    "maintenance_cost",
)
_STATE: dict = {}
#: lower runs first: the predictive chain (history → models → grid → check → held-out runs) is the longest
PRIORITY = {
    "train": 0,
    "fit": 1,
    "predictive": 2,
    "reactive": 3,
    "oracle": 4,
    "fixed_interval": 5,
    "regulated_calendar": 6,
    "regulated_plus_predictive": 6,
}


class Scheduler:
    """Hands jobs to the pool one per free worker, the most urgent first; ``then(result)`` runs here, in the
    main process, and may submit more (a job graph without barriers between stages)."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.ready: list[tuple] = []
        self.seq = 0
        self.done: queue.Queue = queue.Queue()

    def submit(self, prio: int, fn: Callable, arg: object, then: Callable) -> None:
        heapq.heappush(self.ready, (prio, self.seq, fn, arg, then))
        self.seq += 1

    def _ok(self, then: Callable) -> Callable[[object], None]:
        return lambda result: self.done.put((then, result, None))

    def _failed(self, error: BaseException) -> None:
        self.done.put((None, None, error))

    def run(self, pool: mp.pool.Pool) -> None:
        inflight = 0
        while self.ready or inflight:
            while self.ready and inflight < self.workers:
                _, _, fn, arg, then = heapq.heappop(self.ready)
                pool.apply_async(fn, (arg,), callback=self._ok(then), error_callback=self._failed)
                inflight += 1
            then, result, error = self.done.get()
            inflight -= 1
            if error is not None:
                raise error
            then(result)


#: a policy's parameter: a float, a dict of per-kind floats, or for the regulated policies
#: {"calendar": per-kind days, "predictive": its parameter}
Param = Any


def _policy(name: str, param: Param, models: Mapping | None) -> Policy:
    fleet, cfg = _STATE["fleet"], _STATE["cfg"]
    if name == "reactive":
        return Policy()
    if name == "fixed_interval":
        return FixedInterval(param)
    if name == "oracle":
        return Oracle(param, cfg.failure_weight)
    if name == "regulated_calendar":
        return FixedInterval(param["calendar"])
    if name == "regulated_plus_predictive":
        extra = Predictive(fleet, models, param["predictive"], criticality=_STATE["criticality"])
        return OnTop(FixedInterval(param["calendar"]), extra)
    return Predictive(fleet, models, param, criticality=_STATE["criticality"])


def _run(job: tuple) -> tuple:
    warnings.simplefilter("ignore")
    name, param, seed, models, calibrate = job
    t0 = time.process_time()
    policy = _policy(name, param, models)
    policy.telemetry = policy.telemetry or calibrate
    state = simulate(_STATE["fleet"], seed, _STATE["cfg"], policy)
    out = figures(state)
    if isinstance(policy, Oracle):
        out["late_checks"] = policy.late_checks
    rows = calibration_rows(models, state) if calibrate else []
    return name, _key(param), seed, out, rows, time.process_time() - t0


def _train(seed: int) -> tuple[int, dict]:
    warnings.simplefilter("ignore")
    return seed, training_part(_STATE["fleet"], seed, end_ms=_STATE["cfg"].start_ms)


def _fit(job: tuple) -> object:
    warnings.simplefilter("ignore")
    kind, parts = job
    return fit_kind(kind, parts)


def _cpu_seconds() -> float:
    """CPU time of this process and its (finished) workers."""
    usage = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime + u.ru_stime for u in usage)


def _key(param: Param) -> str:
    if isinstance(param, dict) and any(isinstance(v, dict) for v in param.values()):
        return json.dumps(param, sort_keys=True)
    if isinstance(param, dict):
        return ",".join(f"{k}={v:g}" for k, v in sorted(param.items()))
    return "" if param is None else f"{param:g}"


def _stats(values: Sequence[float]) -> dict[str, float]:
    a = np.asarray(values, dtype=float)
    return {"min": round(float(a.min()), 4), "max": round(float(a.max()), 4), "std": round(float(a.std()), 4)}


def _tune(name: str, runs: list[tuple], kinds: list[str]) -> dict:
    """One value for every kind (the grid's cheapest on the training seeds) and each kind's cheapest value."""
    grid = GRIDS[name]
    total = {v: sum(r[3]["maintenance_cost"] for r in runs if r[1] == _key(v)) for v in grid}
    by_kind = {
        k: {v: sum(r[3]["by_kind"][k]["cost"] for r in runs if r[1] == _key(v)) for v in grid} for k in kinds
    }
    uniform = min(grid, key=lambda v: total[v])
    per_kind = {k: min(grid, key=by_kind[k].__getitem__) for k in kinds}
    return {
        "grid_cost": {_key(v): round(c, 2) for v, c in total.items()},
        "grid_cost_by_kind": {k: {_key(v): round(c, 2) for v, c in d.items()} for k, d in by_kind.items()},
        "uniform": uniform,
        "per_kind": per_kind,
    }


def _summarise(rows: list[dict], seeds: list[int]) -> dict:
    mean = {k: round(float(np.mean([r[k] for r in rows])), 5) for k in KEY_FIGURES}
    kinds = rows[0]["by_kind"]
    by_kind = {
        k: {f: round(float(np.mean([r["by_kind"][k][f] for r in rows])), 3) for f in kinds[k]} for k in kinds
    }
    return {
        **mean,
        "by_kind": by_kind,
        "spread": {k: _stats([r[k] for r in rows]) for k in KEY_FIGURES},
        "per_seed": {str(s): {k: r[k] for k in KEY_FIGURES} for s, r in zip(seeds, rows, strict=True)},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--fleet", type=Path, default=REPO / "simulators" / "fleets" / "demo.yaml")
    ap.add_argument("--train-seeds", default="1,2")
    ap.add_argument("--tune-seeds", default=",".join(map(str, range(1, 11))))
    ap.add_argument("--test-seeds", default=",".join(map(str, range(101, 117))))
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--capacity", type=int, default=3, help="preventive visits a day, all crews together")
    ap.add_argument("--preventive-cost", type=float, default=1.0)
    ap.add_argument("--corrective-cost", type=float, default=5.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument(
        "--warmup-days",
        type=int,
        default=int(WINDOW_DAYS) + 7,
        help="days the fleet runs before each counted year with no policy deciding, so that every policy "
        "starts from the same fleet and a policy that reads telemetry has one feature window of it "
        "(default: the feature window + 7 days; 0 = the year starts cold)",
    )
    ap.add_argument(
        "--use-criticality",
        action="store_true",
        help="a failure costs corrective × criticality / 3 and the planner ranks by P(fail) × criticality "
        "(default: every failure costs the same and every asset weighs the same)",
    )
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    t0 = time.perf_counter()
    load_start = os.getloadavg()
    fleet = load_fleet(args.fleet)
    start = utc_ms(2026, 1, 1)
    crit = {a.id: a.criticality for a in fleet.assets}
    cfg = LoopConfig(
        start_ms=start,
        days=args.days,
        capacity=args.capacity,
        preventive_cost=args.preventive_cost,
        corrective_cost=args.corrective_cost,
        failure_weight={a: c / REFERENCE_CRITICALITY for a, c in crit.items()}
        if args.use_criticality
        else {},
        warmup_days=args.warmup_days,
    )
    seeds = {k: [int(s) for s in getattr(args, f"{k}_seeds").split(",")] for k in ("train", "tune", "test")}
    if set(seeds["test"]) & (set(seeds["train"]) | set(seeds["tune"])):
        sys.exit("held-out --test-seeds must differ from --train-seeds and --tune-seeds")
    kinds = sorted({a.kind.value for a in fleet.assets})
    _STATE.update(fleet=fleet, cfg=cfg, criticality=crit if args.use_criticality else None)
    tuning: dict[str, dict] = {}
    best: dict[str, Param] = {"reactive": None}
    parts: list[tuple[int, dict]] = []
    models: dict = {}
    runs: dict[str, list[tuple]] = {"grid": [], "check": [], "test": []}
    stamps: dict[str, float] = {}
    sched = Scheduler(args.workers)

    def run_jobs(stage: str, prio: int, jobs: list[tuple], then: Callable[[], None] | None = None) -> None:
        left = [len(jobs)]

        def done(r: tuple) -> None:
            runs[stage].append(r)
            left[0] -= 1
            if left[0] == 0 and then is not None:
                then()

        for job in jobs:
            sched.submit(prio, _run, job, done)
        if not jobs and then is not None:
            then()

    def grid(name: str) -> None:
        jobs = [(name, v, s, models or None, False) for v in GRIDS[name] for s in seeds["tune"]]
        run_jobs("grid", PRIORITY[name], jobs, lambda: check(name))

    def check(name: str) -> None:
        """Per-kind values from the grid's per-kind costs; a run with them decides whether they are kept."""
        tuning[name] = _tune(name, [r for r in runs["grid"] if r[0] == name], kinds)
        per_kind = tuning[name]["per_kind"]
        same = len(set(per_kind.values())) == 1  # one value for every kind: nothing new to check
        jobs = [] if same else [(name, per_kind, s, models or None, False) for s in seeds["tune"]]
        run_jobs("check", PRIORITY[name], jobs, lambda: settle(name))

    def settle(name: str) -> None:
        tuned = tuning[name]
        uniform = sum(
            r[3]["maintenance_cost"] for r in runs["grid"] if r[0] == name and r[1] == _key(tuned["uniform"])
        )
        confirm = [r for r in runs["check"] if r[0] == name]
        tuned["per_kind_cost"] = round(sum(r[3]["maintenance_cost"] for r in confirm), 2) if confirm else None
        use_per_kind = bool(confirm) and tuned["per_kind_cost"] < uniform
        best[name] = tuned["per_kind"] if use_per_kind else tuned["uniform"]
        tuned["chosen"] = "per_kind" if use_per_kind else "uniform"
        stamps[f"{name}_tuned"] = time.perf_counter() - t0
        run_jobs(
            "test", PRIORITY[name], [(name, best[name], s, models or None, False) for s in seeds["test"]]
        )
        if "fixed_interval" in best and "predictive" in best and "regulated_calendar" not in best:
            regulated()

    def regulated() -> None:
        """Lifts every 15 days (TSG T5002), the other kinds at their tuned interval; then predictive on top."""
        fixed = best["fixed_interval"]
        calendar = {k: (fixed[k] if isinstance(fixed, dict) else fixed) for k in kinds}
        calendar["elevator"] = REGULATED_LIFT_DAYS
        best["regulated_calendar"] = {"calendar": calendar}
        best["regulated_plus_predictive"] = {"calendar": calendar, "predictive": best["predictive"]}
        for name in REGULATED:
            jobs = [(name, best[name], s, models, False) for s in seeds["test"]]
            run_jobs("test", PRIORITY[name], jobs)

    def trained(part: tuple[int, dict]) -> None:
        parts.append(part)
        if len(parts) == len(seeds["train"]):
            parts.sort(key=lambda p: p[0])  # the same rows in the same order whichever finished first
            for k in AssetKind:
                sched.submit(PRIORITY["fit"], _fit, (k, [p[1][k] for p in parts]), fitted)

    def fitted(km: KindModel) -> None:
        models[km.kind] = km
        if len(models) == len(AssetKind):
            for k in sorted(models, key=lambda k: k.value):
                models[k] = models.pop(k)  # kind order, whichever finished first
            stamps["trained"] = time.perf_counter() - t0
            grid("predictive")
            jobs = [("reactive", None, s, models, True) for s in seeds["test"]]  # with calibration
            run_jobs("test", PRIORITY["reactive"], jobs)

    ctx = mp.get_context("fork")
    with ctx.Pool(args.workers) as pool:
        for s in seeds["train"]:
            sched.submit(PRIORITY["train"], _train, s, trained)
        grid("fixed_interval")
        grid("oracle")
        sched.run(pool)
    test_runs = runs["test"]
    all_runs = runs["grid"] + runs["check"] + test_runs
    policies = {}
    for name in (*POLICIES, *REGULATED):
        rows = {r[2]: r[3] for r in test_runs if r[0] == name}
        policies[name] = {
            "parameter": best[name],
            **_summarise([rows[s] for s in seeds["test"]], seeds["test"]),
        }
    per_seed = {}
    for seed in map(str, seeds["test"]):
        cost = {n: policies[n]["per_seed"][seed]["maintenance_cost"] for n in POLICIES}
        fails = {n: policies[n]["per_seed"][seed]["failures_per_100_assets_year"] for n in POLICIES}
        per_seed[seed] = {
            "fault_rate_reduction": round(1 - fails["predictive"] / fails["reactive"], 4),
            "cost_reduction": round(1 - cost["predictive"] / cost["reactive"], 4),
            "beats_fixed_interval_on_cost": cost["predictive"] < cost["fixed_interval"],
            "oracle_saving_captured": round(
                (cost["reactive"] - cost["predictive"]) / (cost["reactive"] - cost["oracle"]), 4
            ),
        }
    rea, pre, ora = policies["reactive"], policies["predictive"], policies["oracle"]
    fix = policies["fixed_interval"]
    for seed in map(str, seeds["test"]):
        c = {n: policies[n]["per_seed"][seed]["maintenance_cost"] for n in POLICIES}
        f = {n: policies[n]["per_seed"][seed]["failures_per_100_assets_year"] for n in POLICIES}
        per_seed[seed]["vs_fixed"] = {
            "cost_gap_captured": round(
                (c["fixed_interval"] - c["predictive"]) / (c["fixed_interval"] - c["oracle"]), 4
            ),
            "failures_ratio": round(f["predictive"] / f["fixed_interval"], 4),
        }
    calib = [row for r in test_runs for row in r[4]]
    out = {
        "fleet_assets": len(fleet.assets),
        "days": args.days,
        "warmup_days": args.warmup_days,
        "train_seeds": seeds["train"],
        "tune_seeds": seeds["tune"],
        "test_seeds": seeds["test"],
        "capacity_per_day": args.capacity,
        "criticality_weighted": args.use_criticality,
        "preventive_cost": args.preventive_cost,
        "corrective_cost": args.corrective_cost,
        "cost_model": "preventive visit = preventive_cost; corrective repair of asset a = corrective_cost × "
        "w(a), w = criticality / 3 when criticality_weighted, else 1",
        "failure_weight_by_kind": {
            k: round(float(np.median([cfg.weight(a.id) for a in fleet.assets if a.kind.value == k])), 4)
            for k in kinds
        },
        "models": {
            k.value: {
                "model": m.name,
                "cv_concordance": round(m.cv_concordance, 4),
                "km_p30": round(m.km_p30, 4),
                "cv": m.cv,
            }
            for k, m in models.items()
        },
        "tuning": tuning,
        "predictive_planner_kind_thresholds": Predictive(
            fleet, models, best["predictive"], criticality=_STATE["criticality"]
        ).kind_thresholds,
        "policies": policies,
        "fault_rate_reduction": round(
            1 - pre["failures_per_100_assets_year"] / rea["failures_per_100_assets_year"], 4
        ),
        "cost_reduction": round(1 - pre["maintenance_cost"] / rea["maintenance_cost"], 4),
        "beats_fixed_interval_on_cost": pre["maintenance_cost"]
        < policies["fixed_interval"]["maintenance_cost"],
        "oracle_saving_captured": round(
            (rea["maintenance_cost"] - pre["maintenance_cost"])
            / (rea["maintenance_cost"] - ora["maintenance_cost"]),
            4,
        ),
        # issue 12: the share of the fixed interval → oracle cost gap the predictive policy captures, and its
        # failures against the tuned fixed interval's (≤ 1: no more failures than the calendar)
        "vs_fixed": {
            "cost_gap_captured": round(
                (fix["maintenance_cost"] - pre["maintenance_cost"])
                / (fix["maintenance_cost"] - ora["maintenance_cost"]),
                4,
            ),
            "failures_ratio": round(
                pre["failures_per_100_assets_year"] / fix["failures_per_100_assets_year"], 4
            ),
        },
        "regulated_lifts": {
            name: {
                k: policies[name]["by_kind"]["elevator"][k]
                for k in ("failures", "preventive_visits", "corrective_repairs", "cost")
            }
            for name in (*POLICIES, *REGULATED)
        },
        "per_seed_targets": per_seed,
        "targets_spread": {
            **{
                k: _stats([v[k] for v in per_seed.values()])
                for k in ("fault_rate_reduction", "cost_reduction", "oracle_saving_captured")
            },
            **{
                f"vs_fixed.{k}": _stats([v["vs_fixed"][k] for v in per_seed.values()])
                for k in ("cost_gap_captured", "failures_ratio")
            },
        },
        "seeds_predictive_beats_fixed_interval": sum(
            v["beats_fixed_interval_on_cost"] for v in per_seed.values()
        ),
        "calibration": calibration_summary(calib),
        "oracle_late_checks": sum(r[3].get("late_checks", 0) for r in all_runs if r[0] == "oracle"),
        "runs": len(all_runs),
        "run_cpu_seconds": {
            n: round(float(np.mean([r[5] for r in all_runs if r[0] == n])), 2)
            for n in (*POLICIES, *REGULATED)
        },
        "load_average": {
            "start": [round(x, 2) for x in load_start],
            "end": [round(x, 2) for x in os.getloadavg()],
        },
        "cpu_count": os.cpu_count(),
        "workers": args.workers,
        "stage_seconds": {k: round(v, 1) for k, v in stamps.items()},
        "total_seconds": round(time.perf_counter() - t0, 1),
        "cpu_seconds": round(_cpu_seconds(), 1),
    }
    print(json.dumps(out) if args.json else json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
