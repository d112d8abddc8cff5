"""Inbound messages recognised as replies, auto-replies, bounces ... to tracked emails."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, select
from sqlalchemy.dialects import postgresql, sqlite

from ..model import Reply, ReplyKind
from . import schema as t
from .base import StoreBase


def _reply(row: Row[Any]) -> Reply:
    return Reply(
        id=row.id,
        message_id=row.message_id,
        recipient_id=row.recipient_id,
        rfc_message_id=row.rfc_message_id,
        kind=ReplyKind(row.kind),
        from_address=row.from_address,
        at=row.at,
        other_address=row.other_address,
        detail=dict(row.detail or {}),
        source=row.source,
        mailbox_id=row.mailbox_id,
    )


class RepliesStore(StoreBase):
    def _insert_replies(self, c: Connection, replies: Sequence[Reply], now: datetime) -> list[Reply]:
        """Store replies; those already stored (same message and inbound Message-ID) are skipped.

        Returns the replies that were new, with their ids.
        """
        new: list[Reply] = []
        ins = sqlite.insert(t.replies) if self.dialect == "sqlite" else postgresql.insert(t.replies)
        for r in replies:
            rid = c.execute(
                ins.values(
                    message_id=r.message_id,
                    recipient_id=r.recipient_id,
                    rfc_message_id=r.rfc_message_id,
                    kind=r.kind.value,
                    from_address=r.from_address,
                    at=r.at,
                    other_address=r.other_address,
                    detail=dict(r.detail),
                    source=r.source,
                    mailbox_id=r.mailbox_id,
                    created_at=now,
                )
                .on_conflict_do_nothing(index_elements=["message_id", "rfc_message_id"])
                .returning(t.replies.c.id)
            ).scalar()
            if rid is not None:
                new.append(_reply(c.execute(select(t.replies).where(t.replies.c.id == rid)).one()))
        return new

    def replies(self, *, message_id: int | None = None, recipient_id: int | None = None) -> list[Reply]:
        with self.read() as c:
            return self._replies(c, message_id=message_id, recipient_id=recipient_id)

    def _replies(self, c: Connection, *, message_id: int | None = None, recipient_id: int | None = None) -> list[Reply]:
        q = select(t.replies).order_by(t.replies.c.at, t.replies.c.id)
        if message_id is not None:
            q = q.where(t.replies.c.message_id == message_id)
        if recipient_id is not None:
            q = q.where(t.replies.c.recipient_id == recipient_id)
        return [_reply(r) for r in c.execute(q)]
