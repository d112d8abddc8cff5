"""The vocabulary of mailbeacon: closed sets of kinds and classes, and frozen records.

Everything here is plain data. The pure core (tokens, rewrite, classify, replies, stats)
takes and returns these; the store persists them; the surfaces show them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

#: A clock returns the current time as an aware UTC datetime. Injected everywhere time matters.
Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The real clock (UTC)."""
    return datetime.now(UTC)


class HitKind(StrEnum):
    """What a tracking request was for."""

    #: a load of the recipient's pixel
    OPEN = "open"
    #: a request to one of the recipient's rewritten links
    CLICK = "click"
    #: a request to the hidden decoy link no person can see (strong scanner evidence)
    DECOY = "decoy"
    #: a signed beacon from the sender's paired device: "I am showing this message now"
    SELF_VIEW = "self_view"


class VerdictClass(StrEnum):
    """Who or what caused a hit. A closed set; every verdict names one."""

    #: a person reading or clicking (directly or through a mail provider's image proxy)
    HUMAN = "human"
    #: the sender themself (a paired browser or device)
    SELF = "self"
    #: a privacy prefetch that is not a reading: Apple Mail Privacy Protection, Gmail prefetch
    MACHINE_OPEN = "machine_open"
    #: a security gateway, link checker, antivirus, HTTP library, decoy hit or HEAD probe
    SCANNER = "scanner"
    #: a link unfurler or chat preview (a hint that the email was forwarded or shared)
    PREVIEW = "preview"
    #: not enough evidence either way
    UNKNOWN = "unknown"


class RecipientField(StrEnum):
    """Which envelope field named the recipient."""

    TO = "to"
    CC = "cc"
    BCC = "bcc"


class Relation(StrEnum):
    """Who a recipient is, seen from the sender's workspace."""

    #: anyone outside the workspace (a lead, a client)
    EXTERNAL = "external"
    #: a member of the sender's workspace or an address in one of its domains (R6)
    COLLEAGUE = "colleague"
    #: one of the sender's own addresses
    SENDER = "sender"


class ReplyKind(StrEnum):
    """What an inbound message that refers to a tracked email is."""

    #: a person answering (counts as a reply, and proves an open - R5)
    REPLY = "reply"
    #: an automatic answer: out of office, vacation, RFC 3834 (recorded, not counted)
    AUTO_REPLY = "auto_reply"
    #: a delivery status notification or non-standard bounce (recorded, not counted)
    BOUNCE = "bounce"
    #: a reply from a workspace member or workspace domain (recorded, not counted - R6)
    COLLEAGUE = "colleague"
    #: the sender's own message in the thread (recorded, not counted)
    SENDER = "sender"
    #: a read receipt (MDN) or abuse report (ARF) (recorded, not counted)
    REPORT = "report"


class TrackMode(StrEnum):
    """Per-email tracking override (`X-Mailbeacon-Track` header, API and Python argument)."""

    OFF = "off"
    OPENS = "opens"
    CLICKS = "clicks"
    ALL = "all"


@dataclass(frozen=True, slots=True)
class Reason:
    """One piece of evidence behind a verdict: a stable code and a sentence a user can read."""

    code: str
    text: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """The class of a hit and why. `subtype` refines it (e.g. human/gmail_proxy)."""

    cls: VerdictClass
    reasons: tuple[Reason, ...]
    subtype: str | None = None
    rules_version: str = ""

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.reasons)

    @property
    def sentence(self) -> str:
        return "; ".join(r.text for r in self.reasons)


@dataclass(frozen=True, slots=True)
class Hit:
    """One request to a tracking URL (or one self-view beacon), as received.

    `headers` holds only the whitelisted request headers, with lower-case names.
    `device_id` is the public id of a paired device whose valid cookie came with the request.
    """

    uid: str
    kind: HitKind
    workspace_id: int
    message_id: int
    recipient_id: int
    at: datetime
    link: int | None = None
    method: str = "GET"
    ip: str = ""
    user_agent: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    device_id: str | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class MessageInfo:
    """What the classifier and the statistics need to know about a tracked message."""

    id: int
    workspace_id: int
    sender: str
    sent_at: datetime
    links: int
    decoy_link: int | None = None
    sender_devices: frozenset[str] = frozenset()
    #: client addresses that submitted this message and the sender's later ones (SMTP proxy)
    sender_networks: frozenset[str] = frozenset()
    sender_addresses: frozenset[str] = frozenset()
    workspace_domains: frozenset[str] = frozenset()
    workspace_members: frozenset[str] = frozenset()
    rfc_message_id: str = ""
    subject: str = ""


