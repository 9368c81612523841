"""dead letters in the relational store (issues 11, 15): letters, per-reason tallies, the row count, floods.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dead_letters",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("payload_bytes", sa.Integer(), nullable=False),
        sa.Column("payload_sha256", sa.LargeBinary(length=32), nullable=False),
        sa.Column("identity", sa.LargeBinary(length=32), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("received_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("deliveries", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
        sa.UniqueConstraint("identity", name=op.f("uq_dead_letters_identity")),
    )
    op.create_index("ix_dead_letters_reason_id", "dead_letters", ["reason", "id"], unique=False)
    op.create_index("ix_dead_letters_received_at_ms", "dead_letters", ["received_at_ms"], unique=False)
    op.create_table(
        "dead_letter_tallies",
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("letters", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("reason", "kind", name=op.f("pk_dead_letter_tallies")),
    )
    meta = op.create_table(
        "dead_letter_meta",
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_dead_letter_meta")),
    )
    op.bulk_insert(meta, [{"key": "rows", "value": 0}])
    op.create_table(
        "dead_letter_floods",
        sa.Column("device", sa.String(length=400), nullable=False),
        sa.Column("first_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_ms", sa.BigInteger(), nullable=False),
        sa.Column("suppressed", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("device", name=op.f("pk_dead_letter_floods")),
    )


def downgrade() -> None:
    op.drop_table("dead_letter_floods")
    op.drop_table("dead_letter_meta")
    op.drop_table("dead_letter_tallies")
    op.drop_index("ix_dead_letters_received_at_ms", table_name="dead_letters")
    op.drop_index("ix_dead_letters_reason_id", table_name="dead_letters")
    op.drop_table("dead_letters")
