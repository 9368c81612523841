"""Broker-account metadata in the relational store (Alembic revision 0006), on ``maintenance.models.Base``.

The broker (dynsec) holds the accounts and password hashes; this table says who each account is for (the
asset, the role, the topic prefix and client id it is bound to) and when it was created, rotated or
revoked, so a PostgreSQL deployment keeps that history across container re-creation.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from facility.services.dynsec import DEVICE, AccountSpec
from maintenance.models import Base, UtcDateTime


class BrokerAccountRow(Base):
    __tablename__ = "broker_accounts"

    username: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    #: ``device`` or a service role (ingest, app, alarms, simulator)
    role: Mapped[str] = mapped_column(sa.String(32))
    #: the registry asset a device account is for (no foreign key: the account outlives a deleted asset)
    asset_id: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    topic_prefix: Mapped[str] = mapped_column(sa.String(320))
    client_id: Mapped[str | None] = mapped_column(sa.String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    rotated_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


@dataclass(frozen=True)
class AccountRecord:
    username: str
    role: str
    asset_id: str | None
    topic_prefix: str
    client_id: str | None
    created_at: dt.datetime
    rotated_at: dt.datetime | None
    revoked_at: dt.datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def record_created(session: Session, specs: Iterable[AccountSpec], now: dt.datetime) -> None:
    """Accounts just created on the broker (a re-created, once revoked account starts afresh)."""
    for spec in specs:
        row = session.get(BrokerAccountRow, spec.username) or BrokerAccountRow(username=spec.username)
        row.role = spec.role
        row.asset_id = spec.topic_prefix.rsplit("/", 1)[-1] if spec.role == DEVICE else None
        row.topic_prefix = spec.topic_prefix
        row.client_id = spec.client_id
        row.created_at, row.rotated_at, row.revoked_at = now, None, None
        session.add(row)


def record_rotated(session: Session, username: str, now: dt.datetime) -> None:
    row = session.get(BrokerAccountRow, username)
    if row is not None:
        row.rotated_at = now


def record_revoked(session: Session, usernames: Iterable[str], now: dt.datetime) -> None:
    for username in usernames:
        row = session.get(BrokerAccountRow, username)
        if row is not None and row.revoked_at is None:
            row.revoked_at = now


def records(session: Session, include_revoked: bool = False) -> list[AccountRecord]:
    q = sa.select(BrokerAccountRow).order_by(BrokerAccountRow.role, BrokerAccountRow.username)
    if not include_revoked:
        q = q.where(BrokerAccountRow.revoked_at.is_(None))
    return [
        AccountRecord(
            r.username,
            r.role,
            r.asset_id,
            r.topic_prefix,
            r.client_id,
            r.created_at,
            r.rotated_at,
            r.revoked_at,
        )
        for r in session.scalars(q)
    ]
