"""The facts record the "why" answer is computed from: everything stored about one message and
one recipient, frozen. Built by the store (`Store.why_facts`); plain data, no behaviour."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..model import HitKind, Reason, Relation, ReplyKind, TrackingChoice, VerdictClass
from ..stats import Counts


@dataclass(frozen=True, slots=True)
class HitFact:
    """One pixel load, click, decoy request or self-view beacon, with its current verdict.

    `verdict` is None while the hit waits for its first classification; `settled` is False while
    later evidence may still change it (the settle window).
    """

    kind: HitKind
    at: datetime
    link: int | None
    verdict: VerdictClass | None
    subtype: str | None = None
    reasons: tuple[Reason, ...] = ()
    settled: bool = True
    device_id: str | None = None

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.reasons)


@dataclass(frozen=True, slots=True)
class ReplyFact:
    """An inbound message recorded for this recipient: reply, auto-reply, bounce, report..."""

    kind: ReplyKind
    at: datetime
    from_address: str
    source: str = "imap"
    #: a delivery-delay warning, not a failure (for bounces)
    warning: bool = False
    #: the DSN status (e.g. 5.1.1) and the receiving server's words, for bounces
    status: str | None = None
    diagnostic: str | None = None


@dataclass(frozen=True, slots=True)
class DeviceFact:
    """A browser or app paired with the sender (not revoked)."""

    public_id: str
    kind: str
    name: str
    created_at: datetime
    #: when it last reported a self-view beacon (None: never)
    last_seen_at: datetime | None = None
    #: the webmail sites the browser extension says it may read (None: never reported; "*": all)
    sites: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class MailboxFact:
    """A mailbox of the sender watched for replies, and its health."""

    id: int
    url: str
    state: str
    last_ok_at: datetime | None = None
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class Injection:
    """What instrumenting the message did (`messages.outcome`)."""

    html: bool
    instrumented: bool
    pixel: bool
    decoy: bool
    links: int
    #: why the message went out untouched ("code: detail"), None when it did not fail
    failure: str | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Facts:
    """Everything the answer may use. `switches`/`injection`/`html_bytes`/`relay` are None when not stored.

    `relay`: "" when the outgoing server accepted the copy for this recipient, its refusal when it
    did not, None when the message did not go through the proxy. `public_url`: the tracking address
    the copies carry. `mailboxes` and `devices` are the sender's, as they are now.
    """

    message_id: int
    rfc_message_id: str
    subject: str
    sender: str
    sent_at: datetime
    recipient: str
    relation: Relation
    switches: TrackingChoice | None
    injection: Injection | None
    public_url: str
    #: bytes of the HTML of a copy as sent (what Gmail's clipping counts); None when not recorded
    html_bytes: int | None = None
    relay: str | None = None
    workspace_domains: tuple[str, ...] = ()
    devices: tuple[DeviceFact, ...] = ()
    hits: tuple[HitFact, ...] = ()
    replies: tuple[ReplyFact, ...] = ()
    mailboxes: tuple[MailboxFact, ...] = ()
    #: True when the sender receives replies through the inbound HTTP API (no mailbox needed)
    inbound_api: bool = False
    #: bounces that came back for this message but could not be tied to one recipient
    unattributed_bounces: int = 0
    #: the recipient's counters as `stats` shows them (None: computed from `hits` and `replies`)
    counts: Counts | None = None
    #: seconds a hit's verdict may still change after it arrives
    settle_window: float = 120.0
    #: the workspace's own tracking domain (its `tracking_url` setting), None when it has none
    workspace_tracking_url: str | None = None
