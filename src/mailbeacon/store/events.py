"""The outbox: events written in the transaction that made them true, read from a cursor.

Writers call `_insert_events` inside their own transaction (the one that stores the verdict and
the counter delta, or the reply); an event whose `key` is stored already is skipped, so a retried
transaction never tells anything twice. Readers (webhooks, the live stream, notifications) page
through `events_after` by `id`, which only grows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, func, select
from sqlalchemy.dialects import postgresql, sqlite

from ..model import Event, EventKind
from . import schema as t
from .base import StoreBase


def _event(row: Row[Any]) -> Event:
    return Event(
        id=row.id,
        kind=EventKind(row.kind),
        workspace_id=row.workspace_id,
        user_id=row.user_id,
        message_id=row.message_id,
        recipient_id=row.recipient_id,
        at=row.at,
        key=row.key,
        data=dict(row.data or {}),
        created_at=row.created_at,
    )


class EventsStore(StoreBase):
    def _insert_events(self, c: Connection, events: Sequence[Event], now: datetime) -> list[Event]:
        """Add events to the outbox within the caller's transaction; returns the new ones, with ids."""
        ins = sqlite.insert(t.events) if self.dialect == "sqlite" else postgresql.insert(t.events)
        new: list[Event] = []
        for e in events:
            eid = c.execute(
                ins.values(
                    key=e.key,
                    kind=e.kind.value,
                    workspace_id=e.workspace_id,
                    user_id=e.user_id,
                    message_id=e.message_id,
                    recipient_id=e.recipient_id,
                    at=e.at,
                    data=dict(e.data),
                    created_at=now,
                )
                .on_conflict_do_nothing(index_elements=["key"])
                .returning(t.events.c.id)
            ).scalar()
            if eid is not None:
                new.append(_event(c.execute(select(t.events).where(t.events.c.id == eid)).one()))
        return new

    def events_after(
        self, workspace_id: int, after: int = 0, *, user_id: int | None = None, limit: int = 100
    ) -> list[Event]:
        """The workspace's events (only `user_id`'s when given) with an id above `after`, oldest first."""
        q = (
            select(t.events)
            .where(t.events.c.workspace_id == workspace_id, t.events.c.id > after)
            .order_by(t.events.c.id)
            .limit(limit)
        )
        if user_id is not None:
            q = q.where(t.events.c.user_id == user_id)
        with self.read() as c:
            return [_event(r) for r in c.execute(q)]

    def last_event_id(self) -> int:
        """The newest event's id over every workspace (0 when there is none): where a new reader starts."""
        with self.read() as c:
            return int(c.execute(select(func.coalesce(func.max(t.events.c.id), 0))).scalar_one())
