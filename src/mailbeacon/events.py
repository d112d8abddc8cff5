"""Which events a verdict or a reply makes, what an event says: the JSON every consumer sends
and the sentence a person reads (pure).

One shape for webhooks, the live stream, the dashboard's toasts and the extension's
notifications (docs/webhooks.md). The store writes events in the transaction that stores the
verdict or the reply (store/events.py), deciding them here from what the outbox already told
(`Told`); this module renders them, given the few facts of the message they need.

A person's open or click is told at its provisional verdict (`data.provisional`: true), seconds
after it happened, not after the settle window; should the settled verdict not count it, a
`correction` event takes it back. Machine, scanner, preview, unknown and self hits make none.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from urllib.parse import urlsplit

from .model import Event, EventKind, Hit, HitKind, Reply, ReplyKind, Verdict, VerdictClass
from .stats import Counts, counted_reply_kind


@dataclass(frozen=True, slots=True)
class About:
    """The facts of the email an event is about."""

    subject: str
    sender: str
    rfc_message_id: str
    #: the recipient's address (None for a bounce or reply matched to no recipient)
    recipient: str | None


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th ... 11th, 12th, 13th, 21st."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _link(url: object) -> str:
    """A link as a person names it: host and path, without the scheme, query or a trailing slash."""
    if not isinstance(url, str) or not url:
        return "a link"
    parts = urlsplit(url)
    if not parts.netloc:
        return url[:60]
    shown = (parts.netloc + parts.path).rstrip("/")
    return shown if len(shown) <= 60 else shown[:59] + "…"


def _subject(about: About) -> str:
    s = " ".join(about.subject.split()) or "(no subject)"
    return f"“{s if len(s) <= 60 else s[:59] + '…'}”"


def text(event: Event, about: About) -> str:
    """One sentence for a notification: "bob@client.example opened “Proposal” (2nd time)"."""
    who = about.recipient or "Someone"
    subject = _subject(about)
    d = event.data
    if event.kind is EventKind.OPEN:
        count = d.get("count")
        again = f" ({ordinal(count)} time)" if isinstance(count, int) and count > 1 else ""
        return f"{who} opened {subject}{again}"
    if event.kind is EventKind.CLICK:
        return f"{who} clicked {_link(d.get('url'))} in {subject}"
    if event.kind is EventKind.REPLY:
        return f"{who} replied to {subject}"
    if event.kind is EventKind.AUTO_REPLY:
        return f"{who} answered {subject} automatically (out of office or similar)"
    if event.kind is EventKind.BOUNCE:
        via = f" (reported by {d['provider']})" if isinstance(d.get("provider"), str) else ""
        return f"{subject} to {about.recipient or 'a recipient'} could not be delivered{via}"
    if event.kind is EventKind.CORRECTION:
        what = "click" if d.get("corrected_kind") == "click" else "open"
        why = d.get("reason")
        return f"Correction: the {what} of {subject} by {who} was not a person" + (f" ({why})" if why else "")
    # OPEN_INFERRED: a click or a reply with the pixel blocked
    return f"{who} opened {subject} (known from a {d.get('from', 'click')}: images are blocked)"


def payload(event: Event, about: About) -> dict[str, object]:
    """The body of a webhook delivery and of a stream message (Standard Webhooks: type, timestamp, data)."""
    if event.id is None:
        raise ValueError("an event is rendered once it is stored (it has no id yet)")
    return {
        "type": event.kind.value,
        "timestamp": event.at.isoformat().replace("+00:00", "Z"),
        "data": {
            "event_id": f"evt_{event.id}",
            "message_id": event.message_id,
            "rfc_message_id": about.rfc_message_id,
            "subject": about.subject,
            "sender": about.sender,
            "recipient_id": event.recipient_id,
            "recipient": about.recipient,
            "provisional": bool(event.data.get("provisional", False)),
            **{k: v for k, v in event.data.items() if k != "provisional"},
            "text": text(event, about),
        },
    }


# -- which events the pipeline's writes make ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Owner:
    """Whose mail a message is: an event goes to its workspace and its sender (user)."""

    message_id: int
    workspace_id: int
    user_id: int


@dataclass(frozen=True, slots=True)
class Told:
    """What the outbox has told of one recipient so far (read in the writing transaction)."""

    #: open events that stand (told, not corrected): the `count` of the next open is one more
    opens: int = 0
    #: hit id -> id of the open or click event told of it (corrected or not)
    hits: Mapping[int, int | None] = field(default_factory=dict)
    #: hits whose event a correction took back
    corrected: frozenset[int] = frozenset()
    #: the recipient's open_inferred was told
    inferred: bool = False


def hit_key(hit_id: int) -> str:
    return f"hit:{hit_id}"


def correction_key(key: str) -> str:
    return f"correction:{key}"


def reply_key(reply_id: int) -> str:
    return f"reply:{reply_id}"


def inferred_key(recipient_id: int) -> str:
    return f"inferred:{recipient_id}"


def counted(kind: HitKind, cls: VerdictClass) -> bool:
    """Is this a person's open or click, the kind of hit that is told? (Self, machine, scanner,
    preview and unknown hits are not; neither are decoy requests and self-view beacons.)"""
    return kind in (HitKind.OPEN, HitKind.CLICK) and cls is VerdictClass.HUMAN


def _event(kind: EventKind, owner: Owner, recipient_id: int | None, at: datetime, key: str, **data: object) -> Event:
    return Event(
        kind=kind,
        workspace_id=owner.workspace_id,
        user_id=owner.user_id,
        message_id=owner.message_id,
        recipient_id=recipient_id,
        at=at,
        key=key,
        data=data,
    )


def verdict_events(
    decided: Iterable[tuple[Hit, Verdict, bool]],
    owners: Mapping[int, Owner],
    told: Mapping[int, Told],
    urls: Mapping[tuple[int, int], str],
    now: datetime,
) -> tuple[list[Event], dict[int, Told]]:
    """The events of a batch of verdicts `(hit, verdict, settled)`, oldest hit first, and what is
    told of each recipient afterwards.

    A person's open or click not told yet is told (provisional until settled; an open carries
    the recipient's standing opens, this one included, as `count`; a click its link index and
    URL). A hit told before that a later verdict does not count gets a correction.
    """
    after = dict(told)
    out: list[Event] = []
    for hit, verdict, settled in sorted(decided, key=lambda d: (d[0].at, d[0].id or 0)):
        owner = owners.get(hit.message_id)
        if hit.id is None or owner is None or hit.kind not in (HitKind.OPEN, HitKind.CLICK):
            continue
        t = after.get(hit.recipient_id, Told())
        if counted(hit.kind, verdict.cls):
            if hit.id in t.hits:
                continue  # told already (a retried batch, the settled verdict of a provisional one)
            extra: dict[str, object] = {"hit_id": hit.id, "provisional": not settled}
            if hit.kind is HitKind.OPEN:
                kind, extra["count"] = EventKind.OPEN, t.opens + 1
            else:
                url = urls.get((hit.message_id, hit.link)) if hit.link is not None else None
                kind, extra["link"], extra["url"] = EventKind.CLICK, hit.link, url
            out.append(_event(kind, owner, hit.recipient_id, hit.at, hit_key(hit.id), **extra))
            t = replace(t, hits={**t.hits, hit.id: None}, opens=t.opens + (hit.kind is HitKind.OPEN))
        elif hit.id in t.hits and hit.id not in t.corrected:
            event_id = t.hits[hit.id]
            out.append(
                _event(
                    EventKind.CORRECTION,
                    owner,
                    hit.recipient_id,
                    now,
                    correction_key(hit_key(hit.id)),
                    hit_id=hit.id,
                    corrects=f"evt_{event_id}" if event_id is not None else None,
                    corrected_kind=hit.kind.value,
                    verdict=verdict.cls.value,
                    reason=verdict.reasons[0].text if verdict.reasons else None,
                    provisional=not settled,
                )
            )
            t = replace(t, corrected=t.corrected | {hit.id}, opens=t.opens - (hit.kind is HitKind.OPEN))
        after[hit.recipient_id] = t
    return out, after


def reply_event(reply: Reply, owner: Owner) -> Event | None:
    """A counted reply, an automatic answer or a bounce is told; a colleague's or the sender's
    message, a report and a delay warning are not."""
    if reply.id is None:
        return None
    kind = counted_reply_kind(reply.kind, reply.detail)
    data: dict[str, object] = {"reply_id": reply.id, "from_address": reply.from_address}
    if kind is ReplyKind.REPLY and reply.recipient_id is not None:
        event_kind = EventKind.REPLY
    elif kind is ReplyKind.AUTO_REPLY:
        event_kind = EventKind.AUTO_REPLY
    elif kind is ReplyKind.BOUNCE:
        event_kind = EventKind.BOUNCE
        for name in ("provider", "status", "diagnostic", "failed_recipient"):
            value = reply.detail.get(name)
            if isinstance(value, str) and value:
                data[name] = value[:300]
    else:
        return None
    return _event(event_kind, owner, reply.recipient_id, reply.at, reply_key(reply.id), **data)


def inferred_event(recipient_id: int, owner: Owner, counts: Counts, told: Told) -> Event | None:
    """R5: the first time the counters infer an open (a person's click or reply, no counted open)
    while no open of the recipient stands in the outbox, it is told once."""
    at = counts.effective_first_open_at
    if not counts.opens_inferred or told.opens > 0 or told.inferred or at is None:
        return None
    source = "click" if counts.inferred_from == "inferred_from_click" else "reply"
    return _event(EventKind.OPEN_INFERRED, owner, recipient_id, at, inferred_key(recipient_id), **{"from": source})
