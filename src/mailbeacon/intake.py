"""Hit intake: off the request path, nothing acknowledged is lost.

    request ──record()──▶ journal (disk, flushed every loop iteration)
                 └──────▶ bounded queue ──writer thread──▶ store (batched transactions)

- The endpoint answers after `record()`, which only buffers: no database on the request path.
- The writer thread commits batches of up to `writer_batch_size` hits, at least every
  `writer_interval` seconds.
- When the queue is full (the database has been away for a while), hits are only in the
  journal; the writer reads them back from it, in order, once the database returns.
- When the database is unavailable the writer keeps its batch and retries with backoff; the
  journal on disk is the spool.
- On a graceful stop the writer stores everything before exiting (or, if the database is down,
  leaves the journal for the next start, which replays it).
- A hit is written to the journal before its answer is sent, so a `kill -9` loses nothing that
  was answered. A crash of the whole machine can lose what the OS had not written to disk yet:
  at most about one second (the writer fdatasyncs).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import StoreUnavailable
from .journal import Journal, encode, orphan_segments, read_segment, set_aside_torn
from .model import Hit
from .private_files import open_private
from .store import Store

log = logging.getLogger("mailbeacon.intake")


@dataclass
class IntakeState:
    """What the writer has done, for health checks and tests."""

    recorded: int = 0
    stored: int = 0
    replayed: int = 0
    overflowed: int = 0
    rejected: int = 0
    torn: int = 0  # journal records found torn on replay (set aside in torn-*.jsonl)
    journal_errors: int = 0  # journal writes the disk refused (retried)
    store_down: bool = False
    last_error: str | None = None


class Intake:
    def __init__(
        self,
        store: Store,
        journal_dir: Path,
        *,
        batch_size: int = 500,
        interval: float = 0.05,
        queue_size: int = 50_000,
        on_stored: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.run_id = f"{os.getpid()}x{secrets.token_hex(4)}"
        self.journal = Journal(journal_dir, self.run_id)
        self.batch_size = batch_size
        self.interval = interval
        self.queue_size = queue_size
        self.on_stored = on_stored
        self.state = IntakeState()
        self._queue: deque[tuple[int, Hit]] = deque()
        self._seq = 0
        self._next_seq = 1  # the next seq the writer must store
        self._held: list[tuple[int, Hit]] = []
        self._uids = itertools.count(1)
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._flush_scheduled = False
        self._written: asyncio.Future[None] | None = None

    # -- the request side (event-loop thread) -------------------------------------------------

    def new_uid(self) -> str:
        return f"{self.run_id}.{next(self._uids)}"

    def record(self, hit: Hit) -> None:
        """Accept a hit. Cheap: buffers a journal line and queues the hit."""
        self._seq += 1
        seq = self._seq
        self.journal.buffer(seq, encode(seq, hit))
        if not self._flush_scheduled:
            loop = self._loop
            if loop is not None and loop.is_running():
                self._flush_scheduled = True
                self._written = loop.create_future()
                loop.call_soon(self._flush)
            else:
                self.journal.flush()
        if len(self._queue) < self.queue_size:
            self._queue.append((seq, hit))
            if len(self._queue) >= self.batch_size and not self._wake.is_set():
                self._wake.set()
        else:
            self.state.overflowed += 1
        self.state.recorded += 1

    def written(self) -> asyncio.Future[None] | None:
        """Done once every hit recorded so far is in the journal file; None if it already is.

        The endpoints await it before answering, so a hit is on disk before its answer leaves:
        one `write()` per event-loop iteration, shared by every request of that iteration.
        """
        return self._written

    def _flush(self) -> None:
        self._flush_scheduled = False
        fut, self._written = self._written, None
        try:
            self.journal.flush()
        except OSError as exc:  # disk full: keep the lines buffered, retry; still answer
            self.state.journal_errors += 1
            log.error("cannot write the hit journal in %s: %s", self.journal.directory, exc)
            if self._loop is not None:
                self._flush_scheduled = True
                self._loop.call_later(0.5, self._flush)
        finally:
            if fut is not None and not fut.done():
                fut.set_result(None)

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop
        self._thread = threading.Thread(target=self._run, name="mailbeacon-writer", daemon=True)
        self._thread.start()

    async def stop(self, grace: float = 15.0) -> None:
        """Store everything recorded so far, then stop the writer."""
        self._flush()
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, grace)
        complete = self._next_seq > self._seq and not self._held
        if not complete:
            log.warning(
                "stopping with %d hit(s) not stored yet; they are kept in %s and stored on the next start",
                self._seq - self._next_seq + 1,
                self.journal.directory,
            )
        self.journal.close(remove=complete)

    @property
    def pending(self) -> int:
        return self._seq - self._next_seq + 1

    # -- the writer thread --------------------------------------------------------------------

    def _run(self) -> None:
        self._replay_orphans()
        last_sync = time.monotonic()
        backoff = 0.0
        while True:
            self._wake.wait(self.interval if backoff == 0 else backoff)
            self._wake.clear()
            stopping = self._stopping
            ok = self._drain()
            backoff = 0.0 if ok else min(max(backoff * 2, 0.25), 5.0)
            now = time.monotonic()
            if now - last_sync >= 1.0:
                self.journal.sync()
                last_sync = now
            self.journal.release_committed(self._next_seq)
            if stopping and (self._next_seq > self._seq or not ok):
                if not ok:
                    log.error("database unavailable at shutdown; hits stay in the journal")
                break

    def _take_batch(self) -> list[tuple[int, Hit]]:
        if self._held:
            return self._held
        q = self._queue
        items: list[tuple[int, Hit]] = []
        while q and len(items) < self.batch_size:
            seq = q[0][0]
            if seq < self._next_seq:
                q.popleft()
                continue
            if seq != self._next_seq + len(items):
                break
            items.append(q.popleft())
        if items:
            return items
        top = self._seq
        if top < self._next_seq:
            return []
        gap_end = q[0][0] - 1 if q else top
        if gap_end < self._next_seq:
            return []
        return self.journal.read_from(self._next_seq, min(gap_end, self.journal.written_seq), self.batch_size)

    def _drain(self) -> bool:
        """Store as many batches as are ready. False if the database is unavailable."""
        while True:
            batch = self._take_batch()
            if not batch:
                return True
            try:
                self.store.insert_hits([h for _, h in batch])
            except StoreUnavailable as exc:
                self._held = batch
                if not self.state.store_down:
                    log.error("database unavailable, hits are kept in the journal: %s", exc)
                self.state.store_down = True
                self.state.last_error = str(exc)
                return False
            except Exception:  # a row the database refuses: isolate it, keep the rest
                log.exception("the database refused a batch of hits; storing them one by one")
                self._store_one_by_one(batch)
            if self.state.store_down:
                log.warning("database is back; storing the hits kept meanwhile")
            self.state.store_down = False
            self._held = []
            self._next_seq = batch[-1][0] + 1
            self.state.stored += len(batch)
            if self.on_stored is not None:
                self.on_stored()

    def _store_one_by_one(self, batch: list[tuple[int, Hit]]) -> None:
        rejected_path = self.journal.directory / f"rejected-{self.run_id}.jsonl"
        for seq, hit in batch:
            try:
                self.store.insert_hits([hit])
            except StoreUnavailable:
                raise
            except Exception as exc:
                self.state.rejected += 1
                log.error("hit %s refused by the database (%s); kept in %s", hit.uid, exc, rejected_path)
                with os.fdopen(open_private(rejected_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND), "ab") as f:
                    f.write(encode(seq, hit))

    def _replay_orphans(self) -> None:
        """Store what earlier runs left in the journal directory, then delete it."""
        for path, fd in orphan_segments(self.journal.directory, self.run_id):
            try:
                contents = read_segment(path)
                hits = contents.hits
                for i in range(0, len(hits), self.batch_size):
                    chunk = hits[i : i + self.batch_size]
                    delay = 0.25
                    while True:
                        try:
                            self.store.insert_hits(chunk)
                            break
                        except StoreUnavailable as exc:
                            self.state.store_down = True
                            self.state.last_error = str(exc)
                            if self._stopping:
                                return
                            time.sleep(delay)
                            delay = min(delay * 2, 5.0)
                        except Exception:  # a row the database refuses: set it aside, keep the rest
                            self._store_one_by_one(list(enumerate(chunk, i)))
                            break
                    self.state.replayed += len(chunk)
                if contents.torn:  # reported once the segment is done, so a retried replay reports once
                    aside = set_aside_torn(self.journal.directory, self.run_id, path, contents.torn)
                    self.state.torn += len(contents.torn)
                    log.error(
                        "%d torn record(s) in %s (a crash or a full disk cut them short); set aside in %s; "
                        "the other %d hit(s) are stored",
                        len(contents.torn),
                        path.name,
                        aside.name,
                        len(hits),
                    )
                self.state.store_down = False
                path.unlink(missing_ok=True)
                log.info("replayed %d hit(s) from %s", len(hits), path.name)
                if hits and self.on_stored is not None:
                    self.on_stored()
            finally:
                os.close(fd)
