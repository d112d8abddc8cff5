"""The link book: a durable local copy of every tracked link, so a click lands without the database.

    <data_dir>/links.db   (SQLite, mode 0600)   (message id, link index) → original URL

R1 says a click always redirects. The database holds the links; this book holds a copy on the
node's own disk, filled

- when a message is recorded on this node (the SMTP proxy, `mailbeacon send`, `instrument()`
  with the same `data_dir`),
- when a link is resolved from the database (every link of that message at once),
- and, on every `serve` node, by mirroring the links of new messages from the database every
  few seconds (`Store.mirror_links`), so a node that did not instrument a message can resolve
  its links too once it has seen them.

Links never change once recorded, so the book is read before the database. It holds URLs only
(no addresses, no recipients), readable by the service's user alone.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path

from ..private_files import private_sqlite

log = logging.getLogger("mailbeacon.store")

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS links (message_id INTEGER NOT NULL, idx INTEGER NOT NULL, url TEXT NOT NULL,"
    " PRIMARY KEY (message_id, idx)) WITHOUT ROWID"
)


class LinkBook:
    """(message id, link index) → URL on local disk; safe to share between threads and processes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None  # opened (and the file created) on first use

    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            path = self.path
            private_sqlite(path)  # created private; SQLite gives its -wal and -shm files the same mode
            db = sqlite3.connect(path, timeout=10, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(_SCHEMA)
            self._conn = db
        return self._conn

    def get(self, message_id: int, idx: int) -> str | None:
        """The URL, or None when the book does not have it (then ask the database)."""
        try:
            with self._lock:
                row = self._db.execute(
                    "SELECT url FROM links WHERE message_id = ? AND idx = ?", (message_id, idx)
                ).fetchone()
        except (sqlite3.Error, OSError) as exc:
            log.error("cannot read the local link book %s: %s", self.path, exc)
            return None
        return None if row is None else str(row[0])

    def add(self, rows: Iterable[tuple[int, int, str]]) -> None:
        """Remember links (message id, index, URL); links already known are left as they are."""
        items = list(rows)
        if not items:
            return
        try:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._db.executemany("INSERT OR IGNORE INTO links VALUES (?, ?, ?)", items)
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
        except (sqlite3.Error, OSError) as exc:  # a copy: the database still has the links
            log.error("cannot write the local link book %s: %s", self.path, exc)

    def last_message_id(self) -> int:
        try:
            with self._lock:
                row = self._db.execute("SELECT max(message_id) FROM links").fetchone()
        except (sqlite3.Error, OSError) as exc:
            log.error("cannot read the local link book %s: %s", self.path, exc)
            return 0
        return int(row[0] or 0)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
