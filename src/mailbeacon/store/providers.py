"""Provider hooks: which workspace an email provider's notifications belong to, and its keys
(encrypted by the caller); the tracked messages sent to an address (for events without a Message-ID)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, insert, select, update

from ..errors import NotFound
from . import schema as t
from .base import StoreBase


@dataclass(frozen=True, slots=True)
class ProviderHook:
    id: int
    workspace_id: int
    provider: str
    hook_hash: str
    config: str  # encrypted JSON
    created_at: datetime
    updated_at: datetime


def _hook(row: Row[Any]) -> ProviderHook:
    return ProviderHook(
        id=row.id,
        workspace_id=row.workspace_id,
        provider=row.provider,
        hook_hash=row.hook_hash,
        config=row.config,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class ProvidersStore(StoreBase):
    def set_provider_hook(
        self, workspace_id: int, provider: str, config: str, now: datetime, *, hook_hash: str | None = None
    ) -> ProviderHook:
        """Create or change a workspace's hook of `provider`; `hook_hash` replaces the URL's secret
        (required when creating)."""
        with self.tx() as c:
            row = c.execute(
                select(t.provider_hooks).where(
                    t.provider_hooks.c.workspace_id == workspace_id, t.provider_hooks.c.provider == provider
                )
            ).first()
            if row is None:
                if hook_hash is None:
                    raise NotFound(f"no {provider} hook in this workspace")
                c.execute(
                    insert(t.provider_hooks).values(
                        workspace_id=workspace_id,
                        provider=provider,
                        hook_hash=hook_hash,
                        config=config,
                        created_at=now,
                        updated_at=now,
                    )
                )
            else:
                values: dict[str, Any] = {"config": config, "updated_at": now}
                if hook_hash is not None:
                    values["hook_hash"] = hook_hash
                c.execute(update(t.provider_hooks).where(t.provider_hooks.c.id == row.id).values(**values))
            got = c.execute(
                select(t.provider_hooks).where(
                    t.provider_hooks.c.workspace_id == workspace_id, t.provider_hooks.c.provider == provider
                )
            ).one()
        return _hook(got)

    def provider_hooks(self, workspace_id: int) -> list[ProviderHook]:
        q = (
            select(t.provider_hooks)
            .where(t.provider_hooks.c.workspace_id == workspace_id)
            .order_by(t.provider_hooks.c.provider)
        )
        with self.read() as c:
            return [_hook(r) for r in c.execute(q)]

    def provider_hook_by_hash(self, provider: str, hook_hash: str) -> ProviderHook:
        q = select(t.provider_hooks).where(
            t.provider_hooks.c.hook_hash == hook_hash, t.provider_hooks.c.provider == provider
        )
        with self.read() as c:
            row = c.execute(q).first()
        if row is None:
            raise NotFound(f"no {provider} hook at this URL")
        return _hook(row)

    def remove_provider_hook(self, workspace_id: int, provider: str) -> None:
        with self.tx() as c:
            gone = c.execute(
                delete(t.provider_hooks).where(
                    t.provider_hooks.c.workspace_id == workspace_id, t.provider_hooks.c.provider == provider
                )
            ).rowcount
        if not gone:
            raise NotFound(f"no {provider} hook in this workspace")

    def message_ids_sent_to(self, workspace_id: int, address: str, *, before: datetime, limit: int = 20) -> list[int]:
        """The workspace's tracked messages to `address` sent at or before `before`, newest first."""
        q = (
            select(t.messages.c.id)
            .join(t.recipients, t.recipients.c.message_id == t.messages.c.id)
            .where(
                t.messages.c.workspace_id == workspace_id,
                t.recipients.c.address == address.lower(),
                t.messages.c.sent_at <= before,
            )
            .order_by(t.messages.c.sent_at.desc(), t.messages.c.id.desc())
            .limit(limit)
        )
        with self.read() as c:
            return [int(i) for i in c.execute(q).scalars()]
