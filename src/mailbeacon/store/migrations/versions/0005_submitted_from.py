"""submitted from

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 16:40:00

The client address that submitted a message through the SMTP proxy: the sender's own network,
evidence of self for a later pixel load from it (classification.md, `sender_network`).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("submitted_from", sa.String(length=45), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("submitted_from")
