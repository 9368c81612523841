"""Time zones of crews' and engineers' working hours (IANA names; existing rows: UTC).

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("crews", "engineers"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("timezone", sa.String(length=64), server_default="UTC", nullable=False)
            )


def downgrade() -> None:
    for table in ("crews", "engineers"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("timezone")
