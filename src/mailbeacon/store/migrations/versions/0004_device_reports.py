"""device reports

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 16:20:00

What the browser extension reports about itself on each beacon and heartbeat: the webmail
sites it has access to, when it reported, when it last acted (beaconed a self-view).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sites", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_acted_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("last_acted_at")
        batch_op.drop_column("reported_at")
        batch_op.drop_column("sites")
