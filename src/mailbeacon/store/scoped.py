"""The store as one principal sees it: bound to a workspace, and for a member to their own mail.

`Store.scoped(workspace_id, user_id, whole_workspace)` gives a `WorkspaceView`. Every query it
makes carries the workspace (messages by `messages.workspace_id`, users, keys and devices by
`users.workspace_id`), and, unless `whole_workspace`, the user. Something of another workspace
is answered `NotFound`, exactly like something that does not exist. The REST API's routes get
only this view, never the `Store`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, and_, func, or_, select, update

from ..diagnose.facts import Facts
from ..errors import NotFound
from ..events import About
from ..model import ApiKey, Device, Event, Message, Recipient, Reply, User, Workspace
from ..stats import INT_FIELDS, Counts
from . import schema as t
from .activity import ActivityQueries, _row_counts
from .hits import StoredVerdict
from .mailboxes import Mailbox
from .messages import _message, _recipient

if TYPE_CHECKING:
    from . import Store


@dataclass(frozen=True, slots=True)
class MessageFilter:
    """What `GET /api/v1/messages` and the sent list can ask for; None: any.

    `q` finds messages whose subject or one of whose recipients' addresses contains it (any case);
    `machines` (True): something machine-like fetched or clicked it and no person has been seen.
    """

    q: str | None = None
    sender: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    opened: bool | None = None
    clicked: bool | None = None
    replied: bool | None = None
    bounced: bool | None = None
    machines: bool | None = None


@dataclass(frozen=True, slots=True)
class MessagePage:
    messages: list[Message]
    recipients: dict[int, list[Recipient]]
    counts: dict[int, Counts]
    more: bool


@dataclass(frozen=True, slots=True)
class OwnPixel:
    """A recipient of one of the caller's own messages: what their pixel token is made of."""

    message_id: int
    recipient_id: int
    sent_at: datetime


@dataclass(frozen=True, slots=True)
class DayStats:
    day: str
    messages: int
    counts: Counts


