"""The store: every read and write of mailbeacon's data. SQL lives only in this package.

`open_store(url)` gives a `Store` on SQLite (`sqlite:///file.db`, WAL) or PostgreSQL
(`postgresql://...`); both pass the same test suite.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, select

from ..model import Hit, Reply, Verdict
from ..stats import Counts
from . import schema as t
from .accounts import AccountsStore
from .base import make_engine
from .counts import CountsStore
from .deliveries import DeliveriesStore
from .diagnostics import DiagnosticsStore
from .events import EventsStore
from .hits import STATE_FAILED, STATE_NEW, STATE_PROVISIONAL, STATE_SETTLED, HitsStore, StoredVerdict
from .leases import LeasesStore
from .linkbook import LinkBook
from .mailboxes import MailboxesStore
from .messages import MessagesStore, NewRecipient
from .migrate import current, upgrade
from .providers import ProviderHook, ProvidersStore
from .replies import RepliesStore
from .scoped import DayStats, MessageFilter, MessagePage, OwnPixel, WorkspaceView
from .webhooks import WebhooksStore

#: how a recipient's counters are computed from its stored hits and replies (see `rebuild_counters`)
Recount = Callable[[Sequence[StoredVerdict], Sequence[Reply]], Counts]


class Store(
    AccountsStore,
    MessagesStore,
    HitsStore,
    DiagnosticsStore,
    CountsStore,
    LeasesStore,
    RepliesStore,
    MailboxesStore,
    ProvidersStore,
    WebhooksStore,
    DeliveriesStore,
    EventsStore,
):
    """All of the store's parts on one connection pool.

    What changes a recipient's counters from several sides at once (the pipeline settling hits,
    replies coming in, a rebuild) does it in one transaction each; a rebuild and recording a
    reply also hold the recipient's lock, so neither overwrites the other.
    """

    def _lock_recipients(self, c: Connection, recipient_ids: Iterable[int]) -> None:
        """Hold the recipients' rows until the transaction ends (PostgreSQL `FOR UPDATE`, in id order;
        on SQLite a write transaction already holds the whole database)."""
        ids = sorted(set(recipient_ids))
        if ids and self.dialect != "sqlite":
            c.execute(
                select(t.recipients.c.id)
                .where(t.recipients.c.id.in_(ids))
                .order_by(t.recipients.c.id)
                .with_for_update()
            )

    def record_verdicts(
        self,
        decided: Sequence[tuple[Hit, Verdict, datetime | None]],
        now: datetime,
        deltas: Sequence[tuple[int, int, Counts]],
        *,
        tell: bool = True,
    ) -> None:
        """Store verdicts, the counter deltas of the newly settled ones and the events they make
        (a person's open or click, a correction, an inferred open; not with `tell=False`), atomically."""
        with self.tx() as c:
            self._save_verdicts(c, decided, now)
            self._apply_deltas(c, deltas)
            told = self._tell_verdicts(c, decided, now) if tell else []
        if told:
            self.bell.ring()

    def add_replies(
        self, replies: Sequence[Reply], now: datetime, delta: Callable[[Reply], Counts | None]
    ) -> list[Reply]:
        """Store replies (duplicates skipped), add the counter deltas of the new ones and write the
        events they make (a counted reply, an automatic answer, a bounce, an inferred open), atomically."""
        with self.tx() as c:
            self._lock_recipients(c, (r.recipient_id for r in replies if r.recipient_id is not None))
            new = self._insert_replies(c, replies, now)
            deltas = []
            for r in new:
                d = delta(r)
                if d is not None and r.recipient_id is not None:
                    deltas.append((r.recipient_id, r.message_id, d))
            self._apply_deltas(c, deltas)
            told = self._tell_replies(c, new, now)
        if told:
            self.bell.ring()
        return new

    def scoped(self, workspace_id: int, user_id: int, *, whole_workspace: bool) -> WorkspaceView:
        """The store as one principal sees it (see scoped.py)."""
        return WorkspaceView(self, workspace_id, user_id, whole_workspace=whole_workspace)

    def revision(self) -> str | None:
        """The schema revision of the database; None for a database mailbeacon has not set up yet."""
        with self.reachable():
            return current(self.engine)

    def rebuild_counters(self, recipient_id: int, message_id: int, recount: Recount) -> Counts:
        """Replace a recipient's counters with `recount(its hits, its replies)`, in one transaction
        holding the recipient's lock: a reply recorded meanwhile waits and is counted after."""
        with self.tx() as c:
            self._lock_recipients(c, [recipient_id])
            counts = recount(
                self._hits_with_verdicts(c, recipient_id=recipient_id), self._replies(c, recipient_id=recipient_id)
            )
            self._replace_counters(c, recipient_id, message_id, counts)
        return counts

    def migrate(self) -> list[str]:
        """Bring the schema up to date; returns the revisions applied."""
        with self.reachable():
            return upgrade(self.engine)


def open_store(url: str, *, migrate: bool = False, link_book: Path | None = None) -> Store:
    """The store at `url`; `link_book`: the file of the local link copy (see linkbook.py)."""
    store = Store(make_engine(url), LinkBook(link_book) if link_book is not None else None)
    if migrate:
        store.migrate()
    return store


__all__ = [
    "STATE_FAILED",
    "STATE_NEW",
    "STATE_PROVISIONAL",
    "STATE_SETTLED",
    "DayStats",
    "LinkBook",
    "MessageFilter",
    "MessagePage",
    "NewRecipient",
    "OwnPixel",
    "ProviderHook",
    "Recount",
    "Store",
    "StoredVerdict",
    "WorkspaceView",
    "open_store",
]
