"""Rating speed: one month of metrics and scores for a synthetic fleet. Prints one JSON object.

.venv/bin/python bench/ratings.py --assets 1000 --json

``company_report_s``: a company's monthly report as the API builds it (the month ranked, a six-month score
trend, the quarter to date), nothing published yet.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from evaluation.inputs import (
    AssetInfo,
    AssetState,
    Dataset,
    EstateInfo,
    OrderRecord,
    OrderType,
    StateInterval,
)
from evaluation.ledger import Ledger
from evaluation.metric_types import MetricSettings
from evaluation.metrics import compute_all
from evaluation.periods import parse_period
from evaluation.ratings import Ratings
from evaluation.reports.data import company_report
from evaluation.scheme import load_scheme
from evaluation.scoring import score_month
from evaluation.testing import store_db

KINDS = ("elevator", "fire_alarm", "water_pump", "smart_bin")


def synthetic(n_assets: int, seed: int) -> Dataset:
    rng = np.random.default_rng(seed)
    t0 = dt.datetime(2026, 8, 1, tzinfo=dt.UTC)
    estates = [EstateInfo(f"e{i}", f"Estate {i}", ("old", "new", "luxury")[i % 3], f"pc{i % 4}", f"Co {i % 4}")
               for i in range(12)]  # fmt: skip
    assets, intervals, orders = [], [], []
    for a in range(n_assets):
        e = estates[a % len(estates)]
        aid = f"a{a}"
        assets.append(AssetInfo(aid, KINDS[a % 4], e.estate, "b1", e.company, e.group, t0))
        t = t0
        k = 0
        while t < dt.datetime(2026, 11, 5, tzinfo=dt.UTC):
            up = dt.timedelta(hours=float(rng.exponential(300)))
            down = dt.timedelta(hours=float(rng.exponential(6)))
            intervals.append(StateInterval(aid, AssetState.IN_SERVICE, t, t + up))
            intervals.append(StateInterval(aid, AssetState.FAULTED, t + up, t + up + down))
            created = t + up
            orders.append(OrderRecord(f"{aid}-{k}", aid, OrderType.CORRECTIVE, created,
                                      acknowledged=created + dt.timedelta(minutes=float(rng.gamma(2, 5))),
                                      resolved=t + up + down, closed=t + up + down + dt.timedelta(hours=10),
                                      followed_up=bool(rng.random() < 0.8)))  # fmt: skip
            t, k = t + up + down, k + 1
    return Dataset(tuple(assets), tuple(intervals), tuple(orders), (), (), tuple(estates))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--assets", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    ds = synthetic(args.assets, args.seed)
    p, as_of = parse_period("2026-10"), dt.datetime(2026, 11, 5, tzinfo=dt.UTC)
    t = time.perf_counter()
    m = compute_all(ds, p, MetricSettings(as_of))
    metrics_s = time.perf_counter() - t
    t = time.perf_counter()
    scores = score_month(ds, p, load_scheme(), as_of)
    score_s = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        ledger = Ledger(store_db(Path(tmp)))
        ratings = Ratings(_Fixed(ds), load_scheme(), ledger)
        t = time.perf_counter()
        report = company_report(ratings, "pc0", p, as_of)  # the month, a 6-month trend, quarter to date
        report_s = time.perf_counter() - t
        ledger.db.dispose()
    print(json.dumps({
        "bench": "evaluation", "assets": args.assets, "intervals": len(ds.intervals), "orders": len(ds.orders),
        "metrics_all_assets_s": round(metrics_s, 3), "score_month_all_entities_s": round(score_s, 3),
        "company_report_s": round(report_s, 3), "entities": len(scores),
        "intactness": round(m["intactness_rate"].value or 0, 4), "report_score": round(report.score or 0, 4),
    }))  # fmt: skip


class _Fixed:
    """A source that always gives the same dataset (the synthetic fleet)."""

    def __init__(self, ds: Dataset) -> None:
        self.ds = ds

    def dataset(self, period: object, as_of: object) -> Dataset:
        return self.ds


if __name__ == "__main__":
    main()
