"""The hit journal: an append-only on-disk record of every acknowledged hit.

Each process writes its own segment files `hits-<run>-<first seq>.jsonl` in the journal
directory and holds an exclusive `flock` on them while it runs. One line per hit:

    [seq, uid, kind, workspace, message, recipient, link, at_us, method, ip, ua, headers, device]

Lines are buffered for at most one event-loop iteration and written with one `write()`;
once written they survive a crash of the process (`kill -9`), because they are in the
operating system's page cache. The writer `fdatasync`s about once a second, which bounds what
a crash of the machine itself can lose. A segment is deleted once every hit in it is stored in
the database; segments left behind by a stopped or crashed process are replayed on start
(storing is idempotent: a hit's `uid` is unique).

A write the disk refuses (disk full) keeps what was not written and continues from exactly
there on the next flush, so a live segment never holds half a line or a line twice. A line
that is torn anyway (the machine crashed mid-write, a file cut short) is found on replay,
reported and set aside in `torn-<run>.jsonl`; every other line is replayed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from .model import Hit, HitKind
from .private_files import open_private, private_dir

log = logging.getLogger("mailbeacon.journal")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_KINDS = {k.value: k for k in HitKind}


_encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True)


def encode(seq: int, hit: Hit) -> bytes:
    at_us = round(hit.at.timestamp() * 1_000_000)
    return (
        _encoder.encode(
            [
                seq,
                hit.uid,
                hit.kind.value,
                hit.workspace_id,
                hit.message_id,
                hit.recipient_id,
                hit.link,
                at_us,
                hit.method,
                hit.ip,
                hit.user_agent,
                hit.headers,
                hit.device_id,
            ]
        ).encode("ascii")
        + b"\n"
    )


def decode(line: bytes) -> tuple[int, Hit]:
    (seq, uid, kind, ws, msg, rcpt, link, at_us, method, ip, ua, headers, device) = json.loads(line)
    hit = Hit(
        uid=uid,
        kind=_KINDS[kind],
        workspace_id=ws,
        message_id=msg,
        recipient_id=rcpt,
        link=link,
        at=_EPOCH + timedelta(microseconds=at_us),
        method=method,
        ip=ip,
        user_agent=ua,
        headers=headers,
        device_id=device,
    )
    return seq, hit


@dataclass
class Segment:
    path: Path
    first_seq: int
    fd: int = -1


def _parse_name(path: Path) -> tuple[str, int] | None:
    parts = path.stem.split("-")
    if len(parts) != 3 or parts[0] != "hits" or not parts[2].isdigit():
        return None
    return parts[1], int(parts[2])


class Journal:
    """This process's journal: appends (event-loop thread) and reads back (writer thread)."""

    def __init__(self, directory: Path, run_id: str, *, segment_bytes: int = 16 * 1024 * 1024) -> None:
        self.directory = directory
        self.run_id = run_id
        self.segment_bytes = segment_bytes
        private_dir(directory)
        self._lock = threading.Lock()  # guards the segment list
        self._write_lock = threading.Lock()  # guards the buffer and appends
        self._segments: list[Segment] = []
        self._active_bytes = 0
        self._buffer: list[bytes] = []
        self._buffered_first_seq = 0
        self._unwritten = b""  # what a refused write left over: written first, in order
        self._unwritten_last_seq = 0
        self._dirty = False
        #: the write boundary: `os.write`; tests put a full disk here
        self.write_fd: Callable[[int, bytes | memoryview], int] = os.write
        self.written_seq = 0  # every hit up to this seq is in the file
        self._cursor: tuple[int, int, int] | None = None  # (segment first seq, offset, seq at offset)

    # -- appending (event-loop thread) --------------------------------------------------------

    def _open_segment(self, first_seq: int) -> Segment:
        path = self.directory / f"hits-{self.run_id}-{first_seq}.jsonl"
        fd = open_private(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        seg = Segment(path, first_seq, fd)
        with self._lock:
            self._segments.append(seg)
        self._active_bytes = 0
        return seg

    def buffer(self, seq: int, line: bytes) -> None:
        with self._write_lock:
            if not self._buffer:
                self._buffered_first_seq = seq
            self._buffer.append(line)

    @property
    def has_buffered(self) -> bool:
        return bool(self._buffer or self._unwritten)

    def flush(self) -> None:
        """Write the buffered lines (one `write()`), rotating the segment when it is large.

        An `OSError` (disk full) leaves the unwritten bytes to the next call, which writes them
        first: nothing is written twice, nothing is left half-written.
        """
        with self._write_lock:
            if not self._buffer and not self._unwritten:
                return
            last_seq = self._unwritten_last_seq
            if self._buffer:
                last_seq = self._buffered_first_seq + len(self._buffer) - 1
            if not self._unwritten and (not self._segments or self._active_bytes >= self.segment_bytes):
                self._open_segment(self._buffered_first_seq)  # only ever at a line boundary
            data = self._unwritten + b"".join(self._buffer)
            self._buffer.clear()
            seg = self._segments[-1]
            view = memoryview(data)
            try:
                while view:
                    n = self.write_fd(seg.fd, view)
                    view = view[n:]
                    self._active_bytes += n
                    self._dirty = True
            finally:
                self._unwritten = bytes(view)
                self._unwritten_last_seq = last_seq
            self.written_seq = last_seq

    # -- housekeeping (writer thread) ---------------------------------------------------------

    def sync(self) -> None:
        """fdatasync the active segment if anything was written since the last sync."""
        if not self._dirty:
            return
        self._dirty = False
        with self._lock:
            fds = [s.fd for s in self._segments[-1:] if s.fd >= 0]
        for fd in fds:
            with contextlib.suppress(OSError):
                os.fdatasync(fd)

    def release_committed(self, next_seq: int) -> None:
        """Delete segments whose every hit (seq < next_seq) is stored; keeps the active one."""
        with self._lock:
            done = []
            for i, seg in enumerate(self._segments[:-1]):
                if self._segments[i + 1].first_seq <= next_seq:
                    done.append(seg)
            for seg in done:
                self._segments.remove(seg)
        for seg in done:
            try:
                seg.path.unlink()
            finally:
                os.close(seg.fd)

    def read_from(self, from_seq: int, to_seq: int, limit: int) -> list[tuple[int, Hit]]:
        """Up to `limit` hits with from_seq <= seq <= to_seq, from the files, in order.

        Used when the in-memory queue overflowed (the database was away for long). A cursor
        remembers where the previous read stopped, so a long replay reads each byte once.
        """
        with self._lock:
            segs = list(self._segments)
        out: list[tuple[int, Hit]] = []
        for i, seg in enumerate(segs):
            nxt = segs[i + 1].first_seq if i + 1 < len(segs) else None
            if nxt is not None and nxt <= from_seq:
                continue
            if seg.first_seq > to_seq:
                break
            offset = 0
            cur = self._cursor
            if cur is not None and cur[0] == seg.first_seq and cur[2] <= from_seq:
                offset = cur[1]
            with open(seg.path, "rb") as f:
                f.seek(offset)
                while len(out) < limit:
                    line = f.readline()
                    if not line.endswith(b"\n"):
                        break  # end of file, or a line still being written
                    seq = int(line[1 : line.index(b",")])
                    if seq > to_seq:
                        break
                    if seq >= from_seq:
                        out.append(decode(line))
                    offset += len(line)
                    self._cursor = (seg.first_seq, offset, seq + 1)
            if len(out) >= limit or (out and out[-1][0] >= to_seq):
                break
        return out

    def close(self, *, remove: bool) -> None:
        """Close the files; remove them when everything in them is stored."""
        with self._lock:
            segs, self._segments = self._segments, []
        for seg in segs:
            if remove:
                seg.path.unlink(missing_ok=True)
            os.close(seg.fd)


def orphan_segments(directory: Path, own_run: str) -> Iterator[tuple[Path, int]]:
    """Segments of other runs that no live process holds, oldest first, each locked (fd returned)."""
    if not directory.exists():
        return
    found = []
    for path in directory.glob("hits-*.jsonl"):
        parsed = _parse_name(path)
        if parsed is None or parsed[0] == own_run:
            continue
        found.append((path.stat().st_mtime, path))
    for _, path in sorted(found):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)  # a live process owns it
            continue
        yield path, fd


