"""The pipeline: the one path from what is stored to what is counted, for hits and replies alike.

    hit   ──Intake (journal, writer)──▶ stored ──decide (provisional)──▶ verdict
                                        ──after settle_window──▶ decide again ──▶ settled verdict + counters
    reply ──inbound.take_in (recognised)──▶ record_replies ──▶ stored once + counters

Each ends in one store transaction that writes the record and its counter delta together, so
each hit and each reply counts exactly once. Verdicts settle: a hit is decided when it arrives
and again once `settle_window` seconds have passed (a burst is only a burst when the next click
comes); counters only take settled verdicts.

Only one node decides hits at a time (the lease `LEASE` in the database); the others keep
serving and storing. A batch that fails is decided again one hit at a time, and a hit that
still fails is set aside with the reason (the rest go on); the loop survives any failure of a
round, and `start` restarts it should it end all the same. `/healthz` fails when no round has
completed for `STALLED_AFTER` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from .classifier import Classifier, Decided
from .errors import MailbeaconError, NotFound, StoreUnavailable
from .model import Hit, Reply
from .reclassify import RECLASSIFY_REQUEST, answer_request, ask, reclassify
from .runtime import Runtime
from .signature_watch import SignatureWatch
from .stats import Counts, counted_reply_kind, hit_delta, reply_delta
from .supervise import restarting

log = logging.getLogger("mailbeacon.pipeline")

#: the lease that lets one node at a time decide hits, and its length in seconds
LEASE = "pipeline"
LEASE_TTL = 15.0
#: seconds without a completed round after which the pipeline counts as stalled (`/healthz` fails)
STALLED_AFTER = 120.0
#: seconds before a pipeline task that ended unexpectedly is started again
RESTART_AFTER = 1.0


@dataclass
class PipelineState:
    """What the pipeline has done, for `/healthz` and tests (times from the runtime's clock)."""

    decided: int = 0
    settled: int = 0
    #: hits that could not be decided and were set aside (state failed, with the reason)
    set_aside: int = 0
    restarts: int = 0
    holds_lease: bool = False
    #: when a round last completed (or the pipeline started)
    last_round_at: datetime | None = None
    last_error: str | None = None


class Pipeline:
    def __init__(
        self,
        runtime: Runtime,
        *,
        batch: int = 500,
        owner: str | None = None,
        classifier: Classifier | None = None,
    ) -> None:
        self.rt = runtime
        self.store = runtime.store
        self.batch = batch
        self.owner = owner or f"{os.uname().nodename}:{os.getpid()}:{secrets.token_hex(3)}"
        self.classifier = classifier or Classifier(runtime.store, runtime.settings)
        self.signatures = SignatureWatch(self.store, self.owner, runtime.clock)
        self.state = PipelineState()
        self.task: asyncio.Task[None] | None = None
        self._lease_until = 0.0

    # -- hits ---------------------------------------------------------------------------------

    def run_once(self) -> int:
        """Decide one batch of new hits and settle one batch of due ones. Returns hits handled."""
        self.signatures.check()  # new signature files are used without a restart; recorded for other nodes
        now = self.rt.clock()
        pending = self.store.pending_hits(self.batch)
        due = self.store.due_hits(now, self.batch)
        seen = {p.id for p in pending}
        hits = pending + [h for h in due if h.id not in seen]
        if not hits:
            return 0
        try:
            self._decide(hits, now)
        except StoreUnavailable:
            raise
        except Exception:
            log.exception("deciding a batch of %d hit(s) failed; deciding them one by one", len(hits))
            for h in hits:
                try:
                    self._decide([h], now)
                except StoreUnavailable:
                    raise
                except Exception as exc:
                    self._set_aside(h, exc, now)
        return len(hits)

    def _decide(self, hits: Sequence[Hit], now: datetime) -> None:
        decided: list[Decided] = self.classifier.decide(hits, now)
        deltas: list[tuple[int, int, Counts]] = [
            (h.recipient_id, h.message_id, hit_delta(h.kind, h.link, h.at, v.cls))
            for h, v, settle_at in decided
            if settle_at is None
        ]
        self.store.record_verdicts(decided, now, deltas)
        self.state.decided += len(decided)
        self.state.settled += len(deltas)

    def _set_aside(self, hit: Hit, exc: Exception, now: datetime) -> None:
        """Keep a hit that cannot be decided out of the way, with the reason; the others go on."""
        log.error("hit %s cannot be decided and is set aside: %r", hit.id, exc, exc_info=exc)
        why = f"deciding this hit failed ({type(exc).__name__}: {exc})".replace("\x00", "")[:300]
        verdict = self.classifier.unknown(
            "pipeline_error", why + "; see the server log, `mailbeacon reclassify` tries it again"
        )
        assert hit.id is not None
        try:
            self.store.set_aside([(hit, verdict)], now)
        except StoreUnavailable:
            raise
        except Exception:  # not even the reason could be written: set it aside without one
            log.exception("cannot record why hit %s was set aside", hit.id)
            self.store.mark_failed([hit.id])
        self.state.set_aside += 1

    def drain(self, limit: int = 1_000_000) -> int:
        """Run until nothing is left to decide right now (tests, CLI)."""
        total = 0
        while total < limit:
            n = self.run_once()
            if not n:
                break
            total += n
        return total

    # -- replies ------------------------------------------------------------------------------

    def record_replies(self, replies: Sequence[Reply]) -> list[Reply]:
        """Store recognised inbound messages (each once) and count them (R5-R7), atomically.

        Replies to messages whose reply tracking was switched off (R8) are not recorded.
        Returns the replies that were new.
        """
        tracked: dict[int, bool] = {}
        keep = []
        for r in replies:
            if r.message_id not in tracked:
                try:
                    tracked[r.message_id] = bool(self.store.message(r.message_id).tracking.get("replies", True))
                except NotFound:
                    tracked[r.message_id] = False
            if tracked[r.message_id]:
                keep.append(r)
        if not keep:
            return []
        return self.store.add_replies(
            keep, self.rt.clock(), lambda r: reply_delta(counted_reply_kind(r.kind, r.detail), r.at)
        )

    # -- running inside `serve` ---------------------------------------------------------------

    def _hold_lease(self) -> bool:
        mono = time.monotonic()
        if mono < self._lease_until - LEASE_TTL / 2:
            return True
        if self.store.acquire_lease(LEASE, self.owner, self.rt.clock(), LEASE_TTL):
            self._lease_until = mono + LEASE_TTL
            self.state.holds_lease = True
            return True
        self._lease_until = 0.0
        self.state.holds_lease = False
        return False

    def _progress(self) -> None:
        self.state.last_round_at = self.rt.clock()

    def tick(self) -> int:
        """One round as run by `serve`: hold the lease, answer a reclassify request, decide a batch."""
        if not self._hold_lease():
            return 0
        request = self.store.get_meta(RECLASSIFY_REQUEST)
        if request:
            answer_request(self.store, self.classifier, self.rt.clock(), request, progress=self._progress)
        return self.run_once()

    async def run(
        self,
        stop: asyncio.Event,
        wake: asyncio.Event,
        idle: float = 0.25,
        busy: Callable[[], bool] | None = None,
        max_defer: float = 30.0,
        pause: float = 2.0,
    ) -> None:
        """Loop until `stop` is set: decide hits as they are stored and as they come due.

        While `busy()` says a burst is coming in, classification waits — at most `max_defer`
        seconds at a time — so the same CPU can answer requests first. A round that fails is
        logged and tried again after `pause` seconds.
        """
        deferred_since: float | None = None
        while not stop.is_set():
            if busy is not None and busy():
                mono = time.monotonic()
                if deferred_since is None:
                    deferred_since = mono
                if mono - deferred_since < max_defer:
                    await _wait(stop, idle)
                    continue
                deferred_since = mono  # one round now, then wait again
            else:
                deferred_since = None
            try:
                n = await asyncio.to_thread(self.tick)
            except StoreUnavailable as exc:
                log.warning("pipeline paused, database unavailable: %s", exc)
                self.state.last_error = str(exc)
                await _wait(stop, pause)
                continue
            except Exception as exc:  # whatever it was, the loop goes on
                log.exception("pipeline round failed")
                self.state.last_error = f"{type(exc).__name__}: {exc}"
                await _wait(stop, pause)
                continue
            self._progress()
            self.state.last_error = None
            if n == 0:
                wake.clear()
                await _wait_any(stop, wake, idle)
        if self._lease_until:
            try:
                await asyncio.to_thread(self.store.release_lease, LEASE, self.owner)
            except StoreUnavailable:
                pass

    def start(
        self,
        stop: asyncio.Event,
        wake: asyncio.Event,
        *,
        busy: Callable[[], bool] | None = None,
        restart_after: float = RESTART_AFTER,
        **options: float,
    ) -> asyncio.Task[None]:
        """Run the loop as a task that is started again if it ends before `stop` is set."""

        def started(task: asyncio.Task[None]) -> None:
            self._progress()
            self.task = task

        return restarting(
            lambda: self.run(stop, wake, busy=busy, **options),
            what="pipeline",
            stop=stop,
            state=self.state,
            restart_after=restart_after,
            started=started,
        )

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    def stalled(self, now: datetime) -> bool:
        """Has classification stopped here (the task is not running, or no round completed lately)?"""
        last = self.state.last_round_at
        return not self.running or last is None or (now - last).total_seconds() > STALLED_AFTER


def run_reclassify(runtime: Runtime, since: datetime | None, *, wait: float = 120.0) -> dict[str, object]:
    """Reclassify here if no server holds the pipeline lease, else ask the server's pipeline to."""
    owner = "reclassify:" + secrets.token_hex(3)
    store = runtime.store
    ttl = LEASE_TTL * 20
    if store.acquire_lease(LEASE, owner, runtime.clock(), ttl):

        def renew() -> None:
            if not store.acquire_lease(LEASE, owner, runtime.clock(), ttl):
                raise MailbeaconError("a `mailbeacon serve` took over the pipeline during reclassify; run it again")

        try:
            classifier = Classifier(store, runtime.settings)
            return dict(reclassify(store, classifier, runtime.clock(), since, progress=renew).as_dict())
        finally:
            store.release_lease(LEASE, owner)
    return ask(store, since, wait=wait)


async def _wait(event: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(event.wait(), seconds)
    except TimeoutError:
        pass


async def _wait_any(a: asyncio.Event, b: asyncio.Event, seconds: float) -> None:
    ta = asyncio.ensure_future(a.wait())
    tb = asyncio.ensure_future(b.wait())
    try:
        await asyncio.wait({ta, tb}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        ta.cancel()
        tb.cancel()


class LoadGauge:
    """Is a burst coming in? Compares the intake's recorded count over about a second."""

    def __init__(self, recorded: Callable[[], int], rate: float) -> None:
        self.recorded = recorded
        self.rate = rate
        self._n = recorded()
        self._t = time.monotonic()
        self._busy = False

    def __call__(self) -> bool:
        now = time.monotonic()
        if now - self._t >= 0.5:
            n = self.recorded()
            self._busy = (n - self._n) / (now - self._t) > self.rate
            self._n, self._t = n, now
        return self._busy
