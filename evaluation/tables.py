"""The ratings' lasting data in the relational store (migration 0010): the publication ledger, imported
external indicators and objections to records (appeals). A PostgreSQL deployment keeps them across
container re-creation; nothing of the ratings lives in a side file any more."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from maintenance.models import Base, UtcDateTime

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class LedgerRow(Base):
    """One published entry of the hash chain (``evaluation/ledger.py``); rows are read back by ``pos``."""

    __tablename__ = "rating_ledger"
    pos: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    #: unique: two publishers appending at once cannot both take the next number
    seq: Mapped[int] = mapped_column(sa.Integer, unique=True)
    period: Mapped[str] = mapped_column(sa.String(16))
    kind: Mapped[str] = mapped_column(sa.String(16))
    content: Mapped[str] = mapped_column(sa.Text)
    content_sha256: Mapped[str] = mapped_column(sa.String(64))
    prev_sha256: Mapped[str] = mapped_column(sa.String(64))
    entry_sha256: Mapped[str] = mapped_column(sa.String(64))
    published_at: Mapped[str] = mapped_column(sa.String(40))
    corrects: Mapped[int | None] = mapped_column(sa.Integer)


class ExternalRow(Base):
    """An imported indicator per (estate, month, indicator); importing the key again replaces it."""

    __tablename__ = "external_indicators"
    estate: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    month: Mapped[str] = mapped_column(sa.String(7), primary_key=True)
    indicator: Mapped[str] = mapped_column(sa.String(48), primary_key=True)
    value: Mapped[float] = mapped_column(sa.Float)
    count: Mapped[int] = mapped_column(sa.Integer, default=0)
    source: Mapped[str] = mapped_column(sa.String(200), default="")


class ObjectionRow(Base):
    """A company's objection to one record behind a figure, and the decision on it."""

    __tablename__ = "rating_objections"
    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    period: Mapped[str] = mapped_column(sa.String(16), index=True)
    entity: Mapped[str] = mapped_column(sa.String(8))
    entity_id: Mapped[str] = mapped_column(sa.String(64))
    metric: Mapped[str] = mapped_column(sa.String(64))
    record: Mapped[str] = mapped_column(sa.String(300))
    reason: Mapped[str] = mapped_column(sa.Text)
    filed_by: Mapped[str] = mapped_column(sa.String(100))
    filed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    #: open | accepted | rejected
    status: Mapped[str] = mapped_column(sa.String(10), default="open")
    decided_by: Mapped[str | None] = mapped_column(sa.String(100))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    decision: Mapped[str | None] = mapped_column(sa.Text)
    #: the correction entry an accepted objection produced
    correction_seq: Mapped[int | None] = mapped_column(sa.Integer)
