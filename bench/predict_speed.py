"""Predict speed: the product's training for 1,000 assets, and scoring 10,000 assets. One JSON object.

    .venv/bin/python bench/predict_speed.py [--buildings 50] [--days 365] [--every-hours 6] [--profile FILE]

Training is what ``facility train-telemetry --kind KIND`` runs for each of the four kinds
(:func:`predict.jobs.train_from_telemetry`: 365 days, the default feature window
``predict.features.DEFAULT_WINDOW_DAYS`` in ``DEFAULT_BUCKETS`` buckets, a landmark every 2 days), with
``--splits 0`` as the worker's retrain job runs it (``--splits 3``, the CLI's default, adds a backtest): landmark rows by the live feature query on InfluxDB (``influx_training.training_data_influx``), then
``train.train_model`` (selection by CV Brier at 30 d, the fit, the out-of-fold shrinkage toward Kaplan-Meier,
the backtest and threshold, registration). The history (``20 × buildings`` assets: 6 lifts, 2 fire panels, 4
pumps, 8 bins per building; a reading every ``--every-hours``) is simulated and written to a throwaway influxd
first; neither is part of the training figure. Wall and CPU seconds are reported for this process and, apart,
for influxd (it answers the feature queries on the other core), with the load average before and after.

Scoring = forecasts (conditional curve, P(fail) 7/30/90 d, window, risk, drivers of the riskiest 200) for
10,000 feature rows drawn from the training rows, with the served models and with the gradient-boosted
discrete hazard. ``--profile FILE`` writes a cProfile of the training to FILE.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import json
import os
import pickle
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.base import clone

# bench/ingest.py would shadow the ingest package: import from the project, not from this folder
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import predict.jobs  # noqa: E402
from facility.contract import AssetKind  # noqa: E402
from facility.fleet import parse_fleet  # noqa: E402
from facility.services.influxd import InfluxServer  # noqa: E402
from facility.services.ports import free_port  # noqa: E402
from ingest.influx import InfluxClient  # noqa: E402
from ingest.lineprotocol import to_line  # noqa: E402
from predict.data import SurvivalData  # noqa: E402
from predict.features import DAY_MS, DEFAULT_BUCKETS, DEFAULT_WINDOW_DAYS, spec_for_kind  # noqa: E402
from predict.forecast import AssetInput, ForecastSettings, forecast_assets  # noqa: E402
from predict.models import default_candidates  # noqa: E402
from predict.registry import ModelRegistry  # noqa: E402
from simulators.history import generate_history  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def fleet_of(buildings: int):
    counts = {"elevator": 6, "fire_alarm": 2, "water_pump": 4, "smart_bin": 8}
    return parse_fleet(
        {
            "estates": [
                {
                    "id": "big",
                    "name": "Big estate",
                    "group": "old",
                    "company": "pc",
                    "company_name": "PC",
                    "installed": "2012-01-01",
                    "buildings": [{"id": f"b{i}", "floors": 18, "counts": counts} for i in range(buildings)],
                }
            ]
        }
    )


def cpu_of(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


class Clock:
    """Wall, this process's CPU and influxd's CPU between start() and stop()."""

    def __init__(self, influxd_pid: int) -> None:
        self.pid = influxd_pid

    def start(self) -> None:
        self.t = (time.perf_counter(), time.process_time(), cpu_of(self.pid))

    def stop(self) -> dict[str, float]:
        wall, cpu, server = time.perf_counter(), time.process_time(), cpu_of(self.pid)
        return {
            "wall": round(wall - self.t[0], 2),
            "cpu": round(cpu - self.t[1], 2),
            "influxd_cpu": round(server - self.t[2], 2),
        }


def write_history(client: InfluxClient, history) -> int:
    batch: list[str] = []
    points = 0
    for msg in history.messages():
        batch.append(to_line(msg))
        if len(batch) == 50_000:
            client.write(batch)
            points += len(batch)
            batch = []
    client.write(batch)
    return points + len(batch)


def train_all(
    client: InfluxClient, registry: ModelRegistry, now: dt.datetime, clock: Clock, splits: int
) -> dict:
    """Each kind as `facility train-telemetry --kind KIND --splits SPLITS` trains it, timed in two parts."""
    datasets: dict[AssetKind, SurvivalData] = {}
    parts: dict[str, list[dict[str, float]]] = {"features": [], "select_fit_calibrate": []}
    inner = (predict.jobs.training_data_influx, predict.jobs.train_model)

    def features(*args, **kwargs):
        clock.start()
        data = inner[0](*args, **kwargs)
        parts["features"].append(clock.stop())
        datasets[args[1]] = data
        return data

    def fit(*args, **kwargs):
        clock.start()
        meta = inner[1](*args, **kwargs)
        parts["select_fit_calibrate"].append(clock.stop())
        return meta

    predict.jobs.training_data_influx, predict.jobs.train_model = features, fit
    chosen = {}
    total = Clock(clock.pid)
    total.start()
    try:
        for kind in AssetKind:
            meta = predict.jobs.train_from_telemetry(client, registry, kind, now, splits=splits)
            held = meta.metrics["held_out"]
            chosen[kind.value] = {
                "model": meta.model,
                "served": held.get("served"),
                "rows": len(datasets[kind].X),
                "events": int(datasets[kind].event.sum()),
                "held_out_brier_30d": held.get("brier"),
                "kaplan_meier_brier_30d": held.get("brier_km"),
                "backtest_c_harrell": (meta.metrics.get("backtest") or {}).get("c_index_harrell"),
            }
    finally:
        predict.jobs.training_data_influx, predict.jobs.train_model = inner
    summed = {
        name: {k: round(sum(p[k] for p in runs), 2) for k in ("wall", "cpu", "influxd_cpu")}
        for name, runs in parts.items()
    }
    return {"train": total.stop(), "train_parts": summed, "models": chosen, "datasets": datasets}


def features_only(client: InfluxClient, now: dt.datetime, clock: Clock, path: str) -> dict:
    """The landmark rows of every kind with train-telemetry's defaults, timed, pickled to ``path``."""
    end_ms = int(now.timestamp() * 1000)
    start_ms = end_ms - int(365 * DAY_MS)
    clock.start()
    datasets = {
        kind: predict.jobs.training_data_influx(client, kind, start_ms, end_ms, spec_for_kind(kind), 2.0)
        for kind in AssetKind
    }
    timing = clock.stop()
    with open(path, "wb") as f:
        pickle.dump({k.value: (d.X, d.time, d.event, d.groups) for k, d in datasets.items()}, f)
    return {"train_parts": {"features": timing}, "datasets": datasets}


