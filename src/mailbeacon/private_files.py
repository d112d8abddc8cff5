"""Everything mailbeacon writes is private to its user: directories 0700, files 0600.

The database (and SQLite's `-wal`, `-shm` and `-journal`), the hit journal, rejected hits, the
key files and the copies `send --dry-run` writes hold signing keys, passwords (encrypted) and who read which email. Files are
created with an explicit mode; `private_umask()` covers files other code creates (SQLite
creates `-wal` and `-shm` itself); `make_private` tightens what an older version left readable.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700
#: the files SQLite keeps beside a database
SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")


@contextlib.contextmanager
def private_umask() -> Iterator[None]:
    """Files and directories created inside get no group or other permissions."""
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


def make_private(path: Path) -> None:
    """Remove group and other permissions from an existing file or directory (if it is ours)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return
    if st.st_mode & 0o077 and st.st_uid == os.getuid():
        os.chmod(path, stat.S_IMODE(st.st_mode) & ~0o077)


def private_dir(path: Path) -> Path:
    """`path` as a directory only its user can enter (created 0700 with missing parents)."""
    if not path.exists():
        with private_umask():
            path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    make_private(path)
    return path


def open_private(path: Path, flags: int) -> int:
    """`os.open` with mode 0600 (and no wider whatever the umask); an existing file is tightened."""
    fd = os.open(path, flags | os.O_CLOEXEC, FILE_MODE)
    st = os.fstat(fd)
    if st.st_mode & 0o077 and st.st_uid == os.getuid():
        os.fchmod(fd, stat.S_IMODE(st.st_mode) & ~0o077)
    return fd


def write_private(path: Path, data: bytes, *, exclusive: bool = False) -> None:
    """Write a whole file, mode 0600 (`exclusive`: it must not exist yet)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    with os.fdopen(open_private(path, flags), "wb") as f:
        f.write(data)


def private_sqlite(database: Path) -> None:
    """Create the SQLite database file 0600 if missing; tighten it and its companions."""
    if not database.exists():
        if database.parent != Path() and not database.parent.exists():
            private_dir(database.parent)
        os.close(open_private(database, os.O_WRONLY | os.O_CREAT))
    for suffix in SQLITE_SUFFIXES:
        make_private(database.with_name(database.name + suffix))