@dataclass
class SegmentContents:
    """What replay found in a segment: the hits, and the torn records (offset, bytes)."""

    hits: list[Hit] = field(default_factory=list)
    torn: list[tuple[int, bytes]] = field(default_factory=list)


def read_segment(path: Path) -> SegmentContents:
    """Every line of a segment: decodable ones as hits, the others (a line cut short by a crash
    or a truncated file, garbage) as torn records with their byte offsets — never skipped."""
    out = SegmentContents()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return out
    offset = 0
    for line in data.splitlines(keepends=True):
        try:
            if not line.endswith(b"\n"):
                raise ValueError("no end of line")
            out.hits.append(decode(line)[1])
        except (ValueError, KeyError, TypeError, IndexError):
            out.torn.append((offset, line))
        offset += len(line)
    return out


def set_aside_torn(directory: Path, run_id: str, segment: Path, torn: list[tuple[int, bytes]]) -> Path:
    """Append torn records to `torn-<run>.jsonl` (segment, offset, bytes as latin-1) for a person to see."""
    path = directory / f"torn-{run_id}.jsonl"
    with os.fdopen(open_private(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND), "ab") as f:
        for offset, raw in torn:
            record = {"segment": segment.name, "offset": offset, "bytes": raw.decode("latin-1")}
            f.write(_encoder.encode(record).encode("ascii") + b"\n")
    return path
