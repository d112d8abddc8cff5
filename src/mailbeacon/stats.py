"""Counting what people did, from verdicts. Pure.

The pipeline keeps counters up to date incrementally: each hit adds its `hit_delta` once,
when its verdict settles, and each recorded reply adds its `reply_delta`. `compute` rebuilds the
same numbers from raw hits and replies; a test checks that both agree.

Rules (PRODUCT.md R1-R6, R9):
- opens: pixel hits whose verdict is `human` (a person, including through Gmail's or Yahoo's
  image proxy). Self, machine, scanner, preview and unknown opens are counted apart.
- clicks: link hits by `human` or `self` (R4: the sender's clicks count, flagged as self).
- an inferred open (R5) exists when no human open was counted but a human click or a reply
  proves the email was read; `opens` = human opens + inferred open.
- replies: only `reply` counts; auto-replies, bounces, colleague and sender messages are
  recorded apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any

from .model import HitKind, ReplyKind, VerdictClass

OPEN_FIELD = {
    VerdictClass.HUMAN: "opens_human",
    VerdictClass.SELF: "opens_self",
    VerdictClass.MACHINE_OPEN: "opens_machine",
    VerdictClass.SCANNER: "opens_scanner",
    VerdictClass.PREVIEW: "opens_other",
    VerdictClass.UNKNOWN: "opens_other",
}
CLICK_FIELD = {
    VerdictClass.HUMAN: "clicks_human",
    VerdictClass.SELF: "clicks_self",
    VerdictClass.SCANNER: "clicks_scanner",
    VerdictClass.MACHINE_OPEN: "clicks_other",
    VerdictClass.PREVIEW: "clicks_other",
    VerdictClass.UNKNOWN: "clicks_other",
}
REPLY_FIELD = {
    ReplyKind.REPLY: "replies",
    ReplyKind.AUTO_REPLY: "auto_replies",
    ReplyKind.BOUNCE: "bounces",
    ReplyKind.COLLEAGUE: "other_replies",
    ReplyKind.SENDER: "other_replies",
    ReplyKind.REPORT: "other_replies",
}
COUNTED_CLICK = (VerdictClass.HUMAN, VerdictClass.SELF)


@dataclass(frozen=True, slots=True)
class Counts:
    """Per-recipient counters, as stored. Integers add; timestamps take min/max."""

    opens_human: int = 0
    opens_self: int = 0
    opens_machine: int = 0
    opens_scanner: int = 0
    opens_other: int = 0
    clicks_human: int = 0
    clicks_self: int = 0
    clicks_scanner: int = 0
    clicks_other: int = 0
    hits_human: int = 0
    hits_self: int = 0
    hits_machine_open: int = 0
    hits_scanner: int = 0
    hits_preview: int = 0
    hits_unknown: int = 0
    replies: int = 0
    auto_replies: int = 0
    bounces: int = 0
    other_replies: int = 0
    first_open_at: datetime | None = None
    last_open_at: datetime | None = None
    first_click_at: datetime | None = None
    last_click_at: datetime | None = None
    first_reply_at: datetime | None = None
    #: counted clicks per link index
    link_clicks: Mapping[int, int] = field(default_factory=dict)
    #: scanner clicks per link index
    link_scanner_clicks: Mapping[int, int] = field(default_factory=dict)

    # -- derived ------------------------------------------------------------------------------

    @property
    def opens_inferred(self) -> int:
        return 1 if self.opens_human == 0 and (self.clicks_human > 0 or self.replies > 0) else 0

    @property
    def inferred_from(self) -> str | None:
        if not self.opens_inferred:
            return None
        return "inferred_from_click" if self.clicks_human > 0 else "inferred_from_reply"

    @property
    def opens(self) -> int:
        return self.opens_human + self.opens_inferred

    @property
    def clicks(self) -> int:
        return self.clicks_human + self.clicks_self

    @property
    def effective_first_open_at(self) -> datetime | None:
        if self.opens_human:
            return self.first_open_at
        if self.clicks_human and self.first_click_at:
            return self.first_click_at
        if self.replies:
            return self.first_reply_at
        return None

    @property
    def effective_last_open_at(self) -> datetime | None:
        if self.opens_human:
            return self.last_open_at
        return self.effective_first_open_at

    def hits_by_class(self) -> dict[str, int]:
        return {
            "human": self.hits_human,
            "self": self.hits_self,
            "machine_open": self.hits_machine_open,
            "scanner": self.hits_scanner,
            "preview": self.hits_preview,
            "unknown": self.hits_unknown,
        }


INT_FIELDS = tuple(f.name for f in fields(Counts) if f.type == "int")
_MIN_FIELDS = ("first_open_at", "first_click_at", "first_reply_at")
_MAX_FIELDS = ("last_open_at", "last_click_at")


def hit_delta(kind: HitKind, link: int | None, at: datetime, cls: VerdictClass) -> Counts:
    """What one classified hit adds to its recipient's counters."""
    d: dict[str, Any] = {"hits_" + cls.value: 1}
    if kind is HitKind.OPEN:
        d[OPEN_FIELD[cls]] = 1
        if cls is VerdictClass.HUMAN:
            d["first_open_at"] = d["last_open_at"] = at
    elif kind is HitKind.CLICK:
        d[CLICK_FIELD[cls]] = 1
        if cls in COUNTED_CLICK:
            d["first_click_at"] = d["last_click_at"] = at
            if link is not None:
                d["link_clicks"] = {link: 1}
        elif cls is VerdictClass.SCANNER and link is not None:
            d["link_scanner_clicks"] = {link: 1}
    elif kind is HitKind.SELF_VIEW:
        return Counts()
    return Counts(**d)


