"""crew card: order notes, checklist ticks, photos (issue 16).

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "order_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_order_notes_order_id_orders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_notes")),
    )
    op.create_index(op.f("ix_order_notes_order_id"), "order_notes", ["order_id"], unique=False)
    op.create_table(
        "order_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("item", sa.String(length=200), nullable=False),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_order_checks_order_id_orders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_checks")),
        sa.UniqueConstraint("order_id", "item", name=op.f("uq_order_checks_order_id")),
    )
    op.create_index(op.f("ix_order_checks_order_id"), "order_checks", ["order_id"], unique=False)
    op.create_table(
        "order_photos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_order_photos_order_id_orders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_photos")),
    )
    op.create_index(op.f("ix_order_photos_order_id"), "order_photos", ["order_id"], unique=False)


def downgrade() -> None:
    for table in ("order_photos", "order_checks", "order_notes"):
        op.drop_index(op.f(f"ix_{table}_order_id"), table_name=table)
        op.drop_table(table)
