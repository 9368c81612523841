"""`facility worker`: runs the scheduled jobs of ``runtime.jobs`` — each at most once at a time across every
worker process and once per period in total (the schedule and the leases are rows of the store).

Why not APScheduler: its 3.x job stores must not be shared by several schedulers ("sharing a persistent job
store among two or more processes will lead to incorrect scheduler behavior", its FAQ), and two workers must
share the schedule here. The loop below is what remains once the store holds the schedule: every ``poll_s``
take the lease of each due job (one conditional UPDATE), run it in a thread, record the outcome.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
import traceback
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor

from predict.service import NoModel
from runtime import jobstore
from runtime.bootstrap import App
from runtime.jobs import JOBS, Job

log = logging.getLogger(__name__)

#: a lease outlives its renewal interval by this much: a worker killed mid-job frees the job this soon
LEASE = dt.timedelta(minutes=2)
#: the longest error text kept per job
ERROR_CHARS = 2000


def default_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Worker:
    def __init__(
        self, app: App, jobs: Iterable[Job] | None = None, holder: str | None = None, poll_s: float = 2.0
    ) -> None:
        self.app = app
        self.jobs = list(JOBS if jobs is None else jobs)
        self.jobs = [self._configured(j) for j in self.jobs]
        self.holder = holder or default_holder()
        self.poll_s = poll_s
        self._pool = ThreadPoolExecutor(max_workers=max(1, len(self.jobs)), thread_name_prefix="job")
        self._running: dict[str, Future[bool]] = {}
        with app.db.transaction() as s:
            jobstore.ensure_rows(s, [j.name for j in self.jobs])

    def _configured(self, job: Job) -> Job:
        """``FACILITY_WORKER_INTERVALS`` (seconds by job name) overrides a job's period."""
        seconds = (self.app.settings.worker_intervals or {}).get(job.name)
        if seconds is None:
            return job
        every = dt.timedelta(seconds=float(seconds))
        return Job(
            job.name, every, job.func, job.retry if job.retry is not None else min(every, job.retry_after)
        )

    def run_job(self, job: Job) -> bool:
        """Run one job now (its lease already taken), record the outcome and release the lease."""
        start = self.app.clock()
        t0 = time.perf_counter()
        error: str | None = None
        detail: str | None = None
        try:
            result = job.func(self.app)
            detail = None if result is None else str(result)[:ERROR_CHARS]
            log.info("job %s done in %.1f s: %s", job.name, time.perf_counter() - t0, detail)
        except NoModel as exc:  # expected before the first training: one line, no traceback
            error = f"{type(exc).__name__}: {exc}"[:ERROR_CHARS]
            log.warning("job %s waits for a model (retried in %s): %s", job.name, job.retry_after, exc)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:ERROR_CHARS]
            log.error("job %s failed (retried in %s): %s", job.name, job.retry_after, traceback.format_exc())
        end = start + dt.timedelta(seconds=time.perf_counter() - t0)
        next_due = start + (job.every if error is None else job.retry_after)
        try:
            with self.app.db.transaction() as s:
                jobstore.finish(s, job.name, self.holder, start, end, error, detail, next_due)
        except Exception:  # the store is down: the lease expires and the job runs again
            log.exception("could not record the run of job %s", job.name)
        return error is None

    def tick(self) -> list[str]:
        """One round: renew the leases of running jobs, start every due job whose lease this worker gets."""
        now = self.app.clock()
        self._running = {n: f for n, f in self._running.items() if not f.done()}
        started: list[str] = []
        with self.app.db.transaction() as s:
            for name in self._running:
                jobstore.renew(s, name, self.holder, now + LEASE)
        for job in self.jobs:
            if job.name in self._running:
                continue
            with self.app.db.transaction() as s:
                got = jobstore.try_lease(s, job.name, self.holder, now, LEASE)
            if got:
                self._running[job.name] = self._pool.submit(self.run_job, job)
                started.append(job.name)
        return started

    def run_due_now(self) -> list[str]:
        """Run every job of this worker now, one after the other, ignoring the schedule (``--once``);
        returns the names of those that failed. A job another worker is running is skipped."""
        failed = []
        for job in self.jobs:
            now = self.app.clock()
            with self.app.db.transaction() as s:
                jobstore.make_due(s, job.name, now)
                got = jobstore.try_lease(s, job.name, self.holder, now, LEASE)
            if not got:
                log.warning("job %s is running in another worker; skipped", job.name)
                continue
            if not self.run_job(job):
                failed.append(job.name)
        return failed

    def run(self, stop: threading.Event) -> None:
        """Tick every ``poll_s`` until ``stop`` is set; a failing round (store down) is logged and retried."""
        log.info("worker %s runs %s", self.holder, [f"{j.name}/{j.every}" for j in self.jobs])
        while not stop.is_set():
            try:
                self.tick()
            except Exception:
                log.exception("worker round failed; retrying in %.0f s", self.poll_s)
            stop.wait(self.poll_s)
        self.close()

    def close(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=True)
        try:
            with self.app.db.transaction() as s:
                jobstore.release_all(s, self.holder)
        except Exception:
            log.exception("could not release this worker's leases (they expire by themselves)")


def serve_metrics(app: App, port: int) -> None:
    """Serve the jobs' Prometheus metrics on ``port`` (``/metrics``) from a daemon thread."""
    from prometheus_client import CollectorRegistry, start_http_server

    from runtime.metrics import JobCollector

    registry = CollectorRegistry()
    registry.register(JobCollector(app))
    start_http_server(port, registry=registry)
    log.info("job metrics on :%d/metrics", port)