def counted_reply_kind(kind: ReplyKind, detail: Mapping[str, object]) -> ReplyKind:
    """How a recorded inbound message is counted: a delivery-delay warning is not a bounce."""
    if kind is ReplyKind.BOUNCE and detail.get("warning"):
        return ReplyKind.REPORT
    return kind


def reply_delta(kind: ReplyKind, at: datetime) -> Counts:
    """What one recorded inbound message adds to its recipient's counters (see `counted_reply_kind`)."""
    d: dict[str, Any] = {REPLY_FIELD[kind]: 1}
    if kind is ReplyKind.REPLY:
        d["first_reply_at"] = at
    return Counts(**d)


def _merge_map(a: Mapping[int, int], b: Mapping[int, int]) -> Mapping[int, int]:
    if not b:
        return a
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, 0) + v
    return out


def _pick(a: datetime | None, b: datetime | None, fn: Any) -> datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return fn(a, b)  # type: ignore[no-any-return]


def add(a: Counts, b: Counts) -> Counts:
    changes: dict[str, Any] = {name: getattr(a, name) + getattr(b, name) for name in INT_FIELDS}
    for name in _MIN_FIELDS:
        changes[name] = _pick(getattr(a, name), getattr(b, name), min)
    for name in _MAX_FIELDS:
        changes[name] = _pick(getattr(a, name), getattr(b, name), max)
    changes["link_clicks"] = _merge_map(a.link_clicks, b.link_clicks)
    changes["link_scanner_clicks"] = _merge_map(a.link_scanner_clicks, b.link_scanner_clicks)
    return replace(a, **changes)


def compute(
    hits: Iterable[tuple[HitKind, int | None, datetime, VerdictClass]],
    replies: Iterable[tuple[ReplyKind, datetime]] = (),
) -> Counts:
    """Counters rebuilt from settled hits `(kind, link, at, verdict class)` and replies `(kind, at)`."""
    total = Counts()
    for kind, link, at, cls in hits:
        total = add(total, hit_delta(kind, link, at, cls))
    for rkind, at in replies:
        total = add(total, reply_delta(rkind, at))
    return total


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat().replace("+00:00", "Z") if dt else None


def recipient_view(address: str, c: Counts, *, provisional: Mapping[str, int] | None = None) -> dict[str, Any]:
    """The JSON shape of one recipient's numbers (`mailbeacon stats --json`, the API)."""
    view: dict[str, Any] = {
        "address": address,
        "opens": c.opens,
        "opens_human": c.opens_human,
        "opens_inferred": c.opens_inferred,
        "inferred_from": c.inferred_from,
        "opens_machine": c.opens_machine,
        "opens_self": c.opens_self,
        "clicks": c.clicks,
        "clicks_self": c.clicks_self,
        "clicks_scanner": c.clicks_scanner,
        "replies": c.replies,
        "auto_replies": c.auto_replies,
        "bounces": c.bounces,
        "first_open_at": _iso(c.effective_first_open_at),
        "last_open_at": _iso(c.effective_last_open_at),
        "first_click_at": _iso(c.first_click_at),
        "last_click_at": _iso(c.last_click_at),
        "hits": c.hits_by_class(),
        "links": {str(k): v for k, v in sorted(c.link_clicks.items())},
    }
    if provisional:
        view["provisional_hits"] = dict(provisional)
    return view


def message_view(recipients: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals and unique counts over a message's recipient views."""
    totals: dict[str, Any] = {
        "opens": sum(r["opens"] for r in recipients),
        "unique_opens": sum(1 for r in recipients if r["opens"]),
        "opens_inferred": sum(r["opens_inferred"] for r in recipients),
        "opens_machine": sum(r["opens_machine"] for r in recipients),
        "opens_self": sum(r["opens_self"] for r in recipients),
        "clicks": sum(r["clicks"] for r in recipients),
        "unique_clicks": sum(1 for r in recipients if r["clicks"]),
        "clicks_scanner": sum(r["clicks_scanner"] for r in recipients),
        "replies": sum(r["replies"] for r in recipients),
        "unique_replies": sum(1 for r in recipients if r["replies"]),
    }
    hits: dict[str, int] = {}
    links: dict[str, int] = {}
    for r in recipients:
        for k, v in r["hits"].items():
            hits[k] = hits.get(k, 0) + v
        for k, v in r["links"].items():
            links[k] = links.get(k, 0) + v
    totals["hits"] = hits
    totals["links"] = links
    return totals


def glance(c: Counts) -> tuple[str, str]:
    """A recipient's state at a glance, strongest first: (code, label) — "replied", "Opened 3×" ...

    Only machines so far: something fetched the pixel or the links (a scanner, a prefetch, a
    preview) but no person has been seen — the email may be unread or held by a security gateway.
    """
    if c.bounces:
        return "bounced", "Bounced"
    if c.replies:
        return "replied", "Replied"
    if c.clicks:
        return "clicked", f"Clicked {c.clicks}×" if c.clicks > 1 else "Clicked"
    if c.opens:
        return "opened", f"Opened {c.opens}×" if c.opens > 1 else "Opened"
    if c.hits_machine_open + c.hits_scanner + c.hits_preview + c.hits_unknown:
        return "machines", "Only machines so far"
    return "sent", "Sent"


def last_activity(c: Counts) -> datetime | None:
    """When a person last did something with the email (open, click, reply); None: nothing yet."""
    times = [t for t in (c.last_open_at if c.opens_human else None, c.last_click_at, c.first_reply_at) if t]
    return max(times) if times else None
