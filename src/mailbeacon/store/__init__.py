"""The store: every read and write of mailbeacon's data. SQL lives only in this package.

`open_store(url)` gives a `Store` on SQLite (`sqlite:///file.db`, WAL) or PostgreSQL
(`postgresql://...`); both pass the same test suite.
"""

from __future__ import annotations

from .accounts import AccountsStore
from .base import make_engine
from .counts import CountsStore
from .hits import STATE_NEW, STATE_PROVISIONAL, STATE_SETTLED, HitsStore, StoredVerdict
from .leases import LeasesStore
from .messages import MessagesStore, NewRecipient
from .migrate import upgrade
from .replies import RepliesStore


class Store(AccountsStore, MessagesStore, HitsStore, CountsStore, LeasesStore, RepliesStore):
    """All of the store's parts on one connection pool."""

    def migrate(self) -> list[str]:
        """Bring the schema up to date; returns the revisions applied."""
        return upgrade(self.engine)


def open_store(url: str, *, migrate: bool = False) -> Store:
    store = Store(make_engine(url))
    if migrate:
        store.migrate()
    return store


__all__ = [
    "STATE_NEW",
    "STATE_PROVISIONAL",
    "STATE_SETTLED",
    "NewRecipient",
    "Store",
    "StoredVerdict",
    "open_store",
]
