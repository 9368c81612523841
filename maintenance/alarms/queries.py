"""Reading alarms back: filtered history, counts per estate and building, one alarm with its order."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from maintenance.alarms.models import AlarmRow
from maintenance.alarms.store import UNCLEARED, alarm_payload
from maintenance.models import Building


@dataclass(frozen=True)
class AlarmFilter:
    estate: str | None = None
    kind: str | None = None
    severity: str | None = None
    state: str | None = None
    asset: str | None = None
    order: int | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    #: "open" (active or acknowledged) when ``state`` is None and this is True
    open_only: bool = False
    limit: int = 200
    offset: int = 0


def _where(f: AlarmFilter) -> list[Any]:
    clauses: list[Any] = []
    for column, value in (
        (AlarmRow.estate_id, f.estate),
        (AlarmRow.kind, f.kind),
        (AlarmRow.severity, f.severity),
        (AlarmRow.state, f.state),
        (AlarmRow.asset_id, f.asset),
        (AlarmRow.order_id, f.order),
    ):
        if value is not None:
            clauses.append(column == value)
    if f.state is None and f.open_only:
        clauses.append(AlarmRow.state.in_(UNCLEARED))
    if f.since is not None:
        clauses.append(AlarmRow.last_at >= f.since)
    if f.until is not None:
        clauses.append(AlarmRow.first_at < f.until)
    return clauses


def list_alarms(session: Session, f: AlarmFilter) -> tuple[int, list[dict[str, Any]]]:
    """(total matching, one page of alarms newest first)."""
    where = _where(f)
    total = session.scalar(sa.select(sa.func.count()).select_from(AlarmRow).where(*where)) or 0
    rows = session.scalars(
        sa.select(AlarmRow).where(*where).order_by(AlarmRow.last_at.desc(), AlarmRow.id.desc())
        .limit(f.limit).offset(f.offset)
    ).all()  # fmt: skip
    return int(total), [alarm_payload(session, r) for r in rows]


def counts(session: Session, estate: str | None = None) -> dict[str, Any]:
    """Uncleared alarms by severity per estate and per building (and the unacknowledged among them)."""
    q = (
        sa.select(AlarmRow.estate_id, Building.code, AlarmRow.severity, AlarmRow.state, sa.func.count())
        .join(Building, Building.id == AlarmRow.building_id)
        .where(AlarmRow.state.in_(UNCLEARED))
        .group_by(AlarmRow.estate_id, Building.code, AlarmRow.severity, AlarmRow.state)
    )
    if estate is not None:
        q = q.where(AlarmRow.estate_id == estate)
    estates: dict[str, dict[str, int]] = {}
    buildings: dict[str, dict[str, int]] = {}
    for est, building, severity, state, n in session.execute(q):
        for bucket in (estates.setdefault(est, {}), buildings.setdefault(f"{est}/{building}", {})):
            bucket[severity] = bucket.get(severity, 0) + n
            bucket["total"] = bucket.get("total", 0) + n
            if state == "active":
                bucket["unacknowledged"] = bucket.get("unacknowledged", 0) + n
    return {"estates": estates, "buildings": buildings}