def score(registry: ModelRegistry, datasets: dict[AssetKind, SurvivalData], now: dt.datetime) -> dict:
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    n_scored = 0
    for kind, data in datasets.items():
        model = registry.load(kind.value)[0]
        X = data.X.iloc[rng.integers(0, len(data.X), 2500)].reset_index(drop=True)
        inputs = [AssetInput(f"{kind.value}-{i}", kind.value, 3) for i in range(2500)]
        n_scored += len(forecast_assets(model, "bench", X, inputs, now, settings=ForecastSettings()))
    t_score = time.perf_counter() - t0
    # the same with the gradient-boosted discrete hazard for every kind (fitted on ≤ 4,000 rows per kind: its
    # scoring cost depends on the trees, not on the training size)
    hazard = {}
    candidates = default_candidates()
    for kind, data in datasets.items():
        take = rng.choice(len(data.X), min(4000, len(data.X)), replace=False)
        hazard[kind] = clone(candidates["discrete_hazard_hgb"]).fit(data.X.iloc[take], data.y[take])
    t0 = time.perf_counter()
    for kind, data in datasets.items():
        X = data.X.iloc[rng.integers(0, len(data.X), 2500)].reset_index(drop=True)
        inputs = [AssetInput(f"{kind.value}-{i}", kind.value, 3) for i in range(2500)]
        forecast_assets(hazard[kind], "bench", X, inputs, now, settings=ForecastSettings())
    return {
        "assets_scored": n_scored,
        "score_seconds": round(t_score, 3),
        "score_seconds_discrete_hazard": round(time.perf_counter() - t0, 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--buildings", type=int, default=50, help="20 assets each (default 50: 1,000 assets)")
    ap.add_argument("--days", type=float, default=365.0, help="simulated history (default 365)")
    ap.add_argument("--every-hours", type=float, default=6.0, help="a reading per asset every N hours")
    ap.add_argument("--profile", metavar="FILE", help="write a cProfile of the training to FILE")
    ap.add_argument(
        "--splits",
        type=int,
        default=0,
        help="backtest splits recorded with each model (default 0, as the worker trains; the CLI's default is 3)",
    )
    ap.add_argument("--no-scoring", action="store_true", help="time the training only")
    ap.add_argument(
        "--features-only",
        metavar="FILE",
        help="time only the landmark rows of each kind (training_data_influx, as train-telemetry calls it) and "
        "pickle them to FILE (to compare two versions of the code: PYTHONPATH=<a worktree>)",
    )
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    fleet = fleet_of(args.buildings)
    end_ms = int(dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp() * 1000)
    now = dt.datetime.fromtimestamp(end_ms / 1000, dt.UTC)
    load_start = load()
    t0 = time.perf_counter()
    history = generate_history(
        fleet, seed=3, end_ms=end_ms, days=args.days, step_s=args.every_hours * 3600, health_every_s=0
    )
    with tempfile.TemporaryDirectory() as tmp:
        server = InfluxServer(Path(tmp), free_port())
        server.start()
        try:
            assert server.proc is not None
            client = InfluxClient(server.url, "bench", timeout_s=300)
            client.create_database()
            points = write_history(client, history)
            t_write = time.perf_counter() - t0
            registry = ModelRegistry(Path(tmp) / "models")
            profiler = cProfile.Profile() if args.profile else None
            if profiler:
                profiler.enable()
            if args.features_only:
                trained = features_only(client, now, Clock(server.proc.pid), args.features_only)
            else:
                trained = train_all(client, registry, now, Clock(server.proc.pid), args.splits)
            if profiler:
                profiler.disable()
                profiler.dump_stats(args.profile)
            load_trained = load()
            datasets = trained.pop("datasets")
            scored = {} if args.no_scoring or args.features_only else score(registry, datasets, now)
        finally:
            server.stop()
    print(
        json.dumps(
            {
                "assets_trained": len(fleet.assets),
                "history_days": args.days,
                "reading_every_hours": args.every_hours,
                "points_written": points,
                "failures": len(history.failures()),
                "window_days": DEFAULT_WINDOW_DAYS,
                "backtest_splits": args.splits,
                "buckets": DEFAULT_BUCKETS,
                "simulate_and_write_seconds": round(t_write, 2),
                **trained,
                **scored,
                "load_average_start": load_start,
                "load_average_after_training": load_trained,
                "load_average": load(),
            }
        )
    )


if __name__ == "__main__":
    main()
