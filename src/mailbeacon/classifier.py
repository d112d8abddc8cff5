"""Deciding stored hits: the pure `classify` plus the stored context each hit is judged in.

    stored hits ──contexts()──▶ ClassifyContext per hit ──classify (pure)──▶ Verdict
                                                          └─ settle_at: provisional until then, or settled now

Both the settling loop (`pipeline.py`) and reclassification (`reclassify.py`) decide through a
`Classifier`, so a hit gets the same verdict whichever of them looks at it. It reads the store
(the recipient's other hits, other recipients' hits from the same address, the message and the
recipient) and keeps small caches of the message and recipient records; it writes nothing.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from .classify import classify, rules_version
from .config import Settings
from .errors import NotFound
from .model import ClassifyContext, Hit, MessageInfo, Reason, Recipient, Verdict, VerdictClass
from .store import Store

log = logging.getLogger("mailbeacon.classifier")

#: how far back a hit's classification looks at the recipient's earlier hits
LOOKBACK = timedelta(hours=24)
#: how far back it looks at other recipients' hits from the same address
PEER_LOOKBACK = timedelta(hours=1)
#: seconds a message's context (devices, members) is reused before it is read again
MESSAGE_CACHE_SECONDS = 30.0
MESSAGE_CACHE_SIZE = 5000
RECIPIENT_CACHE_SIZE = 50_000

#: a hit, its verdict, and when it settles (None: settled now)
Decided = tuple[Hit, Verdict, datetime | None]

Rules = Callable[[Hit, ClassifyContext], Verdict]


class Classifier:
    def __init__(self, store: Store, settings: Settings, *, rules: Rules = classify) -> None:
        self.store = store
        self.settings = settings
        self.rules = rules
        self._messages: OrderedDict[int, tuple[float, MessageInfo]] = OrderedDict()
        self._recipients: OrderedDict[int, Recipient] = OrderedDict()

    # -- the records a context is built from (cached) ------------------------------------------

    def message_info(self, message_id: int) -> MessageInfo:
        cached = self._messages.get(message_id)
        now = time.monotonic()
        if cached is not None and now - cached[0] < MESSAGE_CACHE_SECONDS:
            return cached[1]
        info = self.store.message_info(message_id)
        self._messages[message_id] = (now, info)
        self._messages.move_to_end(message_id)
        while len(self._messages) > MESSAGE_CACHE_SIZE:
            self._messages.popitem(last=False)
        return info

    def recipient(self, recipient_id: int) -> Recipient:
        r = self._recipients.get(recipient_id)
        if r is None:
            r = self.store.recipient(recipient_id)
            self._recipients[recipient_id] = r
            while len(self._recipients) > RECIPIENT_CACHE_SIZE:
                self._recipients.popitem(last=False)
        return r

    def forget_messages(self) -> None:
        """Drop cached message context (devices, members may have changed)."""
        self._messages.clear()

    # -- contexts and verdicts ----------------------------------------------------------------

    def contexts(self, hits: Sequence[Hit]) -> dict[int, ClassifyContext | None]:
        """A classification context per hit id (None when its message or recipient is gone)."""
        s = self.settings
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

    @staticmethod
    def unknown(code: str, text: str) -> Verdict:
        """The verdict of a hit the rules could not judge, with the reason."""
        return Verdict(VerdictClass.UNKNOWN, (Reason(code, text),), rules_version=rules_version())

    def verdict(self, hit: Hit, ctx: ClassifyContext | None) -> Verdict:
        """The rules' verdict; `unknown` (with the reason) when the message is gone or a rule fails."""
        if ctx is None:
            return self.unknown("message_gone", "the tracked message or recipient no longer exists")
        try:
            return self.rules(hit, ctx)
        except Exception:  # a rule bug must not stop the pipeline
            log.exception("classifier failed on hit %s", hit.id)
            return self.unknown("classifier_error", "the classifier failed on this hit; see the server log")

    def decide(self, hits: Sequence[Hit], now: datetime) -> list[Decided]:
        """Each hit's verdict, settled if its settling window has passed at `now`."""
        if not hits:
            return []
        window = timedelta(seconds=self.settings.settle_window)
        ctxs = self.contexts(hits)
        out: list[Decided] = []
        for h in hits:
            assert h.id is not None
            settle_at = h.at + window
            out.append((h, self.verdict(h, ctxs[h.id]), None if now >= settle_at else settle_at))
        return out
