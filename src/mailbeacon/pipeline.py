"""The pipeline: the one path every stored hit and every recognised reply takes.

    stored hit ──classify (provisional)──▶ verdict ──after settle_window──▶ classify again
                                                                           ──▶ settled verdict + counters
    reply ──▶ stored once ──▶ counters

Verdicts settle: a hit is classified when it arrives and again once `settle_window` seconds
have passed (a burst is only a burst when the next click comes). Counters only ever take
settled verdicts, each exactly once, in the same transaction that settles it. `reclassify`
re-runs the current rules over stored raw hits and rebuilds the affected counters.

Only one node runs the pipeline at a time (a lease in the database); the others keep serving
and storing hits.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta

from .classify import classify, rules_version
from .errors import MailbeaconError, NotFound, StoreUnavailable
from .model import ClassifyContext, Hit, MessageInfo, Reason, Recipient, Reply, Verdict, VerdictClass
from .reclassify import (
    LEASE,
    LEASE_TTL,
    RECLASSIFY_REQUEST,
    Decided,
    ReclassifyResult,
    answer_request,
    rebuild_counters,
    reclassify,
    recompute,
)
from .runtime import Runtime
from .signature_watch import SignatureWatch
from .stats import Counts, counted_reply_kind, hit_delta, reply_delta

log = logging.getLogger("mailbeacon.pipeline")

#: how far back a hit's classification looks at the recipient's earlier hits
LOOKBACK = timedelta(hours=24)
PEER_LOOKBACK = timedelta(hours=1)
MESSAGE_CACHE_SECONDS = 30.0


class Pipeline:
    def __init__(
        self,
        runtime: Runtime,
        *,
        batch: int = 500,
        owner: str | None = None,
        on_settled: Callable[[Sequence[tuple[Hit, Verdict]]], None] | None = None,
    ) -> None:
        self.rt = runtime
        self.store = runtime.store
        self.batch = batch
        self.owner = owner or f"{os.uname().nodename}:{os.getpid()}:{secrets.token_hex(3)}"
        self.on_settled = on_settled
        self._messages: OrderedDict[int, tuple[float, MessageInfo]] = OrderedDict()
        self._recipients: OrderedDict[int, Recipient] = OrderedDict()
        self._lease_until = 0.0
        self.signatures = SignatureWatch(self.store, self.owner, runtime.clock)
        self.decided = 0
        self.settled = 0

    # -- context ------------------------------------------------------------------------------

    def message_info(self, message_id: int) -> MessageInfo:
        hit = self._messages.get(message_id)
        now = time.monotonic()
        if hit is not None and now - hit[0] < MESSAGE_CACHE_SECONDS:
            return hit[1]
        info = self.store.message_info(message_id)
        self._messages[message_id] = (now, info)
        self._messages.move_to_end(message_id)
        while len(self._messages) > 5000:
            self._messages.popitem(last=False)
        return info

    def recipient(self, recipient_id: int) -> Recipient:
        r = self._recipients.get(recipient_id)
        if r is None:
            r = self.store.recipient(recipient_id)
            self._recipients[recipient_id] = r
            while len(self._recipients) > 50_000:
                self._recipients.popitem(last=False)
        return r

    def contexts(self, hits: Sequence[Hit]) -> dict[int, ClassifyContext | None]:
        """A classification context per hit id (None when its message or recipient is gone)."""
        s = self.rt.settings
        settle = timedelta(seconds=s.settle_window)
        by_rcpt: dict[int, list[Hit]] = {}
        for h in hits:
            by_rcpt.setdefault(h.recipient_id, []).append(h)
        lo = min(h.at for h in hits)
        hi = max(h.at for h in hits)
        rcpt_hits = self.store.recipient_hits(by_rcpt, since=lo - LOOKBACK, until=hi + settle)
        by_msg_ips: dict[int, set[str]] = {}
        for h in hits:
            by_msg_ips.setdefault(h.message_id, set()).add(h.ip)
        peers: dict[int, list[Hit]] = {
            mid: self.store.peer_hits(mid, ips, lo - PEER_LOOKBACK, hi + settle) for mid, ips in by_msg_ips.items()
        }
        out: dict[int, ClassifyContext | None] = {}
        for h in hits:
            assert h.id is not None
            try:
                info = self.message_info(h.message_id)
                rcpt = self.recipient(h.recipient_id)
            except NotFound:
                out[h.id] = None
                continue
            if rcpt.message_id != h.message_id:
                out[h.id] = None
                continue
            out[h.id] = ClassifyContext(
                message=info,
                recipient=rcpt.address,
                relation=rcpt.relation,
                other_hits=tuple(o for o in rcpt_hits.get(h.recipient_id, ()) if o.id != h.id),
                peer_hits=tuple(
                    p for p in peers.get(h.message_id, ()) if p.ip == h.ip and p.recipient_id != h.recipient_id
                ),
                self_view_window=s.self_view_window,
                settle_window=s.settle_window,
            )
        return out

    def forget_messages(self) -> None:
        """Drop cached message context (devices, members may have changed)."""
        self._messages.clear()

    def decide(self, hit: Hit, ctx: ClassifyContext | None) -> Verdict:
        if ctx is None:
            return Verdict(
                VerdictClass.UNKNOWN,
                (Reason("message_gone", "the tracked message or recipient no longer exists"),),
                rules_version=rules_version(),
            )
        try:
            return classify(hit, ctx)
        except Exception:  # a rule bug must not stop the pipeline
            log.exception("classifier failed on hit %s", hit.id)
            return Verdict(
                VerdictClass.UNKNOWN,
                (Reason("classifier_error", "the classifier failed on this hit; see the server log"),),
                rules_version=rules_version(),
            )

    # -- one step -----------------------------------------------------------------------------

    def run_once(self) -> int:
        """Classify one batch of new hits and settle one batch of due ones. Returns hits decided."""
        self.signatures.check()  # new signature files are used without a restart; recorded for other nodes
        now = self.rt.clock()
        window = timedelta(seconds=self.rt.settings.settle_window)
        pending = self.store.pending_hits(self.batch)
        due = self.store.due_hits(now, self.batch)
        seen = {p.id for p in pending}
        hits = pending + [h for h in due if h.id not in seen]
        if not hits:
            return 0
        ctxs = self.contexts(hits)
        decided: list[Decided] = []
        deltas: list[tuple[int, int, Counts]] = []
        settled: list[tuple[Hit, Verdict]] = []
        for h in hits:
            assert h.id is not None
            v = self.decide(h, ctxs[h.id])
            settle_at = h.at + window
            if now >= settle_at:
                decided.append((h, v, None))
                deltas.append((h.recipient_id, h.message_id, hit_delta(h.kind, h.link, h.at, v.cls)))
                settled.append((h, v))
            else:
                decided.append((h, v, settle_at))
        self.store.record_verdicts(decided, now, deltas)
        self.decided += len(decided)
        self.settled += len(settled)
        if settled and self.on_settled is not None:
            self.on_settled(settled)
        return len(decided)

    def drain(self, limit: int = 1_000_000) -> int:
        """Run until nothing is left to decide right now (tests, CLI)."""
        total = 0
        while total < limit:
            n = self.run_once()
            if not n:
                break
            total += n
        return total

    # -- running inside `serve` ---------------------------------------------------------------

    def _hold_lease(self) -> bool:
        mono = time.monotonic()
        if mono < self._lease_until - LEASE_TTL / 2:
            return True
        if self.store.acquire_lease(LEASE, self.owner, self.rt.clock(), LEASE_TTL):
            self._lease_until = mono + LEASE_TTL
            return True
        self._lease_until = 0.0
        return False

    def recompute(self, recipient_ids: Iterable[int]) -> dict[int, Counts]:
        return recompute(self, recipient_ids)

    def rebuild_counters(self, recipient_ids: Iterable[int]) -> None:
        rebuild_counters(self, recipient_ids)

    def reclassify(self, since: datetime | None = None) -> ReclassifyResult:
        """Re-run the rules over stored hits; call while holding the lease (see `run_reclassify`)."""
        return reclassify(self, since)

    def tick(self) -> int:
        """One round as run by `serve`: hold the lease, answer a reclassify request, decide a batch."""
        if not self._hold_lease():
            return 0
        request = self.store.get_meta(RECLASSIFY_REQUEST)
        if request:
            answer_request(self, request)
        return self.run_once()

    async def run(
        self,
        stop: asyncio.Event,
        wake: asyncio.Event,
        idle: float = 0.25,
        busy: Callable[[], bool] | None = None,
        max_defer: float = 30.0,
    ) -> None:
        """Loop until `stop` is set: decide hits as they are stored and as they come due.

        While `busy()` says a burst is coming in, classification waits — at most `max_defer`
        seconds at a time — so the same CPU can answer requests first.
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
                n = 0
                await _wait(stop, 2.0)
            except MailbeaconError:
                log.exception("pipeline step failed")
                n = 0
            if n == 0:
                wake.clear()
                await _wait_any(stop, wake, idle)
        if self._lease_until:
            try:
                await asyncio.to_thread(self.store.release_lease, LEASE, self.owner)
            except StoreUnavailable:
                pass


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


# -- replies ----------------------------------------------------------------------------------


def record_replies(runtime: Runtime, replies: Sequence[Reply]) -> list[Reply]:
    """Store recognised inbound messages (each once) and count them (R5-R7).

    Replies to messages whose reply tracking was switched off (R8) are not recorded.
    Returns the replies that were new.
    """
    tracked: dict[int, bool] = {}
    keep = []
    for r in replies:
        if r.message_id not in tracked:
            try:
                tracked[r.message_id] = bool(runtime.store.message(r.message_id).tracking.get("replies", True))
            except NotFound:
                tracked[r.message_id] = False
        if tracked[r.message_id]:
            keep.append(r)
    if not keep:
        return []
    return runtime.store.add_replies(
        keep, runtime.clock(), lambda r: reply_delta(counted_reply_kind(r.kind, r.detail), r.at)
    )
