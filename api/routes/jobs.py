"""GET /jobs: each scheduled job of the worker(s) with its last run — start, duration, outcome, error."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from api.auth import READERS, Principal, require_role
from api.deps import SessionDep
from runtime import jobstore

router = APIRouter(tags=["jobs"])
Readers = Annotated[Principal, Depends(require_role(*READERS))]


class JobOut(BaseModel):
    name: str
    #: "ok" | "failed" | "running" | "stopped"; None before the first run
    outcome: str | None
    last_start: dt.datetime | None
    last_end: dt.datetime | None
    duration_s: float | None
    error: str | None
    #: the last run's one-line summary
    detail: str | None
    next_due: dt.datetime | None
    #: the worker holding the job's lease while it runs ("host:pid")
    running_on: str | None
    runs: int
    failures: int


@router.get("/jobs", response_model=list[JobOut])
def list_jobs(session: SessionDep, who: Readers) -> list[JobOut]:
    """Every job a worker has registered, with its last run (empty until a worker has started)."""
    return [
        JobOut(
            name=r.name,
            outcome=r.outcome,
            last_start=r.last_start,
            last_end=r.last_end,
            duration_s=r.duration_s,
            error=r.error,
            detail=r.detail,
            next_due=r.due_at,
            running_on=r.holder,
            runs=r.runs,
            failures=r.failures,
        )
        for r in jobstore.all_rows(session)
    ]
