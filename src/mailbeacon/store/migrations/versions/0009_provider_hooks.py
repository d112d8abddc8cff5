"""provider hooks

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 11:00:00

An email provider's bounce and complaint notifications per workspace: the hash of the webhook
URL's secret part and the provider's keys, encrypted (docs/providers.md).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "provider_hooks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("hook_hash", sa.String(length=64), nullable=False),
        sa.Column("config", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_provider_hooks_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_hooks")),
        sa.UniqueConstraint("hook_hash", name=op.f("uq_provider_hooks_hook_hash")),
        sa.UniqueConstraint("workspace_id", "provider", name=op.f("uq_provider_hooks_workspace_id_provider")),
    )


def downgrade() -> None:
    op.drop_table("provider_hooks")
