"""The store: every read and write of mailbeacon's data. SQL lives only in this package.

`open_store(url)` gives a `Store` on SQLite (`sqlite:///file.db`, WAL) or PostgreSQL
(`postgresql://...`); both pass the same test suite.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from ..model import Hit, Reply, Verdict
from ..stats import Counts
from .accounts import AccountsStore
from .base import make_engine
from .counts import CountsStore
from .diagnostics import DiagnosticsStore
from .hits import STATE_NEW, STATE_PROVISIONAL, STATE_SETTLED, HitsStore, StoredVerdict
from .leases import LeasesStore
from .linkbook import LinkBook
from .mailboxes import MailboxesStore
from .messages import MessagesStore, NewRecipient
from .migrate import current, upgrade
from .replies import RepliesStore


class Store(
    AccountsStore,
    MessagesStore,
    HitsStore,
    DiagnosticsStore,
    CountsStore,
    LeasesStore,
    RepliesStore,
    MailboxesStore,
):
    """All of the store's parts on one connection pool."""

    def record_verdicts(
        self,
        decided: Sequence[tuple[Hit, Verdict, datetime | None]],
        now: datetime,
        deltas: Sequence[tuple[int, int, Counts]],
    ) -> None:
        """Store verdicts and the counter deltas of the newly settled ones, atomically."""
        with self.tx() as c:
            self._save_verdicts(c, decided, now)
            self._apply_deltas(c, deltas)

    def add_replies(
        self, replies: Sequence[Reply], now: datetime, delta: Callable[[Reply], Counts | None]
    ) -> list[Reply]:
        """Store replies (duplicates skipped) and add the counter deltas of the new ones, atomically."""
        with self.tx() as c:
            new = self._insert_replies(c, replies, now)
            deltas = []
            for r in new:
                d = delta(r)
                if d is not None and r.recipient_id is not None:
                    deltas.append((r.recipient_id, r.message_id, d))
            self._apply_deltas(c, deltas)
        return new

    def revision(self) -> str | None:
        """The schema revision of the database; None for a database mailbeacon has not set up yet."""
        with self.reachable():
            return current(self.engine)

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
    "STATE_NEW",
    "STATE_PROVISIONAL",
    "STATE_SETTLED",
    "LinkBook",
    "NewRecipient",
    "Store",
    "StoredVerdict",
    "open_store",
]
