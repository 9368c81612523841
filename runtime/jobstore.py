"""The worker's job table: one row per job with its lease (who runs it, until when) and its last run.

The lease is taken with one conditional UPDATE (``lease_until < now``), which is atomic on SQLite and
PostgreSQL alike, so two workers never run the same job at once and a job runs once per period in total.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from maintenance.models import Base, UtcDateTime


class JobRow(Base):
    __tablename__ = "job_runs"
    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    #: the worker holding the lease ("host:pid") and until when; a crashed worker's lease simply expires
    holder: Mapped[str | None] = mapped_column(sa.String(200))
    lease_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    #: when the job is next due (start of the last run + its period; sooner after a failure)
    due_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    last_start: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    last_end: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    #: seconds the last finished run took
    duration_s: Mapped[float | None] = mapped_column(sa.Float())
    #: "ok" | "failed" | "running"
    outcome: Mapped[str | None] = mapped_column(sa.String(16))
    error: Mapped[str | None] = mapped_column(sa.Text)
    detail: Mapped[str | None] = mapped_column(sa.Text)
    runs: Mapped[int] = mapped_column(default=0)
    failures: Mapped[int] = mapped_column(default=0)


def ensure_rows(session: Session, names: list[str]) -> None:
    """A row per job (inserted once; a concurrent insert by another worker is fine)."""
    have = set(session.scalars(sa.select(JobRow.name).where(JobRow.name.in_(names))))
    for name in names:
        if name not in have:
            try:
                with session.begin_nested():
                    session.add(JobRow(name=name, runs=0, failures=0))
            except sa.exc.IntegrityError:
                pass  # the other worker inserted it first


def try_lease(session: Session, name: str, holder: str, now: dt.datetime, lease: dt.timedelta) -> bool:
    """Take the job's lease if it is due and nobody holds a live lease; True when this worker got it."""
    result = session.execute(
        sa.update(JobRow)
        .where(
            JobRow.name == name,
            sa.or_(JobRow.lease_until.is_(None), JobRow.lease_until < now),
            sa.or_(JobRow.due_at.is_(None), JobRow.due_at <= now),
        )
        .values(holder=holder, lease_until=now + lease, last_start=now, outcome="running")
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def finish(
    session: Session,
    name: str,
    holder: str,
    start: dt.datetime,
    end: dt.datetime,
    error: str | None,
    detail: str | None,
    next_due: dt.datetime,
) -> None:
    """Record the run and release the lease (only if this worker still holds it)."""
    session.execute(
        sa.update(JobRow)
        .where(JobRow.name == name, JobRow.holder == holder)
        .values(
            holder=None,
            lease_until=None,
            due_at=next_due,
            last_end=end,
            duration_s=(end - start).total_seconds(),
            outcome="ok" if error is None else "failed",
            error=error,
            detail=detail,
            runs=JobRow.runs + 1,
            failures=JobRow.failures + (0 if error is None else 1),
        )
        .execution_options(synchronize_session=False)
    )


def all_rows(session: Session) -> list[JobRow]:
    return list(session.scalars(sa.select(JobRow).order_by(JobRow.name)))


def renew(session: Session, name: str, holder: str, until: dt.datetime) -> None:
    session.execute(
        sa.update(JobRow)
        .where(JobRow.name == name, JobRow.holder == holder)
        .values(lease_until=until)
        .execution_options(synchronize_session=False)
    )


def release_all(session: Session, holder: str) -> None:
    """Free this worker's leases of jobs that did not finish (stopped): they are due again at once."""
    session.execute(
        sa.update(JobRow)
        .where(JobRow.holder == holder)
        .values(holder=None, lease_until=None, outcome="stopped")
        .execution_options(synchronize_session=False)
    )


def make_due(session: Session, name: str, now: dt.datetime) -> None:
    session.execute(
        sa.update(JobRow)
        .where(JobRow.name == name)
        .values(due_at=now)
        .execution_options(synchronize_session=False)
    )