@dataclass(frozen=True, slots=True)
class ClassifyContext:
    """Everything `classify` may look at besides the hit itself. Built by the pipeline.

    - `other_hits`: the same recipient's other hits (any kind, including self-view beacons),
      ordered by time.
    - `peer_hits`: hits of *other* recipients of the same message from the same IP address.
    - `settle_window`: seconds after a hit during which later evidence may still change it.
    """

    message: MessageInfo
    recipient: str
    relation: Relation
    other_hits: tuple[Hit, ...] = ()
    peer_hits: tuple[Hit, ...] = ()
    self_view_window: float = 10.0
    settle_window: float = 120.0


@dataclass(frozen=True, slots=True)
class TrackingChoice:
    """What was tracked for a message, and why something was not."""

    opens: bool
    clicks: bool
    replies: bool
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Workspace:
    id: int
    name: str
    domains: tuple[str, ...]
    settings: Mapping[str, object]


ROLE_ADMIN = "admin"
ROLE_MEMBER = "member"


@dataclass(frozen=True, slots=True)
class User:
    id: int
    workspace_id: int
    email: str
    addresses: tuple[str, ...]
    role: str  # ROLE_ADMIN (the workspace's messages, members, settings) | ROLE_MEMBER (their own)
    settings: Mapping[str, object]
    password_hash: str = ""
    upstream_smtp: str | None = None  # encrypted

    @property
    def is_admin(self) -> bool:
        return self.role == ROLE_ADMIN


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A user's API key as listed: the key itself is shown once, at creation, and stored hashed."""

    id: int
    user_id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Device:
    """A browser or app paired with a user; its pixel loads and beacons are the sender's own."""

    public_id: str
    user_id: int
    kind: str
    name: str
    created_at: datetime
    last_seen_at: datetime | None = None
    revoked_at: datetime | None = None
    #: the browser extension's own report: webmail sites it may read (None: never reported),
    #: when it reported, when it last acted (sent a self-view beacon)
    sites: tuple[str, ...] | None = None
    reported_at: datetime | None = None
    last_acted_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Recipient:
    id: int
    message_id: int
    address: str
    field: RecipientField
    relation: Relation


@dataclass(frozen=True, slots=True)
class Message:
    id: int
    workspace_id: int
    user_id: int
    rfc_message_id: str
    sender: str
    subject: str
    sent_at: datetime
    links: int
    decoy_link: int | None
    tracking: Mapping[str, object]
    outcome: Mapping[str, object]
    source: str


@dataclass(frozen=True, slots=True)
class Reply:
    """An inbound message recognised as referring to a tracked email."""

    message_id: int
    recipient_id: int | None
    rfc_message_id: str
    kind: ReplyKind
    from_address: str
    at: datetime
    other_address: bool = False
    detail: Mapping[str, object] = field(default_factory=dict)
    source: str = "imap"
    mailbox_id: int | None = None
    id: int | None = None


class EventKind(StrEnum):
    """What an event of the outbox tells (docs/webhooks.md). Machine and self hits make none."""

    #: a counted open (the first and every repeat; `data["count"]` is the recipient's counted opens)
    OPEN = "open"
    #: a counted click (`data["link"]`, `data["url"]`)
    CLICK = "click"
    #: a person's reply (R5: also proves an open)
    REPLY = "reply"
    #: an out-of-office or other automatic answer
    AUTO_REPLY = "auto_reply"
    #: a delivery failure: a DSN, or a provider's bounce (`data["provider"]`); complaints are recorded as reports, untold
    BOUNCE = "bounce"
    #: an open known only from a click or a reply while the pixel was blocked (R5)
    OPEN_INFERRED = "open_inferred"
    #: an open or click told while its verdict was provisional turned out not to be a person's
    #: (`data["corrects"]`: the event it takes back)
    CORRECTION = "correction"


@dataclass(frozen=True, slots=True)
class Event:
    """One row of the outbox: written in the transaction that made it true, read from a cursor.

    `key` names its cause (`"hit:42"`, `"reply:7"`): writing the same cause twice stores one
    event. `id` is the outbox position: the stream's event id and every consumer's cursor.
    """

    kind: EventKind
    workspace_id: int
    user_id: int
    message_id: int
    recipient_id: int | None
    at: datetime
    key: str
    data: Mapping[str, object] = field(default_factory=dict)
    id: int | None = None
    created_at: datetime | None = None
