"""Tables of the dead letters in the relational store (Alembic revision 0007), on ``maintenance.models.Base``.

The ingester and the maintenance listener write them; the API (another process) reads them, and a
PostgreSQL deployment keeps them across container re-creation.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from maintenance.models import Base

#: a 64-bit id on PostgreSQL, SQLite's rowid alias on SQLite (which is 64-bit already)
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class DeadLetterRow(Base):
    """One refused message: where it came on, what it was (at most N KiB of it), why it was refused."""

    __tablename__ = "dead_letters"
    __table_args__ = (
        sa.Index("ix_dead_letters_reason_id", "reason", "id"),
        sa.Index("ix_dead_letters_received_at_ms", "received_at_ms"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    #: who refused it: ``ingest`` or ``maintenance``
    source: Mapped[str] = mapped_column(sa.String(16))
    topic: Mapped[str] = mapped_column(sa.Text)
    #: the first ``dead_letter_payload_max_bytes`` of the payload (``payload_bytes`` says how long it was)
    payload: Mapped[bytes] = mapped_column(sa.LargeBinary)
    payload_bytes: Mapped[int] = mapped_column(sa.Integer)
    #: SHA-256 of the whole payload
    payload_sha256: Mapped[bytes] = mapped_column(sa.LargeBinary(32))
    #: SHA-256 of (source, topic, payload): a redelivered message is counted in ``deliveries``, not stored again
    identity: Mapped[bytes] = mapped_column(sa.LargeBinary(32), unique=True)
    reason: Mapped[str] = mapped_column(sa.String(40))
    message: Mapped[str] = mapped_column(sa.Text)
    received_at_ms: Mapped[int] = mapped_column(sa.BigInteger)
    deliveries: Mapped[int] = mapped_column(sa.Integer, default=1)


class DeadLetterTally(Base):
    """Letters per reason no longer (``pruned`` by retention) or never (``suppressed``: a flooding device) kept."""

    __tablename__ = "dead_letter_tallies"

    reason: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    letters: Mapped[int] = mapped_column(sa.BigInteger)


class DeadLetterMeta(Base):
    """Counters kept instead of a ``COUNT(*)`` (``rows``: letters in the table); also the writers' lock row."""

    __tablename__ = "dead_letter_meta"

    key: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    value: Mapped[int] = mapped_column(sa.BigInteger)


class DeadLetterFlood(Base):
    """A device whose dead letters exceeded the per-device rate: its further letters are counted, not kept."""

    __tablename__ = "dead_letter_floods"

    device: Mapped[str] = mapped_column(sa.String(400), primary_key=True)
    first_ms: Mapped[int] = mapped_column(sa.BigInteger)
    last_ms: Mapped[int] = mapped_column(sa.BigInteger)
    suppressed: Mapped[int] = mapped_column(sa.BigInteger)
