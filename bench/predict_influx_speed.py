"""Live scoring through InfluxDB, as the product does it (predict.service.ForecastService). One JSON object.

    .venv/bin/python bench/predict_influx_speed.py [--buildings 500] [--every-minutes 60] [--model weibull|hazard]
                                                   [--breakdown] [--no-aggregates]

A throwaway influxd (data in a temp dir) gets a simulated window (``--window``, default the product's
``predict.features.DEFAULT_WINDOW_DAYS``) of telemetry and events for
``20 × buildings`` assets (default 10,000: 6 lifts, 2 fire panels, 4 pumps, 8 bins per building), one reading
per asset every ``--every-minutes``, ending at the current hour (the feature store keeps 30 days); drivers are
computed for the riskiest ``--explain-top`` per kind (50, as ``ForecastService.ranking``). Models are
fitted on the live features with synthetic outcomes (scoring time does not depend on what was learnt). Timed,
in the order a deployment sees them:

1. the refresh job's first round (``predict.refresh``): every kind's whole raw window read, features computed
   and stored (``refresh_first_seconds``);
2. a freshly started API process scoring every asset in the same hour: stored features, live event counts,
   last repairs, forecasts (``forecasts_new_process_seconds``, the 2 s target), and again (memory);
3. one more hour of telemetry arrives; a fresh process scores before the job has run (previous hour's rows);
   the job's second round reads only the new hour (``refresh_next_hour_seconds``); the first process scores
   the new hour from the store.

``--breakdown`` also times the raw-window query (server + transfer, JSON parsing) and, unless
``--no-aggregates``, the server-side bucket-aggregate query, for comparison.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import httpx
import numpy as np
import orjson

# bench/ingest.py would shadow the ingest package: import from the project, not from this folder
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

from facility.contract import AssetKind  # noqa: E402
from facility.services.influxd import InfluxServer  # noqa: E402
from facility.services.ports import free_port  # noqa: E402
from facility.settings import Settings  # noqa: E402
from ingest.influx import InfluxClient  # noqa: E402
from ingest.lineprotocol import to_line  # noqa: E402
from predict.features import DEFAULT_BUCKETS, DEFAULT_WINDOW_DAYS, kind_fields, spec_for_kind  # noqa: E402
from predict.forecast import ForecastSettings  # noqa: E402
from predict.influx_features import fleet_features_influx  # noqa: E402
from predict.models import DiscreteHazard, SurvivalModel, WeibullAFT, survival_y  # noqa: E402
from predict.refresh import refresh_features  # noqa: E402
from predict.registry import ModelVersion  # noqa: E402
from predict.service import ForecastService  # noqa: E402
from simulators.history import generate_history  # noqa: E402


def fleet_of(buildings: int):  # the fleet of bench/predict_speed.py
    import importlib.util

    spec = importlib.util.spec_from_file_location("predict_speed", _HERE / "predict_speed.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.fleet_of(buildings)


HOUR_MS = 3_600_000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--buildings", type=int, default=500)
    ap.add_argument("--every-minutes", type=float, default=60.0)
    ap.add_argument("--window", type=float, default=DEFAULT_WINDOW_DAYS, help="feature window, days")
    ap.add_argument("--model", choices=["weibull", "hazard"], default="weibull")
    ap.add_argument(
        "--explain-top",
        type=int,
        default=50,
        help="drivers computed for the riskiest N per kind (default 50, as the API's fleet ranking)",
    )
    ap.add_argument("--breakdown", action="store_true", help="also time the raw and aggregate queries")
    ap.add_argument(
        "--no-aggregates", action="store_true", help="--breakdown: skip the server-side aggregate query"
    )
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    fleet = fleet_of(args.buildings)
    end_ms = int(time.time() * 1000) // HOUR_MS * HOUR_MS  # within the feature store's retention
    now = dt.datetime.fromtimestamp(end_ms / 1000, dt.UTC)
    t0 = time.perf_counter()
    # one hour more than the window: that hour is written between the first and the second scoring
    history = generate_history(
        fleet,
        seed=5,
        end_ms=end_ms + HOUR_MS - 1,
        days=args.window + 0.6,
        step_s=args.every_minutes * 60,
        health_every_s=0,
    )
    t_sim = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        server = InfluxServer(Path(tmp), free_port())
        server.start()
        try:
            client = InfluxClient(server.url, "bench", timeout_s=300)
            client.create_database()
            t0 = time.perf_counter()
            batch: list[str] = []
            points = 0
            later = []
            for msg in history.messages():
                if msg.ts_ms >= end_ms:
                    later.append(to_line(msg))
                    continue
                batch.append(to_line(msg))
                if len(batch) == 50_000:
                    client.write(batch)
                    points += len(batch)
                    batch = []
            client.write(batch)
            points += len(batch)
            t_write = time.perf_counter() - t0
            result = score(client, fleet, now, args.model, later, args.explain_top, args.window)
            if args.breakdown:
                result |= breakdown(client, fleet, now, not args.no_aggregates, args.window)
        finally:
            server.stop()
    print(
        json.dumps(
            {
                "assets": len(fleet.assets),
                "window_days": args.window,
                "reading_every_minutes": args.every_minutes,
                "points_written": points,
                "simulate_seconds": round(t_sim, 2),
                "write_seconds": round(t_write, 2),
                "model": args.model,
                "explain_top": args.explain_top,
                **result,
                "load_average": [round(x, 2) for x in os.getloadavg()],
            }
        )
    )


def fit_models(
    client: InfluxClient, fleet, now_ms: int, model: str, window: float
) -> dict[AssetKind, SurvivalModel]:
    rng = np.random.default_rng(0)
    out: dict[AssetKind, SurvivalModel] = {}
    import pandas as pd

    for kind in AssetKind:
        ids = [a.id for a in fleet.assets if a.kind is kind][:3000]
        feats = fleet_features_influx(client, kind, now_ms, spec_for_kind(kind, window), ids)
        X = pd.DataFrame([feats[a] for a in ids]).assign(since_repair=rng.uniform(window, 400, len(ids)))
        z = X.iloc[:, 2].fillna(X.iloc[:, 2].median()).to_numpy()
        scale = 60 * np.exp(-(z - z.mean()) / (z.std() or 1.0) * 0.5)
        t = rng.weibull(1.5, len(ids)) * scale
        c = rng.uniform(10, 150, len(ids))
        y = survival_y(np.minimum(t, c) + 1e-3, (t <= c).astype(int))
        m = WeibullAFT(penalizer=0.1) if model == "weibull" else DiscreteHazard(classifier="hgb")
        out[kind] = m.fit(X, y)
    return out


class BenchService(ForecastService):
    """ForecastService with in-memory models instead of the registry."""

    def __init__(
        self, client: InfluxClient, fleet, models: dict[AssetKind, SurvivalModel], window: float
    ) -> None:
        super().__init__(Settings(), client, fleet)
        self.bench_models = models
        self.window = window

    def model(self, kind: AssetKind) -> tuple[SurvivalModel, ModelVersion]:
        meta = ModelVersion(
            kind.value,
            "bench",
            "bench",
            "",
            (),
            features_spec={"source": "telemetry", "window": self.window, "buckets": DEFAULT_BUCKETS},
        )
        return self.bench_models[kind], meta


def score(
    client: InfluxClient,
    fleet,
    now: dt.datetime,
    model: str,
    later: list[str],
    explain_top: int,
    window: float,
) -> dict:
    now_ms = int(now.timestamp() * 1000)
    models = fit_models(client, fleet, now_ms, model, window)
    cfg = ForecastSettings(explain_top=explain_top)
    assets = list(fleet.assets)
    hour = dt.timedelta(hours=1)

    def timed(f):
        t0 = time.perf_counter()
        out = f()
        return out, time.perf_counter() - t0

    job = BenchService(client, fleet, models, window)
    first, t_refresh_first = timed(lambda: refresh_features(job, now))
    api = BenchService(client, fleet, models, window)
    forecasts, t_new_process = timed(lambda: api.forecasts(assets, now + dt.timedelta(minutes=20), cfg))
    _, t_same_hour = timed(lambda: api.forecasts(assets, now + dt.timedelta(minutes=40), cfg))
    client.write(later)  # one more hour of telemetry arrives
    early = BenchService(client, fleet, models, window)
    _, t_before_refresh = timed(lambda: early.forecasts(assets, now + hour, cfg))
    second, t_refresh_next = timed(lambda: refresh_features(job, now + hour))
    _, t_next_hour = timed(lambda: api.forecasts(assets, now + hour + dt.timedelta(minutes=5), cfg))
    return {
        "assets_scored": len(forecasts),
        "feature_rows_stored": sum(first.rows.values()),
        "refresh_first_seconds": round(t_refresh_first, 2),
        "forecasts_new_process_seconds": round(t_new_process, 2),
        "forecasts_same_hour_seconds": round(t_same_hour, 2),
        "forecasts_before_refresh_seconds": round(t_before_refresh, 2),
        "refresh_next_hour_seconds": round(t_refresh_next, 2),
        "forecasts_next_hour_seconds": round(t_next_hour, 2),
        "next_hour_rows_stored": sum(second.rows.values()),
    }


def breakdown(client: InfluxClient, fleet, now: dt.datetime, aggregates: bool, window: float) -> dict:
    """Per kind: the raw-window query (what a cold refresh runs) — HTTP round trip (server + transfer), JSON
    parsing (stdlib, as InfluxClient.query does, and orjson) — and, for comparison, the server-side
    bucket-aggregate query (6 aggregates × fields, GROUP BY time)."""
    from predict.influx_features import _AGGS, _bounds

    now_ms = int(now.timestamp() * 1000)
    fig = {k: 0.0 for k in ("raw_http", "raw_json_stdlib", "raw_orjson", "raw_mb", "agg_http", "events_http")}
    for kind in AssetKind:
        spec = spec_for_kind(kind, window)
        start, width, offset = _bounds(now_ms, spec)
        fields = kind_fields(kind)
        where = f"time >= {start}ms AND time < {now_ms}ms"
        raw_q = f'SELECT {", ".join(f"{chr(34)}{f}{chr(34)}" for f in fields)} FROM "{kind.value}" WHERE {where} GROUP BY "asset"'
        select = ", ".join(f'{agg}("{f}") AS "{f}|{agg}"' for f in fields for agg in _AGGS)
        agg_q = f'SELECT {select} FROM "{kind.value}" WHERE {where} GROUP BY time({width}ms, {offset}ms), "asset" fill(none)'
        ev_q = f'SELECT count("detail") AS n FROM "events" WHERE {where} AND "kind" = \'{kind.value}\' GROUP BY "asset", "type"'
        t0 = time.perf_counter()
        resp = httpx.post(
            f"{client.url}/query", data={"db": client.database, "q": raw_q, "epoch": "ms"}, timeout=600
        )
        fig["raw_http"] += time.perf_counter() - t0
        fig["raw_mb"] += len(resp.content) / 1e6
        t0 = time.perf_counter()
        json.loads(resp.content)
        fig["raw_json_stdlib"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        orjson.loads(resp.content)
        fig["raw_orjson"] += time.perf_counter() - t0
        for key, q in (("agg_http", agg_q if aggregates else ""), ("events_http", ev_q)):
            if not q:
                continue
            t0 = time.perf_counter()
            httpx.post(
                f"{client.url}/query", data={"db": client.database, "q": q, "epoch": "ms"}, timeout=600
            )
            fig[key] += time.perf_counter() - t0
    return {
        "raw_query_http_seconds": round(fig["raw_http"], 2),
        "raw_response_mb": round(fig["raw_mb"], 1),
        "raw_json_stdlib_seconds": round(fig["raw_json_stdlib"], 2),
        "raw_orjson_seconds": round(fig["raw_orjson"], 2),
        "event_queries_http_seconds": round(fig["events_http"], 2),
        "server_side_aggregate_query_http_seconds": round(fig["agg_http"], 2) if aggregates else None,
    }


if __name__ == "__main__":
    main()
