"""The worker's schedule in the store: two workers run each due job once, a failing job is retried with its
error visible (store, GET /api/v1/jobs, /metrics), and the worker keeps running."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from api.context import AppContext
from facility.settings import Settings
from maintenance.tokens import Role
from runtime import jobstore
from runtime.bootstrap import App, bootstrap
from runtime.jobs import Job, by_name
from runtime.metrics import JobCollector
from runtime.worker import Worker
from tests.support import make_token

pytestmark = pytest.mark.integration
T0 = dt.datetime(2026, 12, 7, 8, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now


def test_two_workers_run_each_due_job_once_and_a_failure_is_retried(db_url: str, tmp_path: Path) -> None:
    clock = Clock()
    calls: dict[str, int] = {"count": 0, "fail": 0}
    barrier = threading.Barrier(2, timeout=10)

    def count(app: App) -> str:
        calls["count"] += 1
        return f"counted {calls['count']}"

    def fail(app: App) -> str:
        calls["fail"] += 1
        raise RuntimeError("InfluxDB is down")

    jobs = [
        Job("count", dt.timedelta(minutes=10), count),
        Job("fail", dt.timedelta(hours=1), fail, retry=dt.timedelta(minutes=1)),
    ]
    settings = Settings(var_dir=tmp_path, database_url=db_url)
    apps = [bootstrap(settings, clock=clock) for _ in range(2)]
    workers = [Worker(app, jobs, holder=f"w{i}") for i, app in enumerate(apps)]
    try:
        # both workers look at the same moment, from two threads: each job is leased by one of them only
        started: list[list[str]] = [[], []]

        def tick(i: int) -> None:
            barrier.wait()
            started[i] = workers[i].tick()

        threads = [threading.Thread(target=tick, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for w in workers:
            w._pool.shutdown(wait=True)
            w._pool = type(w._pool)(max_workers=2)
        assert sorted(started[0] + started[1]) == ["count", "fail"]
        assert calls == {"count": 1, "fail": 1}

        with apps[0].db.transaction() as s:
            rows = {r.name: r for r in jobstore.all_rows(s)}
        assert (rows["count"].outcome, rows["count"].runs, rows["count"].failures) == ("ok", 1, 0)
        assert rows["count"].detail == "counted 1" and rows["count"].due_at == T0 + dt.timedelta(minutes=10)
        assert (rows["fail"].outcome, rows["fail"].failures) == ("failed", 1)
        assert rows["fail"].error == "RuntimeError: InfluxDB is down"
        assert rows["fail"].due_at == T0 + dt.timedelta(minutes=1)  # retried next round, not in an hour
        assert rows["count"].holder is None and rows["fail"].holder is None  # leases released

        # 30 s later nothing is due; at 1 min the failed job is retried (once), the other waits for 10 min
        clock.now = T0 + dt.timedelta(seconds=30)
        assert workers[0].tick() == [] and workers[1].tick() == []
        clock.now = T0 + dt.timedelta(minutes=1)
        assert workers[1].tick() + workers[0].tick() == ["fail"]
        workers[1]._pool.shutdown(wait=True)
        assert calls == {"count": 1, "fail": 2}

        # what a reader sees: the API's /jobs and the worker's /metrics
        registry = CollectorRegistry()
        registry.register(JobCollector(apps[0]))
        samples = {
            (x.name, tuple(sorted(x.labels.items()))): x.value
            for family in text_string_to_metric_families(generate_latest(registry).decode())
            for x in family.samples
        }
        assert samples[("facility_job_runs_total", (("job", "fail"),))] == 2
        assert samples[("facility_job_failures_total", (("job", "fail"),))] == 2
        assert samples[("facility_job_last_outcome", (("job", "count"), ("outcome", "ok")))] == 1
        assert samples[("facility_job_last_outcome", (("job", "fail"), ("outcome", "ok")))] == 0
        error = (("error", "RuntimeError: InfluxDB is down"), ("job", "fail"))
        assert samples[("facility_job_last_error_info", error)] == 1
        assert samples[("facility_job_last_start_timestamp_seconds", (("job", "count"),))] == T0.timestamp()
        assert samples[("facility_job_last_duration_seconds", (("job", "count"),))] >= 0
        ctx = AppContext.from_adapters(settings, apps[0].influx, apps[0].db)
        with TestClient(create_app(ctx=ctx)) as client:
            assert client.get("/api/v1/jobs").status_code == 401
            client.headers["Authorization"] = f"Bearer {make_token(settings, Role.SUPERVISOR)}"
            body = {j["name"]: j for j in client.get("/api/v1/jobs").json()}
            assert (
                body["fail"]["outcome"] == "failed"
                and body["fail"]["error"] == "RuntimeError: InfluxDB is down"
            )
            assert (body["fail"]["runs"], body["fail"]["failures"]) == (2, 2)
            assert body["count"]["detail"] == "counted 1" and body["count"]["running_on"] is None
            client.headers["Authorization"] = f"Bearer {make_token(settings, Role.VIEWER)}"
            assert client.get("/api/v1/jobs").status_code == 403
    finally:
        for w in workers:
            w.close()
        for app in apps:
            app.close()


def test_a_crashed_worker_lease_expires_and_unknown_jobs_are_named(tmp_path: Path) -> None:
    clock = Clock()
    ran: list[str] = []
    job = Job("j", dt.timedelta(minutes=5), lambda app: ran.append("j"))
    app = bootstrap(Settings(var_dir=tmp_path), clock=clock)
    try:
        w = Worker(app, [job], holder="dead")
        with app.db.transaction() as s:  # a worker took the lease and was killed -9 mid-run
            assert jobstore.try_lease(s, "j", "dead", T0, dt.timedelta(minutes=2))
        alive = Worker(app, [job], holder="alive")
        assert alive.tick() == []  # the lease is live
        clock.now = T0 + dt.timedelta(minutes=2, seconds=1)
        assert alive.tick() == ["j"]
        alive.close()
        assert ran == ["j"]
        w.close(wait=False)
    finally:
        app.close()
    with pytest.raises(ValueError, match=r"unknown job\(s\) \['nope'\]; the jobs are \["):
        by_name(["nope"])
    with pytest.raises(ValueError, match="every must be positive"):
        Job("x", dt.timedelta(0), lambda app: None)


def test_no_model_yet_is_one_warning_line_and_is_retried_in_a_minute(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """H2 #15: before the first training a job's NoModel is expected: one WARNING line, no traceback."""
    from predict.service import NoModel

    def forecast(app: App) -> str:
        raise NoModel("no trained model for any asset kind: run `facility train-telemetry --kind KIND` first")

    clock = Clock()
    app = bootstrap(Settings(var_dir=tmp_path), clock=clock)
    try:
        w = Worker(app, [Job("forecast-plan", dt.timedelta(minutes=15), forecast)], holder="w")
        caplog.set_level("INFO", logger="runtime.worker")
        assert w.run_due_now() == ["forecast-plan"]
        w.close()
        records = [
            r for r in caplog.records if r.name == "runtime.worker" and "forecast-plan" in r.getMessage()
        ]
        assert [(r.levelname, r.exc_info) for r in records] == [("WARNING", None)]
        text = records[0].getMessage()
        assert "Traceback" not in text and "\n" not in text
        assert text.startswith("job forecast-plan waits for a model (retried in 0:01:00): no trained model")
        with app.db.transaction() as s:
            row = next(r for r in jobstore.all_rows(s) if r.name == "forecast-plan")
        assert row.outcome == "failed" and row.error is not None and row.error.startswith("NoModel: ")
        assert row.due_at == T0 + dt.timedelta(minutes=1)
    finally:
        app.close()
