"""`instrument()`: one tracked copy of an outgoing message per recipient (the Python API).

Used by apps directly, by the SMTP submission proxy and by the HTTP API. It checks the sender,
decides what to track (R8), records the message with its recipients and links, and renders each
recipient's copy with `mailbeacon.rewrite`. Rewriting never loses mail: when it cannot be done
faithfully, every copy is the original message (Bcc and X-Mailbeacon-Track removed, Message-ID
added when missing) and the reason is stored for the troubleshooting checklist.

    from mailbeacon import instrument
    result = instrument(runtime, message, sender="alice@acme.test")
    for copy in result.copies:
        smtp.sendmail("alice@acme.test", [copy.address], copy.data)
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from email import policy as email_policy
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.parser import BytesParser
from typing import TYPE_CHECKING

from . import rewrite
from .addresses import domain_of, header_addresses, normalise, relation_of
from .errors import AuthError, InvalidInput, NotFound
from .model import HitKind, RecipientField, Relation, TrackingChoice, TrackMode
from .reachability import tracking_base
from .switches import choose_tracking, parse_track
from .tokens import InvalidToken, Keyring

if TYPE_CHECKING:
    from .runtime import Runtime
    from .store import Store

_TOKEN_PATH = re.compile(r"/([oc])/([A-Za-z0-9_-]{8,})")


@dataclass(frozen=True, slots=True)
class Copy:
    """One recipient's copy: send `data` to `address` (envelope recipient) and nobody else."""

    address: str
    recipient_id: int
    field: RecipientField
    relation: Relation
    data: bytes

    def message(self) -> EmailMessage:
        """The copy parsed as an `EmailMessage` (for `smtplib.SMTP.send_message`)."""
        msg = BytesParser(policy=email_policy.default).parsebytes(self.data)
        assert isinstance(msg, EmailMessage)
        return msg


@dataclass(frozen=True, slots=True)
class Instrumented:
    """What `instrument()` did: the stored message, one copy per recipient, and why not more."""

    message_id: int
    rfc_message_id: str
    sender: str
    user_id: int
    workspace_id: int
    copies: tuple[Copy, ...]
    links: tuple[str, ...]
    tracking: TrackingChoice
    html: bool
    instrumented: bool
    failure: str | None
    notes: tuple[str, ...]

    def copy_for(self, address: str) -> Copy:
        a = normalise(address)
        for c in self.copies:
            if c.address == a:
                return c
        raise NotFound(f"{address} is not a recipient of this message")


@dataclass(frozen=True, slots=True)
class _RecipientUrls:
    """One recipient's tracking URLs; no address or other personal data in them."""

    keyring: Keyring
    base: str
    workspace_id: int
    message_id: int
    recipient_id: int

    def click(self, index: int) -> str:
        token = self.keyring.sign(HitKind.CLICK, self.workspace_id, self.message_id, self.recipient_id, link=index)
        return f"{self.base}/c/{token}"

    def pixel(self) -> str:
        token = self.keyring.sign(HitKind.OPEN, self.workspace_id, self.message_id, self.recipient_id)
        return f"{self.base}/o/{token}.gif"

    def decoy(self) -> str:
        return (
            f"{self.base}/c/{self.keyring.sign(HitKind.DECOY, self.workspace_id, self.message_id, self.recipient_id)}"
        )


class OwnUrlResolver:
    """Recognises our own tracking URLs (from earlier messages, quoted) and finds their originals."""

    def __init__(self, keyring: Keyring, store: Store, public_url: str) -> None:
        self.keyring = keyring
        self.store = store
        self.base = public_url.rstrip("/")
        self._links: dict[tuple[int, int], str | None] = {}

    def __call__(self, url: str) -> rewrite.OwnUrl | None:
        m = _TOKEN_PATH.match(url, len(self.base))
        if m is None or url[: len(self.base)].lower() != self.base.lower():
            return None
        try:
            claims = self.keyring.verify(m.group(2))
        except InvalidToken:
            return None
        if claims.kind is HitKind.OPEN and m.group(1) == "o":
            return rewrite.OwnUrl("open")
        if claims.kind is HitKind.DECOY and m.group(1) == "c":
            return rewrite.OwnUrl("decoy")
        if claims.kind is HitKind.CLICK and m.group(1) == "c" and claims.link is not None:
            key = (claims.message_id, claims.link)
            if key not in self._links:
                self._links[key] = self.store.link_url(*key)
            return rewrite.OwnUrl("click", self._links[key])
        return None


