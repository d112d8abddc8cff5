"""What the stored hits and replies add up to, computed once for every line of the answer. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..model import HitKind, ReplyKind, VerdictClass
from ..stats import Counts, compute, counted_reply_kind
from .facts import Facts, HitFact, ReplyFact
from .machines import MACHINE_CLASSES, Machine, machines


@dataclass(frozen=True, slots=True)
class Seen:
    """`hits`: every hit but self-view beacons. `counts`: the settled numbers, as `stats` counts them."""

    hits: tuple[HitFact, ...]
    counts: Counts
    pending: int
    machines: tuple[Machine, ...]
    self_hits: int
    machine_hits: int
    human_opens: int
    human_clicks: int
    bounces: tuple[ReplyFact, ...]
    delay_warnings: tuple[ReplyFact, ...]
    replies: int
    relay_refused: bool

    @property
    def only_machines(self) -> bool:
        """Machines touched it and nobody else did: no person, no own view, no reply."""
        return bool(self.machine_hits) and self.machine_hits == len(self.hits) and not self.replies

    @property
    def bounced(self) -> bool:
        return bool(self.bounces) or self.relay_refused


def _is(h: HitFact, kind: HitKind, cls: VerdictClass) -> bool:
    return h.kind is kind and h.verdict is cls


def see(facts: Facts) -> Seen:
    hits = tuple(h for h in facts.hits if h.kind is not HitKind.SELF_VIEW)
    settled = [(h.kind, h.link, h.at, h.verdict) for h in hits if h.settled and h.verdict is not None]
    replies = [(counted_reply_kind(r.kind, {"warning": r.warning}), r.at) for r in facts.replies]
    counts = facts.counts if facts.counts is not None else compute(settled, replies)
    return Seen(
        hits=hits,
        counts=counts,
        pending=sum(1 for h in hits if not h.settled or h.verdict is None),
        machines=tuple(machines(hits)),
        self_hits=sum(1 for h in hits if h.verdict is VerdictClass.SELF),
        machine_hits=sum(1 for h in hits if h.verdict in MACHINE_CLASSES),
        human_opens=sum(1 for h in hits if _is(h, HitKind.OPEN, VerdictClass.HUMAN)),
        human_clicks=sum(1 for h in hits if _is(h, HitKind.CLICK, VerdictClass.HUMAN)),
        bounces=tuple(r for r in facts.replies if r.kind is ReplyKind.BOUNCE and not r.warning),
        delay_warnings=tuple(r for r in facts.replies if r.kind is ReplyKind.BOUNCE and r.warning),
        replies=sum(1 for k, _ in replies if k is ReplyKind.REPLY),
        relay_refused=bool(facts.relay),
    )


def first_at(items: tuple[ReplyFact, ...]) -> datetime | None:
    return min((r.at for r in items), default=None)
