"""Tracked messages, their recipients and links."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, insert, or_, select, update

from ..errors import NotFound
from ..model import Message, MessageInfo, Recipient, RecipientField, Relation
from . import schema as t
from .base import StoreBase


@dataclass(frozen=True, slots=True)
class NewRecipient:
    address: str
    field: RecipientField
    relation: Relation


#: later submissions that still say "the sender's network" for a message
SENDER_NETWORK_SPAN = timedelta(days=30)


def _message(row: Row[Any]) -> Message:
    return Message(
        id=row.id,
        workspace_id=row.workspace_id,
        user_id=row.user_id,
        rfc_message_id=row.rfc_message_id,
        sender=row.sender,
        subject=row.subject,
        sent_at=row.sent_at,
        links=row.links,
        decoy_link=row.decoy_link,
        tracking=dict(row.tracking or {}),
        outcome=dict(row.outcome or {}),
        source=row.source,
    )


def _recipient(row: Row[Any]) -> Recipient:
    return Recipient(
        id=row.id,
        message_id=row.message_id,
        address=row.address,
        field=RecipientField(row.field),
        relation=Relation(row.relation),
    )


class MessagesStore(StoreBase):
    def create_message(
        self,
        *,
        workspace_id: int,
        user_id: int,
        rfc_message_id: str,
        sender: str,
        subject: str,
        sent_at: datetime,
        links: Sequence[str],
        decoy_link: int | None,
        tracking: Mapping[str, Any],
        outcome: Mapping[str, Any],
        source: str,
        recipients: Sequence[NewRecipient],
        submitted_from: str | None = None,
    ) -> tuple[Message, list[Recipient]]:
        """Record a message with its links and recipients, in one transaction."""
        with self.tx() as c:
            mid = int(
                c.execute(
                    insert(t.messages).values(
                        workspace_id=workspace_id,
                        user_id=user_id,
                        rfc_message_id=rfc_message_id,
                        sender=sender,
                        subject=subject[:2000],
                        sent_at=sent_at,
                        links=len(links),
                        decoy_link=decoy_link,
                        tracking=dict(tracking),
                        outcome=dict(outcome),
                        source=source,
                        submitted_from=submitted_from,
                    )
                ).inserted_primary_key[0]  # type: ignore[index]
            )
            if links:
                c.execute(insert(t.links), [{"message_id": mid, "idx": i, "url": u} for i, u in enumerate(links)])
            out: list[Recipient] = []
            for r in recipients:
                rid = int(
                    c.execute(
                        insert(t.recipients).values(
                            message_id=mid, address=r.address, field=r.field.value, relation=r.relation.value
                        )
                    ).inserted_primary_key[0]  # type: ignore[index]
                )
                out.append(Recipient(id=rid, message_id=mid, address=r.address, field=r.field, relation=r.relation))
        if self.link_book is not None:
            self.link_book.add((mid, i, u) for i, u in enumerate(links))
        return self.message(mid), out

    def update_message_outcome(self, message_id: int, outcome: Mapping[str, Any]) -> None:
        with self.tx() as c:
            c.execute(update(t.messages).where(t.messages.c.id == message_id).values(outcome=dict(outcome)))

    def message(self, message_id: int) -> Message:
        with self.read() as c:
            row = c.execute(select(t.messages).where(t.messages.c.id == message_id)).first()
        if row is None:
            raise NotFound(f"no tracked message {message_id}")
        return _message(row)

    def messages(
        self,
        *,
        workspace_id: int | None = None,
        user_id: int | None = None,
        rfc_message_id: str | None = None,
        limit: int = 100,
    ) -> list[Message]:
        q = select(t.messages).order_by(t.messages.c.id.desc()).limit(limit)
        if workspace_id is not None:
            q = q.where(t.messages.c.workspace_id == workspace_id)
        if user_id is not None:
            q = q.where(t.messages.c.user_id == user_id)
        if rfc_message_id is not None:
            q = q.where(t.messages.c.rfc_message_id == rfc_message_id)
        with self.read() as c:
            return [_message(r) for r in c.execute(q)]

    def messages_by_rfc_ids(self, rfc_ids: Iterable[str]) -> list[Message]:
        ids = list(dict.fromkeys(rfc_ids))
        if not ids:
            return []
        with self.read() as c:
            return [_message(r) for r in c.execute(select(t.messages).where(t.messages.c.rfc_message_id.in_(ids)))]

    def recipients(self, message_id: int) -> list[Recipient]:
        q = select(t.recipients).where(t.recipients.c.message_id == message_id).order_by(t.recipients.c.id)
        with self.read() as c:
            return [_recipient(r) for r in c.execute(q)]

    def recipient(self, recipient_id: int) -> Recipient:
        with self.read() as c:
            row = c.execute(select(t.recipients).where(t.recipients.c.id == recipient_id)).first()
        if row is None:
            raise NotFound(f"no recipient {recipient_id}")
        return _recipient(row)

    def link_urls(self, message_id: int) -> list[str]:
        q = select(t.links.c.url).where(t.links.c.message_id == message_id).order_by(t.links.c.idx)
        with self.read() as c:
            return list(c.execute(q).scalars())

    def link_url(self, message_id: int, idx: int) -> str | None:
        """A link's original URL (None if the message has no such link): the local link book
        first, else the database (then every link of the message goes into the book)."""
        book = self.link_book
        if book is None:
            q = select(t.links.c.url).where(t.links.c.message_id == message_id, t.links.c.idx == idx)
            with self.read() as c:
                return c.execute(q).scalar_one_or_none()
        url = book.get(message_id, idx)
        if url is not None:
            return url
        urls = self.link_urls(message_id)
        book.add((message_id, i, u) for i, u in enumerate(urls))
        return urls[idx] if 0 <= idx < len(urls) else None

    def mirror_links(self, *, overlap: int = 200, page: int = 5000) -> int:
        """Copy the links of messages recorded since the last call into the local link book.

        Message ids are handed out before their transactions commit, so the last `overlap`
        messages are read again (copying is idempotent). Returns the links read.
        """
        book = self.link_book
        if book is None:
            return 0
        col = t.links.c
        key = (max(book.last_message_id() - overlap, 0), 1 << 30)
        total = 0
        while True:
            q = (
                select(col.message_id, col.idx, col.url)
                .where(or_(col.message_id > key[0], and_(col.message_id == key[0], col.idx > key[1])))
                .order_by(col.message_id, col.idx)
                .limit(page)
            )
            with self.read() as c:
                rows = [(int(r.message_id), int(r.idx), str(r.url)) for r in c.execute(q)]
            book.add(rows)
            total += len(rows)
            if len(rows) < page:
                return total
            key = rows[-1][:2]

    def message_info(self, message_id: int) -> MessageInfo:
        """What classification needs about a message: sender identity, devices, workspace."""
        with self.read() as c:
            m = c.execute(select(t.messages).where(t.messages.c.id == message_id)).first()
            if m is None:
                raise NotFound(f"no tracked message {message_id}")
            ws = c.execute(select(t.workspaces.c.domains).where(t.workspaces.c.id == m.workspace_id)).scalar()
            members = frozenset(
                c.execute(
                    select(t.user_addresses.c.address)
                    .join(t.users, t.users.c.id == t.user_addresses.c.user_id)
                    .where(t.users.c.workspace_id == m.workspace_id)
                ).scalars()
            )
            sender_addrs = frozenset(
                c.execute(select(t.user_addresses.c.address).where(t.user_addresses.c.user_id == m.user_id)).scalars()
            )
            # the addresses this sender submitted this message and later ones from (SMTP proxy)
            networks = frozenset(
                c.execute(
                    select(t.messages.c.submitted_from)
                    .where(
                        t.messages.c.user_id == m.user_id,
                        t.messages.c.submitted_from.is_not(None),
                        t.messages.c.sent_at >= m.sent_at,
                        t.messages.c.sent_at <= m.sent_at + SENDER_NETWORK_SPAN,
                    )
                    .order_by(t.messages.c.sent_at)
                    .limit(200)
                ).scalars()
            )
            devices = frozenset(
                c.execute(
                    select(t.devices.c.public_id).where(
                        t.devices.c.user_id == m.user_id, t.devices.c.revoked_at.is_(None)
                    )
                ).scalars()
            )
        return MessageInfo(
            id=m.id,
            workspace_id=m.workspace_id,
            sender=m.sender,
            sent_at=m.sent_at,
            links=m.links,
            decoy_link=m.decoy_link,
            sender_devices=devices,
            sender_networks=networks,
            sender_addresses=sender_addrs,
            workspace_domains=frozenset(ws or ()),
            workspace_members=members,
            rfc_message_id=m.rfc_message_id,
            subject=m.subject,
        )
