"""Shared fixtures: settings, a clock you can move, real stores on SQLite and PostgreSQL.

With `CI=true`, tests that need PostgreSQL, Dovecot, swaks or Chromium must run: a missing
part is a failure. Elsewhere they skip with a message saying what to install.
"""

from __future__ import annotations

import io
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mailbeacon.config import Settings, load_settings
from mailbeacon.intake import Intake
from mailbeacon.runtime import Runtime
from mailbeacon.store import Store, open_store

CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# Hermetic: mailbeacon's default data and config directories (platformdirs follows XDG on Linux)
# point into a directory of this test session, for this process and every subprocess it starts;
# no test reads or writes the real user's data.
_HOME = Path(tempfile.mkdtemp(prefix="mailbeacon-tests-"))
for _name in ("XDG_DATA_HOME", "XDG_CONFIG_HOME"):
    os.environ[_name] = str(_HOME / _name.lower())
for _name in [n for n in os.environ if n.startswith("MAILBEACON_") and n != "MAILBEACON_TEST_PG"]:
    del os.environ[_name]
CORPUS = Path(__file__).parent / "corpus"
PG_ADMIN_URL = os.environ.get("MAILBEACON_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def need(condition: bool, what: str, install: str) -> None:
    """Skip (or, under CI, fail) when a real part the test needs is missing."""
    if condition:
        return
    if CI:
        pytest.fail(f"{what} is required when CI=true: {install}")
    pytest.skip(f"{what} not available: {install}")


def need_binary(name: str, package: str) -> str:
    path = shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None)
    need(path is not None, name, f"apt-get install -y {package}")
    assert path is not None
    return path


class FakeClock:
    """A clock for tests: starts at a fixed time and moves only when told."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now

    def set(self, when: datetime) -> None:
        self.now = when


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def wait_stored(intake: Intake, timeout: float = 10.0) -> bool:
    """Wait until the intake's writer has stored every hit recorded so far. True if it did."""
    deadline = time.monotonic() + timeout
    while intake.pending:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


@pytest.fixture(autouse=True)
def cheap_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests hash and check many passwords: a low scrypt cost in-process (the real cost, and the
    upgrade of old hashes, are tested in test_security_auth.py)."""
    from mailbeacon import passwords

    monkeypatch.setattr(passwords, "COST", passwords.Cost(2**10, 8, 1))


# -- stores ------------------------------------------------------------------------------------

_SQLITE_TEMPLATE: Path | None = None


def _sqlite_template(tmp_root: Path) -> Path:
    global _SQLITE_TEMPLATE
    if _SQLITE_TEMPLATE is None or not _SQLITE_TEMPLATE.exists():
        path = tmp_root / f"template-{uuid.uuid4().hex}.db"
        store = open_store(f"sqlite:///{path}", migrate=True)
        with store.engine.connect() as c:
            c.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        store.close()
        _SQLITE_TEMPLATE = path
    return _SQLITE_TEMPLATE


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session (migrated), dropped at the end."""
    try:
        import psycopg

        admin = psycopg.connect(
            PG_ADMIN_URL.replace("postgresql://", "postgresql://", 1), autocommit=True, connect_timeout=3
        )
    except Exception as exc:
        need(False, "PostgreSQL at 127.0.0.1:5432", f"start it ({exc.__class__.__name__}: {exc})")
        raise
    name = f"mb_test_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    url = f"{base}/{name}"
    open_store(url, migrate=True).close()
    try:
        yield url
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _truncate_pg(url: str) -> None:
    store = open_store(url)
    from mailbeacon.store.schema import metadata

    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with store.engine.begin() as c:
        c.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    store.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database: SQLite file and PostgreSQL (the same tests run on both)."""
    if request.param == "sqlite":
        path = tmp_path / "mailbeacon.db"
        shutil.copyfile(_sqlite_template(tmp_path.parent), path)
        yield f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("pg_database")
        _truncate_pg(url)
        yield url


@pytest.fixture
def pg_url(pg_database: str) -> str:
    """The session's PostgreSQL database, emptied for this test."""
    _truncate_pg(pg_database)
    return pg_database


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    path = tmp_path / "mailbeacon.db"
    shutil.copyfile(_sqlite_template(tmp_path.parent), path)
    return f"sqlite:///{path}"


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    s = open_store(database_url)
    yield s
    s.close()


def make_settings(tmp_path: Path, database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "data_dir": str(tmp_path / "data"),
        "http": "127.0.0.1:8025",
        "public_url": "http://t.example.test",
        "smtp": "off",
    }
    values.update(overrides)
    return load_settings(environ={}, overrides=values)


@pytest.fixture
def settings(tmp_path: Path, sqlite_url: str) -> Settings:
    return make_settings(tmp_path, sqlite_url)


@pytest.fixture
def runtime(settings: Settings, clock: FakeClock) -> Iterator[Runtime]:
    """A Runtime on a fresh SQLite database with the fake clock."""
    rt = Runtime.open(settings, clock=clock, migrate=False)
    yield rt
    rt.close()


@pytest.fixture
def any_runtime(tmp_path: Path, database_url: str, clock: FakeClock) -> Iterator[Runtime]:
    """A Runtime on each database (SQLite and PostgreSQL)."""
    rt = Runtime.open(make_settings(tmp_path, database_url), clock=clock, migrate=False)
    yield rt
    rt.close()


# -- the command line -------------------------------------------------------------------------------

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    """Run `mailbeacon ARGS...` in-process on a fresh SQLite database: (exit code, stdout, stderr)."""
    from mailbeacon.cli import main

    monkeypatch.setenv("MAILBEACON_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("MAILBEACON_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MAILBEACON_PUBLIC_URL", "http://t.example.test")
    monkeypatch.setenv("COLUMNS", "250")  # Rich would wrap long lines at 80

    def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def live_signatures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The classifier reading a copy of its signature files as if it were the installed package's
    (for `signatures update` while running); the package's own files are never touched."""
    from mailbeacon.classify import catalog
    from mailbeacon.classify.agents import _describe
    from mailbeacon.classify.evidence import networks_of

    copy = tmp_path / "live-signatures"
    shutil.copytree(Path(str(catalog.package_directory())), copy)
    monkeypatch.setattr(catalog, "package_directory", lambda: copy)
    monkeypatch.setattr(catalog, "_ACTIVE", catalog._Active())
    yield copy
    _describe.cache_clear()
    networks_of.cache_clear()