def message_bytes(message: EmailMessage | Message | bytes | bytearray | memoryview) -> bytes:
    """The message as bytes: raw input is used as is; a message object is serialised with CRLF."""
    if isinstance(message, bytes | bytearray | memoryview):
        return bytes(message)
    if isinstance(message, Message):
        try:
            return message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
        except Exception as exc:
            raise InvalidInput(f"the message cannot be serialised ({exc}); check its headers and parts") from exc
    raise InvalidInput("message must be an email.message.EmailMessage or the raw bytes of one")


def header_raw(value: object) -> str:
    """A header value as found, with raw 8-bit bytes (SMTPUTF8 mail) read as UTF-8.

    Address headers are parsed from this form: encoded words only ever hold display names, and
    decoding them first could put a comma or an @ where the parser would take it for syntax.
    """
    raw = str(value)
    if any(0xDC80 <= ord(c) <= 0xDCFF for c in raw):
        raw = raw.encode("ascii", "surrogateescape").decode("utf-8", "replace")
    return raw


def header_text(value: object) -> str:
    """A header value as readable text: RFC 2047 words decoded, raw 8-bit bytes read as UTF-8."""
    raw = header_raw(value)
    try:
        return str(make_header(decode_header(raw))).strip()
    except Exception:
        return raw.strip()


def unusable_reason(raw: bytes, heads: Message) -> str | None:
    """Why `raw` cannot be an email to instrument ("code: detail"), or None. Such a message is
    relayed as it came and the reason is recorded (the "why" answer and `stats` show it)."""
    if b"\x00" in raw:
        return "binary: the message contains NUL bytes, so it is binary data, not the text of an email"
    if not heads.keys():
        return "no-headers: the message has no header fields (not an RFC 5322 message)"
    return None


def new_message_id(sender: str) -> str:
    return f"<{secrets.token_hex(12)}.mb@{domain_of(sender) or 'mailbeacon.invalid'}>"


