"""events by recipient

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 11:00:00

The writers of events read what the outbox told of a recipient (its standing opens, its
inferred open) in the transaction that tells more: an index by recipient and kind.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_recipient_id_kind", ["recipient_id", "kind"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_recipient_id_kind")