class WorkspaceView(ActivityQueries):
    def __init__(self, store: Store, workspace_id: int, user_id: int, *, whole_workspace: bool) -> None:
        self._store = store
        self.workspace_id = workspace_id
        self.user_id = user_id
        self.whole_workspace = whole_workspace

    # -- the filters every query carries ------------------------------------------------------

    def _mine(self, q: Select[Any]) -> Select[Any]:
        q = q.where(t.messages.c.workspace_id == self.workspace_id)
        if not self.whole_workspace:
            q = q.where(t.messages.c.user_id == self.user_id)
        return q

    def _members(self, q: Select[Any]) -> Select[Any]:
        return q.where(t.users.c.workspace_id == self.workspace_id)

    # -- messages -----------------------------------------------------------------------------

    def message_page(self, f: MessageFilter, *, before_id: int | None, limit: int) -> MessagePage:
        """A page of messages (newest first) with their recipients and counters: three queries."""
        c = t.counters.c
        agg = (
            select(
                c.message_id,
                func.sum(c.opens_human + c.clicks_human + c.replies).label("opened"),
                func.sum(c.clicks_human + c.clicks_self).label("clicked"),
                func.sum(c.replies).label("replied"),
                func.sum(c.bounces).label("bounced"),
                func.sum(c.hits_machine_open + c.hits_scanner + c.hits_preview + c.hits_unknown).label("machines"),
            )
            .where(c.message_id.in_(self._mine(select(t.messages.c.id))))
            .group_by(c.message_id)
            .subquery()
        )
        q = self._mine(select(t.messages).select_from(t.messages.outerjoin(agg, agg.c.message_id == t.messages.c.id)))
        if f.q and (text := f.q.replace("\x00", "").strip().lower()):
            addressed = select(t.recipients.c.message_id).where(t.recipients.c.address.contains(text, autoescape=True))
            q = q.where(
                or_(func.lower(t.messages.c.subject).contains(text, autoescape=True), t.messages.c.id.in_(addressed))
            )
        if f.sender:
            q = q.where(t.messages.c.sender == f.sender.strip().lower())
        if f.since is not None:
            q = q.where(t.messages.c.sent_at >= f.since)
        if f.until is not None:
            q = q.where(t.messages.c.sent_at < f.until)
        for wanted, col in (
            (f.opened, agg.c.opened),
            (f.clicked, agg.c.clicked),
            (f.replied, agg.c.replied),
            (f.bounced, agg.c.bounced),
        ):
            if wanted is True:
                q = q.where(col > 0)
            elif wanted is False:
                q = q.where(or_(col.is_(None), col == 0))
        if f.machines is not None:
            only = and_(agg.c.machines > 0, agg.c.opened == 0, agg.c.clicked == 0)
            q = q.where(only if f.machines else or_(agg.c.machines.is_(None), ~only))
        if before_id is not None:
            q = q.where(t.messages.c.id < before_id)
        q = q.order_by(t.messages.c.id.desc()).limit(limit + 1)
        with self._store.read() as conn:
            rows = conn.execute(q).all()
            msgs = [_message(r) for r in rows[:limit]]
            ids = [m.id for m in msgs]
            rcpts: dict[int, list[Recipient]] = {i: [] for i in ids}
            counts: dict[int, Counts] = {}
            if ids:
                for r in conn.execute(
                    select(t.recipients).where(t.recipients.c.message_id.in_(ids)).order_by(t.recipients.c.id)
                ):
                    rcpts[r.message_id].append(_recipient(r))
                    counts[r.id] = Counts()
                for r in conn.execute(select(t.counters).where(t.counters.c.message_id.in_(ids))):
                    counts[r.recipient_id] = _row_counts(r)
        return MessagePage(msgs, rcpts, counts, more=len(rows) > limit)

    def own_pixels(self, *, sent_after: datetime, after_id: int, limit: int) -> list[OwnPixel]:
        """The recipients of the caller's **own** messages (an admin's too: a colleague's mail is
        not theirs) sent after `sent_after`, of messages with ids above `after_id` whose opens are
        tracked: newest message first, at most `limit`."""
        m, r = t.messages.c, t.recipients.c
        q = (
            select(m.id, m.sent_at, m.tracking, r.id.label("recipient_id"))
            .select_from(t.messages.join(t.recipients, r.message_id == m.id))
            .where(m.workspace_id == self.workspace_id, m.user_id == self.user_id)
            .where(m.sent_at > sent_after, m.id > after_id)
            .order_by(m.id.desc(), r.id)
            .limit(limit)
        )
        with self._store.read() as conn:
            rows = conn.execute(q).all()
        return [OwnPixel(row.id, row.recipient_id, row.sent_at) for row in rows if (row.tracking or {}).get("opens")]

    def unanswered(self, *, limit: int) -> list[tuple[Message, Recipient, Counts]]:
        """Recipients of the visible messages who have not replied (nor bounced) but whose email
        something opened or clicked, newest message first, at most `limit`: three queries.
        The follow-up list (follow_up.py) chooses among them."""
        c = t.counters.c
        touched = c.hits_human + c.hits_machine_open + c.hits_scanner + c.hits_preview + c.hits_unknown
        q = self._mine(
            select(t.counters).select_from(t.counters.join(t.messages, t.messages.c.id == c.message_id))
        ).where(c.replies == 0, c.bounces == 0, or_(touched > 0, c.opens_human + c.clicks_human > 0))
        q = q.order_by(c.message_id.desc(), c.recipient_id).limit(limit)
        with self._store.read() as conn:
            counted = [(r.message_id, r.recipient_id, _row_counts(r)) for r in conn.execute(q)]
            mids = sorted({m for m, _, _ in counted})
            rids = [r for _, r, _ in counted]
            msgs = {r.id: _message(r) for r in conn.execute(select(t.messages).where(t.messages.c.id.in_(mids)))}
            rcpts = {r.id: _recipient(r) for r in conn.execute(select(t.recipients).where(t.recipients.c.id.in_(rids)))}
        return [(msgs[m], rcpts[r], cnt) for m, r, cnt in counted]

    def message(self, message_id: int) -> Message:
        with self._store.read() as conn:
            row = conn.execute(self._mine(select(t.messages).where(t.messages.c.id == message_id))).first()
        if row is None:
            raise NotFound(f"no tracked message {message_id}")
        return _message(row)

    def recipient(self, message_id: int, recipient_id: int) -> tuple[Message, Recipient]:
        msg = self.message(message_id)
        with self._store.read() as conn:
            row = conn.execute(
                select(t.recipients).where(t.recipients.c.id == recipient_id, t.recipients.c.message_id == msg.id)
            ).first()
        if row is None:
            raise NotFound(f"message {message_id} has no recipient {recipient_id}")
        return msg, _recipient(row)

    def recipient_by_address(self, message_id: int, address: str) -> tuple[Message, Recipient]:
        msg = self.message(message_id)
        with self._store.read() as conn:
            row = conn.execute(
                select(t.recipients).where(
                    t.recipients.c.address == address.strip().lower(), t.recipients.c.message_id == msg.id
                )
            ).first()
        if row is None:
            raise NotFound(f"message {message_id} has no recipient {address[:320]}")
        return msg, _recipient(row)

    def timeline(
        self, message_id: int, recipient_id: int
    ) -> tuple[Recipient, Counts, list[StoredVerdict], list[Reply]]:
        """One recipient's counters, hits with verdicts, and the replies, auto-replies and bounces."""
        _, rcpt = self.recipient(message_id, recipient_id)
        counts = self._store.counts([rcpt.id])[rcpt.id]
        hits = self._store.hits_with_verdicts(recipient_id=rcpt.id, message_id=rcpt.message_id, limit=100_000)
        return rcpt, counts, hits, self._store.replies(message_id=rcpt.message_id, recipient_id=rcpt.id)

    def hits(self, message_id: int) -> tuple[list[Recipient], list[StoredVerdict]]:
        """Every hit of a message with its verdict, and the message's recipients."""
        msg = self.message(message_id)
        return self._store.recipients(msg.id), self._store.hits_with_verdicts(message_id=msg.id, limit=100_000)

    def why_facts(self, message_id: int, address: str, *, public_url: str, settle_window: float) -> Facts:
        """What the troubleshooting answer for one recipient is made of (diagnose/)."""
        msg = self.message(message_id)
        recipient = self._store.recipient_of(msg.id, address)
        return self._store.why_facts(msg, recipient, public_url=public_url, settle_window=settle_window)

    def recipients(self, message_id: int) -> list[Recipient]:
        return self._store.recipients(self.message(message_id).id)

    def counts(self, message_id: int) -> tuple[list[Recipient], dict[int, Counts], dict[int, dict[str, int]]]:
        rcpts = self.recipients(message_id)
        ids = [r.id for r in rcpts]
        return rcpts, self._store.counts(ids), self._store.provisional_counts(ids)

    def link_urls(self, message_id: int) -> list[str]:
        return self._store.link_urls(self.message(message_id).id)

    def replies(self, message_id: int) -> list[Reply]:
        return self._store.replies(message_id=self.message(message_id).id)

    def daily(self, *, since: datetime | None, until: datetime | None, user_id: int | None) -> list[DayStats]:
        """Counters summed per day the messages were sent (UTC), over the visible messages."""
        sent = t.messages.c.sent_at
        day: Any = (
            func.substr(sent, 1, 10)
            if self._store.dialect == "sqlite"
            else func.to_char(func.timezone("UTC", sent), "YYYY-MM-DD")
        )
        cols = [func.coalesce(func.sum(getattr(t.counters.c, n)), 0).label(n) for n in INT_FIELDS]
        q = self._mine(
            select(day.label("day"), func.count(func.distinct(t.messages.c.id)).label("n"), *cols).select_from(
                t.messages.outerjoin(t.counters, t.counters.c.message_id == t.messages.c.id)
            )
        )
        if since is not None:
            q = q.where(t.messages.c.sent_at >= since)
        if until is not None:
            q = q.where(t.messages.c.sent_at < until)
        if user_id is not None:
            q = q.where(t.messages.c.user_id == user_id)
        q = q.group_by(day).order_by(day)
        with self._store.read() as conn:
            return [DayStats(r.day, int(r.n), _int_counts(r._mapping)) for r in conn.execute(q)]

    # -- the workspace and its people -----------------------------------------------------------

    # -- events -------------------------------------------------------------------------------

    def events(self, after: int, *, limit: int, workspace: bool = False) -> list[tuple[Event, About]]:
        """Events with an id above `after`, oldest first, with what each is about: of the user's own
        mail; of the whole workspace's with `workspace` (an admin's view only)."""
        mine = None if workspace and self.whole_workspace else self.user_id
        events = self._store.events_after(self.workspace_id, after, user_id=mine, limit=limit)
        abouts = self._store.event_abouts(events)
        return [(e, abouts[e.id]) for e in events if e.id is not None]

    def newest_event_id(self) -> int:
        """Where a reader who asks for nothing older starts (ids are shared by every workspace)."""
        return self._store.last_event_id()

    def workspace(self) -> Workspace:
        return self._store.workspace(self.workspace_id)

    def update_workspace(self, *, domains: Sequence[str] | None, settings: Mapping[str, Any] | None) -> Workspace:
        return self._store.update_workspace(self.workspace_id, domains=domains, settings=settings)

    def members(self) -> list[User]:
        return self._store.users(self.workspace_id)

    def member(self, user_id: int) -> User:
        with self._store.read() as conn:
            found = conn.execute(self._members(select(t.users.c.id).where(t.users.c.id == user_id))).first()
        if found is None:
            raise NotFound(f"no member {user_id} in this workspace")
        return self._store.user(user_id)

    def update_member(self, user_id: int, *, settings: Mapping[str, Any] | None, role: str | None) -> User:
        self._store.update_user(self.member(user_id).id, settings=settings, role=role)
        return self._store.user(user_id)

    # -- API keys and devices of a member -------------------------------------------------------

    def api_keys(self, user_id: int) -> list[ApiKey]:
        return self._store.api_tokens(self.member(user_id).id)

    def add_api_key(self, user_id: int, token: str, name: str, now: datetime) -> ApiKey:
        return self._store.add_api_token(self.member(user_id).id, token, name, now)

    def revoke_api_key(self, user_id: int, key_id: int) -> None:
        self._store.revoke_api_token(self.member(user_id).id, key_id)

    def devices(self, user_id: int) -> list[Device]:
        return self._store.devices(self.member(user_id).id)

    def add_device(self, user_id: int, kind: str, name: str, now: datetime) -> Device:
        return self._store.add_device(self.member(user_id).id, kind, name, now)

    def revoke_device(self, user_id: int, public_id: str, now: datetime) -> None:
        q = (
            update(t.devices)
            .where(
                and_(
                    t.devices.c.public_id == public_id,
                    t.devices.c.user_id == self.member(user_id).id,
                    t.devices.c.revoked_at.is_(None),
                )
            )
            .values(revoked_at=now)
        )
        with self._store.tx() as conn:
            n = conn.execute(q).rowcount
        if not n:
            raise NotFound(f"no paired device '{public_id[:40]}'")

    def add_pairing_code(self, user_id: int, code: str, kind: str, name: str, now: datetime, until: datetime) -> None:
        self._store.add_pairing_code(self.member(user_id).id, code, kind, name, now, until)

    # -- mailboxes ----------------------------------------------------------------------------

    def _boxes(self) -> Select[Any]:
        q = select(t.mailboxes.c.id).join(t.users, t.users.c.id == t.mailboxes.c.user_id)
        q = self._members(q)
        if not self.whole_workspace:
            q = q.where(t.mailboxes.c.user_id == self.user_id)
        return q

    def mailboxes(self) -> list[Mailbox]:
        """The workspace's mailboxes (a member: their own)."""
        with self._store.read() as conn:
            ids = list(conn.execute(self._boxes().order_by(t.mailboxes.c.id)).scalars())
        return [self._store.mailbox(i) for i in ids]

    def mailbox(self, mailbox_id: int) -> Mailbox:
        with self._store.read() as conn:
            found = conn.execute(self._boxes().where(t.mailboxes.c.id == mailbox_id)).first()
        if found is None:
            raise NotFound(f"no mailbox {mailbox_id}")
        return self._store.mailbox(mailbox_id)

    def add_mailbox(
        self, user_id: int, url: str, sealed_password: str, folders: Sequence[str], now: datetime
    ) -> Mailbox:
        return self._store.add_mailbox(self.member(user_id).id, url, sealed_password, folders, now)

    def remove_mailbox(self, mailbox_id: int) -> None:
        self._store.remove_mailbox(self.mailbox(mailbox_id).id)


def _int_counts(row: Any) -> Counts:
    values: dict[str, Any] = {n: int(row[n]) for n in INT_FIELDS}
    return Counts(**values)
