"""Prometheus view of the worker's jobs, read from the ``job_runs`` rows at scrape time (every worker's runs)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from runtime import jobstore
from runtime.bootstrap import App

log = logging.getLogger(__name__)
OUTCOMES = ("ok", "failed", "running", "stopped")


class JobCollector(Collector):
    def __init__(self, app: App) -> None:
        self.app = app

    def collect(self) -> Iterator[Metric]:
        start = GaugeMetricFamily(
            "facility_job_last_start_timestamp_seconds",
            "When the job last started (Unix time)",
            labels=["job"],
        )
        duration = GaugeMetricFamily(
            "facility_job_last_duration_seconds", "How long the job's last finished run took", labels=["job"]
        )
        outcome = GaugeMetricFamily(
            "facility_job_last_outcome", "1 for the outcome of the job's last run", labels=["job", "outcome"]
        )
        error = GaugeMetricFamily(
            "facility_job_last_error_info",
            "The error of the job's last run when it failed",
            labels=["job", "error"],
        )
        runs = CounterMetricFamily("facility_job_runs", "Finished runs of the job", labels=["job"])
        failures = CounterMetricFamily("facility_job_failures", "Failed runs of the job", labels=["job"])
        try:
            with self.app.db.transaction() as s:
                rows = jobstore.all_rows(s)
        except Exception:
            log.exception("job metrics: the store is not reachable")
            rows = []
        for r in rows:
            if r.last_start is not None:
                start.add_metric([r.name], r.last_start.timestamp())
            if r.duration_s is not None:
                duration.add_metric([r.name], r.duration_s)
            for o in OUTCOMES:
                outcome.add_metric([r.name, o], 1.0 if r.outcome == o else 0.0)
            if r.outcome == "failed" and r.error:
                error.add_metric([r.name, r.error.splitlines()[0][:200]], 1.0)
            runs.add_metric([r.name], float(r.runs))
            failures.add_metric([r.name], float(r.failures))
        yield from (start, duration, outcome, error, runs, failures)
