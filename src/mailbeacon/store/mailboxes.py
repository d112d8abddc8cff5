"""Watched IMAP mailboxes, their per-folder checkpoints, and the lookups the reply watcher needs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ..errors import Conflict, NotFound
from . import schema as t
from .base import StoreBase

#: mailbox states: new (never connected) | connected | error | stopped
MAILBOX_STATES = ("new", "connected", "error", "stopped")


@dataclass(frozen=True, slots=True)
class Mailbox:
    id: int
    user_id: int
    url: str  # imap(s)://user@host:port, no password
    password: str  # encrypted with the credentials box
    folders: tuple[str, ...]
    state: str
    last_error: str | None
    last_ok_at: datetime | None
    last_seen_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Checkpoint:
    uidvalidity: int
    last_uid: int


def _mailbox(row: Row[Any]) -> Mailbox:
    return Mailbox(
        id=row.id,
        user_id=row.user_id,
        url=row.url,
        password=row.password,
        folders=tuple(row.folders or ("INBOX",)),
        state=row.state,
        last_error=row.last_error,
        last_ok_at=row.last_ok_at,
        last_seen_at=row.last_seen_at,
        created_at=row.created_at,
    )


class MailboxesStore(StoreBase):
    def add_mailbox(self, user_id: int, url: str, password: str, folders: Sequence[str], now: datetime) -> Mailbox:
        """Record a mailbox to watch (`password` already encrypted)."""
        with self.tx() as c:
            exists = c.execute(
                select(t.mailboxes.c.id).where(t.mailboxes.c.user_id == user_id, t.mailboxes.c.url == url)
            ).first()
            if exists is not None:
                raise Conflict(f"mailbox {url} is already watched for this user (id {exists.id})")
            mid = c.execute(
                insert(t.mailboxes).values(
                    user_id=user_id,
                    url=url,
                    password=password,
                    folders=list(folders) or ["INBOX"],
                    state="new",
                    created_at=now,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
        return self.mailbox(int(mid))

    def mailbox(self, mailbox_id: int) -> Mailbox:
        with self.read() as c:
            row = c.execute(select(t.mailboxes).where(t.mailboxes.c.id == mailbox_id)).first()
        if row is None:
            raise NotFound(f"no mailbox {mailbox_id} (see `mailbeacon mailbox list`)")
        return _mailbox(row)

    def mailboxes(self, user_id: int | None = None) -> list[Mailbox]:
        q = select(t.mailboxes).order_by(t.mailboxes.c.id)
        if user_id is not None:
            q = q.where(t.mailboxes.c.user_id == user_id)
        with self.read() as c:
            return [_mailbox(r) for r in c.execute(q)]

    def remove_mailbox(self, mailbox_id: int) -> None:
        with self.tx() as c:
            c.execute(delete(t.mailbox_folders).where(t.mailbox_folders.c.mailbox_id == mailbox_id))
            n = c.execute(delete(t.mailboxes).where(t.mailboxes.c.id == mailbox_id)).rowcount
        if not n:
            raise NotFound(f"no mailbox {mailbox_id}")

    def set_mailbox_state(
        self,
        mailbox_id: int,
        state: str,
        *,
        error: str | None = None,
        ok_at: datetime | None = None,
        seen_at: datetime | None = None,
    ) -> None:
        """Record what the watcher sees. `error`, `ok_at` and `seen_at` are only written when given
        (the last error stays visible after the mailbox recovers)."""
        if state not in MAILBOX_STATES:
            raise ValueError(f"unknown mailbox state {state!r}")
        values: dict[str, Any] = {"state": state}
        if error is not None:
            values["last_error"] = error[:1000]
        if ok_at is not None:
            values["last_ok_at"] = ok_at
        if seen_at is not None:
            values["last_seen_at"] = seen_at
        with self.tx() as c:
            c.execute(update(t.mailboxes).where(t.mailboxes.c.id == mailbox_id).values(**values))

    # -- checkpoints ------------------------------------------------------------------------------

    def checkpoint(self, mailbox_id: int, folder: str) -> Checkpoint | None:
        q = select(t.mailbox_folders).where(
            t.mailbox_folders.c.mailbox_id == mailbox_id, t.mailbox_folders.c.folder == folder
        )
        with self.read() as c:
            row = c.execute(q).first()
        return Checkpoint(row.uidvalidity, row.last_uid) if row is not None else None

    def save_checkpoint(self, mailbox_id: int, folder: str, uidvalidity: int, last_uid: int) -> None:
        """Remember the last UID handled; within one UIDVALIDITY it never moves backwards."""
        col = t.mailbox_folders.c
        where = (col.mailbox_id == mailbox_id, col.folder == folder)
        with self.tx() as c:
            row = c.execute(select(t.mailbox_folders).where(*where).with_for_update()).first()
            if row is None:
                ins = sqlite.insert if self.dialect == "sqlite" else postgresql.insert
                c.execute(
                    ins(t.mailbox_folders)
                    .values(mailbox_id=mailbox_id, folder=folder, uidvalidity=uidvalidity, last_uid=last_uid)
                    .on_conflict_do_nothing(index_elements=["mailbox_id", "folder"])
                )
            elif row.uidvalidity != uidvalidity:  # the old numbers mean nothing any more
                c.execute(update(t.mailbox_folders).where(*where).values(uidvalidity=uidvalidity, last_uid=last_uid))
            elif last_uid > row.last_uid:
                c.execute(update(t.mailbox_folders).where(*where).values(last_uid=last_uid))

    # -- what the watcher asks about sent mail ----------------------------------------------------

    def first_sent_at(self, user_id: int) -> datetime | None:
        """When the user's first tracked email was sent (older mail cannot answer one)."""
        with self.read() as c:
            value: Any = c.execute(
                select(func.min(t.messages.c.sent_at)).where(t.messages.c.user_id == user_id)
            ).scalar()
        if value is None or isinstance(value, datetime):
            return value
        return t.UTCDateTime().process_result_value(value, self.engine.dialect)

    def sent_to_address(self, address: str, *, user_id: int | None = None, workspace_id: int | None = None) -> bool:
        """Was tracked mail sent to `address` (by this user / in this workspace)?"""
        q = (
            select(t.recipients.c.id)
            .join(t.messages, t.messages.c.id == t.recipients.c.message_id)
            .where(t.recipients.c.address == address.lower())
            .limit(1)
        )
        if user_id is not None:
            q = q.where(t.messages.c.user_id == user_id)
        if workspace_id is not None:
            q = q.where(t.messages.c.workspace_id == workspace_id)
        with self.read() as c:
            return c.execute(q).first() is not None
