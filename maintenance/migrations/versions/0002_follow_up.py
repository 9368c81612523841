"""Follow-up (回访) of resolved orders: when, note, the resident's rating.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("followed_up_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("follow_up_note", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("resident_rating", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("resident_rating")
        batch_op.drop_column("follow_up_note")
        batch_op.drop_column("followed_up_at")
