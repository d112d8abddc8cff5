"""What an event says: the JSON every consumer sends, and the sentence a person reads (pure).

One shape for webhooks, the live stream, the dashboard's toasts and the extension's
notifications (docs/webhooks.md). The store writes events (store/events.py); this module only
renders them, given the few facts of the message they need.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from .model import Event, EventKind


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
