"""Webhook endpoints of a workspace and their delivery log (deliveries.py fans the outbox out to them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Row, delete, insert, select, update

from ..errors import NotFound
from ..model import EventKind
from . import schema as t
from .deliveries import Delivery, _delivery
from .events import EventsStore

if TYPE_CHECKING:
    from . import Store


@dataclass(frozen=True, slots=True)
class Webhook:
    id: int
    workspace_id: int
    url: str
    kinds: tuple[str, ...]  # empty: every kind
    secret: str  # encrypted with the credentials box
    description: str
    enabled: bool
    disabled_reason: str | None
    created_at: datetime
    after_event_id: int
    failing_since: datetime | None


def _webhook(row: Row[Any]) -> Webhook:
    return Webhook(
        id=row.id,
        workspace_id=row.workspace_id,
        url=row.url,
        kinds=tuple(row.kinds or ()),
        secret=row.secret,
        description=row.description,
        enabled=bool(row.enabled),
        disabled_reason=row.disabled_reason,
        created_at=row.created_at,
        after_event_id=int(row.after_event_id),
        failing_since=row.failing_since,
    )


class WebhooksStore(EventsStore):
    # -- endpoints ------------------------------------------------------------------------------

    def add_webhook(
        self,
        workspace_id: int,
        url: str,
        kinds: Sequence[str],
        sealed_secret: str,
        description: str,
        now: datetime,
        *,
        enabled: bool = True,
    ) -> Webhook:
        """A new endpoint; it receives the events that happen from now on."""
        start = self.last_event_id()
        with self.tx() as c:
            wid = c.execute(
                insert(t.webhooks).values(
                    workspace_id=workspace_id,
                    url=url,
                    kinds=list(dict.fromkeys(kinds)),
                    secret=sealed_secret,
                    description=description,
                    enabled=enabled,
                    created_at=now,
                    after_event_id=int(start),
                )
            ).inserted_primary_key[0]  # type: ignore[index]
        return self.webhook(int(wid))

    def webhook(self, webhook_id: int, *, workspace_id: int | None = None) -> Webhook:
        q = select(t.webhooks).where(t.webhooks.c.id == webhook_id)
        if workspace_id is not None:
            q = q.where(t.webhooks.c.workspace_id == workspace_id)
        with self.read() as c:
            row = c.execute(q).first()
        if row is None:
            raise NotFound(f"no webhook {webhook_id} (see `mailbeacon webhook list`)")
        return _webhook(row)

    def webhooks(self, workspace_id: int | None = None) -> list[Webhook]:
        q = select(t.webhooks).order_by(t.webhooks.c.id)
        if workspace_id is not None:
            q = q.where(t.webhooks.c.workspace_id == workspace_id)
        with self.read() as c:
            return [_webhook(r) for r in c.execute(q)]

    def update_webhook(
        self,
        webhook_id: int,
        *,
        url: str | None = None,
        kinds: Sequence[str] | None = None,
        description: str | None = None,
        enabled: bool | None = None,
    ) -> Webhook:
        """Change an endpoint; enabling it again clears why it was disabled (it resumes where it stopped)."""
        values: dict[str, Any] = {}
        if url is not None:
            values["url"] = url
        if kinds is not None:
            values["kinds"] = list(dict.fromkeys(kinds))
        if description is not None:
            values["description"] = description
        if enabled is not None:
            values["enabled"] = enabled
            if enabled:
                values.update(disabled_reason=None, failing_since=None)
        if values:
            with self.tx() as c:
                c.execute(update(t.webhooks).where(t.webhooks.c.id == webhook_id).values(**values))
        return self.webhook(webhook_id)

    def remove_webhook(self, webhook_id: int) -> None:
        with self.tx() as c:
            c.execute(delete(t.webhook_deliveries).where(t.webhook_deliveries.c.webhook_id == webhook_id))
            n = c.execute(delete(t.webhooks).where(t.webhooks.c.id == webhook_id)).rowcount
        if not n:
            raise NotFound(f"no webhook {webhook_id} (see `mailbeacon webhook list`)")

    def webhook_view(self, workspace_id: int) -> WebhookView:
        """The endpoints as a principal of `workspace_id` sees them."""
        return WebhookView(cast("Store", self), workspace_id)

    # -- the delivery log -------------------------------------------------------------------------

    def deliveries(self, webhook_id: int, *, before_id: int | None = None, limit: int = 50) -> list[Delivery]:
        """An endpoint's deliveries, newest first."""
        d = t.webhook_deliveries.c
        q = select(t.webhook_deliveries).where(d.webhook_id == webhook_id).order_by(d.id.desc()).limit(limit)
        if before_id is not None:
            q = q.where(d.id < before_id)
        with self.read() as c:
            return [_delivery(r) for r in c.execute(q)]


class WebhookView:
    """A workspace's endpoints as its principals see them: another workspace's are `NotFound`."""

    def __init__(self, store: Store, workspace_id: int) -> None:
        self._store = store
        self.workspace_id = workspace_id

    def all(self) -> list[Webhook]:
        return self._store.webhooks(self.workspace_id)

    def get(self, webhook_id: int) -> Webhook:
        return self._store.webhook(webhook_id, workspace_id=self.workspace_id)

    def add(self, url: str, kinds: Sequence[EventKind], sealed_secret: str, description: str, now: datetime) -> Webhook:
        return self._store.add_webhook(
            self.workspace_id, url, [k.value for k in kinds], sealed_secret, description, now
        )

    def update(
        self,
        webhook_id: int,
        *,
        url: str | None,
        kinds: Sequence[EventKind] | None,
        description: str | None,
        enabled: bool | None,
    ) -> Webhook:
        hook = self.get(webhook_id)
        return self._store.update_webhook(
            hook.id,
            url=url,
            kinds=None if kinds is None else [k.value for k in kinds],
            description=description,
            enabled=enabled,
        )

    def remove(self, webhook_id: int) -> None:
        self._store.remove_webhook(self.get(webhook_id).id)

    def deliveries(self, webhook_id: int, *, before_id: int | None, limit: int) -> list[Delivery]:
        return self._store.deliveries(self.get(webhook_id).id, before_id=before_id, limit=limit)

    def add_test(self, webhook_id: int, msg_id: str, body: dict[str, object], now: datetime) -> Delivery:
        return self._store.add_test_delivery(self.get(webhook_id).id, msg_id, body, now)
