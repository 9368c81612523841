"""The scheduled jobs the worker runs. To add one: write ``def my_job(app: App) -> str`` (a one-line summary;
raise to mark the run failed) and add a ``Job`` line to ``JOBS``.

``every`` is the period between starts, shared by all workers (the schedule lives in the store's ``job_runs``
rows); a failed run is retried after ``retry`` instead. A job may run longer than its period: it holds a lease
that its worker renews while it runs, so no second worker starts it meanwhile.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from runtime import tasks
from runtime.bootstrap import App


@dataclass(frozen=True)
class Job:
    name: str
    every: dt.timedelta
    func: Callable[[App], object]
    #: after a failure the job is due again this soon (default: min(every, 1 minute))
    retry: dt.timedelta | None = None

    def __post_init__(self) -> None:
        if not self.name or len(self.name) > 64:
            raise ValueError(f"job name {self.name!r} must be 1..64 characters")
        if self.every <= dt.timedelta(0):
            raise ValueError(f"job {self.name}: every must be positive, got {self.every}")

    @property
    def retry_after(self) -> dt.timedelta:
        return self.retry if self.retry is not None else min(self.every, dt.timedelta(minutes=1))


def minutes(n: float) -> dt.timedelta:
    return dt.timedelta(minutes=n)


JOBS: list[Job] = [
    Job("features", minutes(15), tasks.refresh_features),
    Job("retrain", minutes(60), tasks.retrain),
    Job("forecast-plan", minutes(15), tasks.forecast_and_plan),
    Job("sla", minutes(1), tasks.sla_checks),
    Job("ratings", minutes(60), tasks.ratings_refresh),
    Job("dashboards", minutes(5), tasks.dashboards_export),
    Job("outbox", minutes(0.5), tasks.outbox_delivery),
]


def by_name(names: list[str] | None, jobs: list[Job] | None = None) -> list[Job]:
    """The jobs named (all when ``names`` is empty); an unknown name raises ValueError naming the known ones."""
    jobs = JOBS if jobs is None else jobs
    if not names:
        return list(jobs)
    known = {j.name: j for j in jobs}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown job(s) {unknown}; the jobs are {sorted(known)}")
    return [known[n] for n in names]
