"""The database connection shared by the store's parts, and error translation.

Only `store/` imports SQLAlchemy. Database errors become `StoreUnavailable` (cannot reach or
use the database: retry later) or `Conflict` (a uniqueness rule was broken) here, once.

**SQLite has one write path per process.** SQLite lets one transaction write at a time; left to
itself, every writer (the intake's writer thread, the pipeline, the API, the mailbox watchers,
the SMTP proxy) would wait on the others through `busy_timeout`, which polls, is unfair, and
ends in "database is locked" under load. Instead every `tx()` of the process goes through one
lock, one transaction at a time, like datasette's single write thread: write transactions
never contend inside the process, and `busy_timeout` only ever waits for *another* process
(a CLI command). Write transactions start with `BEGIN IMMEDIATE`, so a transaction that reads
first never fails halfway when it turns to write. Reads run on their own pooled connections
(WAL: readers never wait for the writer). PostgreSQL keeps its normal pool and row locks.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from ..config import mask
from ..errors import ConfigError, Conflict, StoreUnavailable
from ..private_files import make_private, private_sqlite
from .linkbook import LinkBook


def normalise_url(url: str) -> str:
    """Accept `postgresql://` and `postgres://` and use psycopg 3 for them."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


#: how long a SQLite write waits for another process's transaction (never for this process's)
BUSY_TIMEOUT_MS = 10_000
_WRITE = "mailbeacon_write"


def _sqlite_pragmas(busy_ms: int) -> Any:
    def connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # transactions are begun by _sqlite_begin, below
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
        cur.close()

    return connect


def _sqlite_begin(conn: Connection) -> None:
    """BEGIN IMMEDIATE for write transactions (takes the write lock first), BEGIN for reads."""
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN")


def _sqlite_file(database: str | None) -> Path | None:
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)  # as SQLite opens it


def make_engine(url: str, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS, **kwargs: Any) -> Engine:
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = _sqlite_file(parsed.database)
        if path is not None:
            try:
                private_sqlite(path)  # created 0600 (its folder 0700): SQLite gives -wal and -shm the same mode
            except OSError as exc:
                raise ConfigError(f"cannot create the database {path}: {exc.strerror}") from None
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000}, **kwargs
        )
        event.listen(engine, "connect", _sqlite_pragmas(busy_timeout_ms))
        event.listen(engine, "begin", _sqlite_begin)
        if path is not None:

            def tighten(_conn: Any, _record: Any) -> None:  # files an older version left readable
                for suffix in ("-wal", "-shm"):
                    make_private(path.with_name(path.name + suffix))

            event.listen(engine, "connect", tighten)
        return engine
    if parsed.get_backend_name() == "postgresql":
        return create_engine(
            url,
            pool_pre_ping=True,
            pool_size=5,
            max_overflow=10,
            connect_args={"connect_timeout": 5},
            **kwargs,
        )
    raise ConfigError(
        f"database_url {mask(url)!r} is not a database mailbeacon can use: use sqlite:///file.db or postgresql://..."
    )


class StoreBase:
    """What every part of the store shares: the engine and the transaction helpers."""

    engine: Engine

    def __init__(self, engine: Engine, link_book: LinkBook | None = None) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        #: the local copy of tracked links (see linkbook.py); None: links only in the database
        self.link_book = link_book
        #: why the last use of the database failed, None once it works again (for /healthz)
        self.unavailable: str | None = None
        # SQLite: the process's one write path (see the module docstring); None on PostgreSQL
        self._write_lock: threading.Lock | None = threading.Lock() if self.dialect == "sqlite" else None
        self._writing = threading.local()

    @contextmanager
    def tx(self) -> Iterator[Connection]:
        """One transaction; database failures come out as mailbeacon errors.

        On SQLite, write transactions of the whole process take turns on one lock; a `tx()`
        opened inside another on the same thread joins the outer transaction.
        """
        lock = self._write_lock
        if lock is None:
            with self._translated(), self.engine.begin() as conn:
                yield conn
            return
        outer: Connection | None = getattr(self._writing, "conn", None)
        if outer is not None:
            yield outer
            return
        with lock, self._translated(), self.engine.connect() as conn:
            conn.execution_options(**{_WRITE: True})
            with conn.begin():
                self._writing.conn = conn
                try:
                    yield conn
                finally:
                    self._writing.conn = None

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except IntegrityError as exc:
            raise Conflict(f"that already exists ({_first_line(exc)})") from exc
        except (OperationalError, DBAPIError) as exc:
            if isinstance(exc, DBAPIError) and not isinstance(exc, OperationalError) and not exc.connection_invalidated:
                raise
            self.unavailable = f"the database is unavailable: {_first_line(exc)}"
            raise StoreUnavailable(self.unavailable) from exc
        self.unavailable = None

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self._translated(), self.engine.connect() as conn:
            yield conn

    @contextmanager
    def reachable(self) -> Iterator[None]:
        """Database failures outside `tx`/`read` (migrations) come out as `StoreUnavailable` too."""
        try:
            yield
        except (OperationalError, DBAPIError) as exc:
            self.unavailable = f"the database is unavailable: {_first_line(exc)}"
            raise StoreUnavailable(self.unavailable) from exc
        self.unavailable = None

    def close(self) -> None:
        self.engine.dispose()
        if self.link_book is not None:
            self.link_book.close()


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", exc)) or type(exc).__name__
    return text.strip().splitlines()[0][:300]
