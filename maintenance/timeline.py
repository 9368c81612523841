"""The asset state timeline: consecutive intervals, the last one open (``end_at`` NULL)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from maintenance.domain import AssetState
from maintenance.models import AssetStateRow


def current(session: Session, asset_id: str) -> AssetStateRow | None:
    return session.scalars(
        sa.select(AssetStateRow)
        .where(AssetStateRow.asset_id == asset_id, AssetStateRow.end_at.is_(None))
        .order_by(AssetStateRow.start_at.desc(), AssetStateRow.id.desc())
        .limit(1)
    ).first()


def previous(session: Session, row: AssetStateRow) -> AssetStateRow | None:
    return session.scalars(
        sa.select(AssetStateRow)
        .where(AssetStateRow.asset_id == row.asset_id, AssetStateRow.id != row.id)
        .order_by(AssetStateRow.start_at.desc(), AssetStateRow.id.desc())
        .limit(1)
    ).first()


def set_state(session: Session, asset_id: str, state: AssetState, at: dt.datetime, cause: str) -> bool:
    """Close the current interval at ``at`` and open one in ``state``; False when already in it.

    A change dated before the current interval began (late, out-of-order message) is applied at the
    start of the current interval, so intervals never overlap; a change at the very start of the current
    interval replaces its state (merging with the previous interval when equal), so none has zero length.
    """
    cur = current(session, asset_id)
    if cur is not None:
        if cur.state == state.value:
            return False
        at = max(at, cur.start_at)
        if at == cur.start_at:  # no zero-length intervals: the current one changes its state instead
            prev = previous(session, cur)
            if prev is not None and prev.state == state.value and prev.end_at == at:
                session.delete(cur)
                prev.end_at = None
            else:
                cur.state, cur.cause = state.value, cause
            session.flush()
            return True
        cur.end_at = at
    session.add(AssetStateRow(asset_id=asset_id, state=state.value, start_at=at, end_at=None, cause=cause))
    session.flush()
    return True


def history(session: Session, asset_id: str) -> list[AssetStateRow]:
    return list(
        session.scalars(
            sa.select(AssetStateRow)
            .where(AssetStateRow.asset_id == asset_id)
            .order_by(AssetStateRow.start_at, AssetStateRow.id)
        )
    )