def instrument(
    runtime: Runtime,
    message: EmailMessage | Message | bytes,
    *,
    sender: str,
    recipients: Sequence[str] | None = None,
    track: TrackMode | str | None = None,
    source: str = "python",
    submitted_from: str | None = None,
) -> Instrumented:
    """Record `message` and make one tracked copy per recipient.

    - `sender`: one of a mailbeacon user's addresses (else `AuthError`); the workspace is the user's.
    - `recipients`: the envelope recipients; default: every address in To, Cc and Bcc.
    - `track`: per-email override (`off`, `opens`, `clicks`, `all`); default: the message's
      `X-Mailbeacon-Track` header, if any (always removed from the copies).
    Raises `InvalidInput` for unusable input (no recipients, bad addresses) and
    `StoreUnavailable` when the database cannot record the message; never for malformed mail.
    - `submitted_from`: the client address that submitted it (the SMTP proxy): the sender's network.
    """
    from .store import NewRecipient  # the store (SQLAlchemy) loads only when mail is sent

    raw, marked = rewrite.strip_subject_marker(message_bytes(message))
    store = runtime.store
    sender_addr = normalise(sender)
    try:
        user = store.user(sender_addr)
    except NotFound:
        raise AuthError(
            f"{sender_addr} is not an address of any mailbeacon user: send from one of your addresses, "
            "or add this one to your user"
        ) from None
    workspace = store.workspace(user.workspace_id)
    members = store.workspace_members(workspace.id)
    heads = rewrite.root_headers(raw)
    notes: list[str] = []

    fields: dict[str, RecipientField] = {}
    for name, fld in (("to", RecipientField.TO), ("cc", RecipientField.CC), ("bcc", RecipientField.BCC)):
        values = [header_raw(v) for v in heads.get_all(name, [])]
        for addr in header_addresses(values):
            fields.setdefault(addr, fld)
    envelope = list(dict.fromkeys(normalise(r) for r in recipients)) if recipients is not None else list(fields)
    if not envelope:
        raise InvalidInput("the message has no recipients: add To, Cc or Bcc, or pass recipients=[...]")

    override = parse_track(track)
    if track is not None and override is None:
        raise InvalidInput(f"track must be one of off, opens, clicks, all (not {track!r})")
    header_track = heads.get("x-mailbeacon-track")
    if override is None and header_track is not None:
        override = parse_track(header_text(header_track))
        if override is None:
            notes.append(f"track-header-ignored: {header_text(header_track)[:40]!r} is not off/opens/clicks/all")
    if not marked and rewrite.subject_has_marker(header_text(heads.get("subject", ""))):
        marked = True
        notes.append("notrack-marker-left: the Subject is encoded, so [notrack] could not be removed from it")
    if marked:
        override = TrackMode.OFF  # "[notrack]" in the subject: the per-email switch any client can set
        notes.append("notrack-subject")
    s = runtime.settings
    server = {"track_opens": s.track_opens, "track_clicks": s.track_clicks, "track_replies": s.track_replies}
    choice = choose_tracking(server, workspace.settings, user.settings, override)

    base = tracking_base(runtime.public_url, workspace.settings)
    options = rewrite.Options(
        public_url=base,
        opens=choice.opens,
        clicks=choice.clicks,
        decoy=s.decoy_link,
        rewrite_text=s.rewrite_text,
        resolve=OwnUrlResolver(runtime.keyring, store, base),
        message_id=new_message_id(sender_addr),
    )
    unusable = unusable_reason(raw, heads)
    prepared = rewrite.prepare(raw, options)
    if unusable is not None:  # whatever prepare found, a message like this is sent as it came
        prepared = rewrite.Prepared(
            prepared.message_id, (), False, False, False, unusable, (), (rewrite.untouched(raw, prepared.message_id),)
        )
    if heads.get("from") is None and unusable is None:
        notes.append("no-from-header")
    notes.extend(prepared.notes)
    if not (choice.opens or choice.clicks):
        notes.insert(0, "tracking-off")
    outcome: dict[str, object] = {
        "html": prepared.html,
        "instrumented": prepared.instrumented,
        "failure": prepared.failure,
        "notes": notes,
        "pixel": prepared.pixel,
        "decoy": prepared.decoy,
        "public_url": base,
    }
    stored, rows = store.create_message(
        workspace_id=workspace.id,
        user_id=user.id,
        rfc_message_id=prepared.message_id,
        sender=sender_addr,
        subject=header_text(heads.get("subject", "")),
        sent_at=runtime.clock(),
        links=prepared.links,
        decoy_link=len(prepared.links) if prepared.decoy else None,
        tracking={
            "opens": choice.opens,
            "clicks": choice.clicks,
            "replies": choice.replies,
            "reasons": list(choice.reasons),
        },
        outcome=outcome,
        source=source,
        submitted_from=submitted_from,
        recipients=[
            NewRecipient(
                address=a,
                field=fields.get(a, RecipientField.BCC),
                relation=relation_of(a, sender_addresses=user.addresses, members=members, domains=workspace.domains),
            )
            for a in envelope
        ],
    )
    try:
        copies = tuple(
            Copy(
                r.address,
                r.id,
                r.field,
                r.relation,
                rewrite.render(prepared, _RecipientUrls(runtime.keyring, base, workspace.id, stored.id, r.id)),
            )
            for r in rows
        )
        if copies and prepared.html:  # what Gmail's ~102 KB clipping counts, for the stats
            outcome = {**outcome, "html_bytes": rewrite.html_bytes(copies[0].data)}
            store.update_message_outcome(stored.id, outcome)
    except Exception as exc:  # cannot happen after prepare's self-check; if it does, send untouched
        failure = f"error while rendering: {type(exc).__name__}: {exc}"[:300]
        data = rewrite.untouched(raw, prepared.message_id)
        copies = tuple(Copy(r.address, r.id, r.field, r.relation, data) for r in rows)
        outcome = {**outcome, "instrumented": False, "failure": failure}
        store.update_message_outcome(stored.id, outcome)
    return Instrumented(
        message_id=stored.id,
        rfc_message_id=prepared.message_id,
        sender=sender_addr,
        user_id=user.id,
        workspace_id=workspace.id,
        copies=copies,
        links=prepared.links,
        tracking=choice,
        html=prepared.html,
        instrumented=bool(outcome["instrumented"]),
        failure=outcome["failure"] if isinstance(outcome["failure"], str) else None,
        notes=tuple(notes),
    )
