"""Tolerant reading of inbound mail: headers, message ids, addresses, dates, text parts. Pure.

Nothing here raises on malformed input: broken charsets, raw 8-bit headers, missing boundaries,
invalid message ids and unparseable dates all come out as best-effort text or `None`.
"""

from __future__ import annotations

import email
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import Header, decode_header
from email.message import Message
from email.parser import HeaderParser
from email.policy import compat32
from email.utils import getaddresses, parsedate_to_datetime

from ..addresses import try_normalise
from .markers import DAEMON_SENDERS, ROLE_SENDERS

#: Parts larger than this are not decoded for text scanning (attachments, huge HTML).
MAX_PART_BYTES = 4 * 1024 * 1024
#: At most this many MIME parts are looked at (a hostile message may have thousands).
MAX_PARTS = 200
#: At most this many referenced message ids are considered per message, nearest first (In-Reply-To,
#: then References from its end): a hostile References field may hold a hundred thousand.
MAX_THREAD_IDS = 100
#: At most this many addresses are read from one kind of address field (the proxy relays at most
#: 1000 recipients per message, so the tracked recipient is among the first 1000).
MAX_ADDRESSES = 1000

_WS = re.compile(r"\s+")
_ANGLE_ID = re.compile(r"<([^<>]*)>")
_ID_SEPARATORS = re.compile(r"[\s<>,;\"()]+")


def parse_message(raw: bytes | str) -> Message:
    """The message, parsed leniently (compat32 keeps defects instead of raising)."""
    try:
        if isinstance(raw, str):
            return email.message_from_string(raw, policy=compat32)
        return email.message_from_bytes(bytes(raw), policy=compat32)
    except Exception:  # the stdlib parser is lenient, but never let malformed mail escape
        return Message()


def parse_headers(text: str) -> Message:
    try:
        return HeaderParser(policy=compat32).parsestr(text, headersonly=True)
    except Exception:
        return Message()


def clean(text: str) -> str:
    """Text with undecodable bytes (surrogate escapes) replaced, NULs and controls removed."""
    try:
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeError:
        text = text.encode("utf-8", "replace").decode("utf-8", "replace")
    return "".join(ch for ch in text if ch >= " " or ch in "\t\n")


def _decode_words(value: str) -> str:
    if "=?" not in value:
        return value
    try:
        out: list[str] = []
        for chunk, charset in decode_header(value):
            if isinstance(chunk, bytes):
                out.append(_decode_bytes(chunk, charset))
            else:
                out.append(chunk)
        return "".join(out)
    except Exception:
        return value


def header_values(msg: Message, name: str) -> list[str]:
    """Every value of header `name`, unfolded and decoded (RFC 2047), as clean text."""
    out: list[str] = []
    try:
        raw_values = msg.get_all(name) or []
    except Exception:
        return out
    for item in raw_values:
        value: object = item  # compat32 hands back Header objects for raw 8-bit values
        try:
            if isinstance(value, Header):  # raw 8-bit header bytes
                text = "".join(_decode_bytes(c, cs) if isinstance(c, bytes) else c for c, cs in decode_header(value))
            else:
                text = _decode_words(str(value))
        except Exception:
            text = ""
        out.append(_WS.sub(" ", clean(text)).strip())
    return out


def header(msg: Message, name: str) -> str:
    """The first value of header `name` (see `header_values`), or ''."""
    values = header_values(msg, name)
    return values[0] if values else ""


def has_header(msg: Message, name: str) -> bool:
    try:
        return msg.get(name) is not None
    except Exception:
        return False


def msg_ids(value: str) -> list[str]:
    """Message ids in a header value, in order, as `<local@domain>`.

    Tolerant: empty values, comments, ids folded across lines (`<invalid.\\n something@x>`), missing
    angle brackets and several ids separated by commas or spaces all work. Duplicates are dropped.
    """
    out: dict[str, None] = {}  # ordered, and membership in constant time
    if not value or not value.strip():
        return []
    found = _ANGLE_ID.findall(value)
    if not found:  # bare ids: the separated words with an @ inside (a regex would rescan long words)
        found = [w for w in _ID_SEPARATORS.split(value) if "@" in w[1:-1]]
    for item in found:
        ident = _WS.sub("", item).strip().strip("\"'")
        if not ident or len(ident) > 900 or "<" in ident or ">" in ident:
            continue
        out[f"<{ident}>"] = None
    return list(out)


def id_variants(ident: str) -> tuple[str, ...]:
    """Spellings under which a message id may have been stored: with and without angle brackets."""
    bare = ident.strip().strip("<>").strip()
    return (f"<{bare}>", bare) if bare else ()


def addresses(values: list[str]) -> list[str]:
    """Normalised addresses from address header values, at most `MAX_ADDRESSES`, in order;
    unparseable entries are skipped."""
    out: dict[str, None] = {}  # ordered, and membership in constant time
    try:
        pairs = getaddresses([v for v in values if v])
    except Exception:
        pairs = []
    for _, addr in pairs:
        norm = try_normalise(addr) if addr else None
        if norm:
            out[norm] = None
            if len(out) >= MAX_ADDRESSES:
                break
    return list(out)


def parse_date(value: str) -> datetime | None:
    """An aware UTC datetime from a Date-like header value, or None."""
    if not value:
        return None
    try:
        dt = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    try:
        return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _decode_bytes(data: bytes, charset: str | None) -> str:
    for cs in (charset, "utf-8"):
        if not cs:
            continue
        cs = cs.strip().strip("\"'").lower()
        if cs in ("unknown-8bit", "x-unknown", "unknown", "8bit", "default"):
            continue
        try:
            return data.decode(cs)
        except (LookupError, UnicodeError, ValueError):
            continue
    return data.decode("latin-1")


def part_text(part: Message) -> str:
    """The decoded text of a leaf part (transfer encoding and charset), or '' when not text."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if isinstance(payload, bytes):
        if len(payload) > MAX_PART_BYTES:
            payload = payload[:MAX_PART_BYTES]
        try:
            charset = part.get_content_charset()
        except Exception:
            charset = None
        return _decode_bytes(payload, charset)
    try:
        raw = part.get_payload()
    except Exception:
        return ""
    return clean(raw) if isinstance(raw, str) else ""


def content_type(part: Message) -> str:
    try:
        return part.get_content_type().lower()
    except Exception:
        return "text/plain"


def param(part: Message, name: str) -> str:
    try:
        value = part.get_param(name)
    except Exception:
        return ""
    if isinstance(value, tuple):  # RFC 2231 (charset, language, value)
        value = value[2]
    return str(value or "").strip().lower()


def walk(msg: Message) -> Iterator[tuple[Message, int]]:
    """Every part with its depth of enclosing `message/*` parts (0 = the message itself)."""
    count = 0

    def visit(part: Message, depth: int) -> Iterator[tuple[Message, int]]:
        nonlocal count
        count += 1
        if count > MAX_PARTS:
            return
        yield part, depth
        try:
            payload = part.get_payload()
        except Exception:
            return
        if isinstance(payload, list):
            inner = depth + 1 if content_type(part).startswith("message/") else depth
            for sub in payload:
                if isinstance(sub, Message):
                    yield from visit(sub, inner)

    yield from visit(msg, 0)


def text_parts(msg: Message, *, attached: bool = False) -> Iterator[tuple[str, str]]:
    """`(content type, text)` of text/plain and text/html parts; attached messages only if asked."""
    for part, depth in walk(msg):
        if depth and not attached:
            continue
        ctype = content_type(part)
        if ctype in ("text/plain", "text/html") or (ctype == "text/enriched"):
            text = part_text(part)
            if text:
                yield ctype, text


def texts_by_depth(msg: Message) -> tuple[list[str], list[str]]:
    """Texts of the message's own text parts, and of the messages attached to it."""
    own: list[str] = []
    attached: list[str] = []
    for part, depth in walk(msg):
        if content_type(part) in ("text/plain", "text/html"):
            text = part_text(part)
            if text:
                (attached if depth else own).append(text)
    return own, attached


def header_block(raw: bytes | str) -> bytes:
    data = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else bytes(raw)
    for sep in (b"\r\n\r\n", b"\n\n"):
        idx = data.find(sep)
        if idx >= 0:
            return data[:idx]
    return data[:65536]


def synthetic_id(raw: bytes | str) -> str:
    """A stable stand-in Message-ID for mail that has none (derived from its header block)."""
    digest = hashlib.sha256(header_block(raw)).hexdigest()[:32]
    return f"<{digest}@no-message-id.mailbeacon.invalid>"


@dataclass(frozen=True, slots=True)
class Facts:
    """The header facts recognition works from, read once."""

    message_id: str
    subject: str
    date: datetime | None
    from_addrs: tuple[str, ...]
    reply_to: tuple[str, ...]
    sender: tuple[str, ...]
    to: tuple[str, ...]
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    auto_submitted: str
    null_return_path: bool
    #: From a mail-system daemon (mailer-daemon ...): never a person
    daemon_sender: bool
    #: From a daemon or a role address that sends bounces (postmaster ...)
    system_sender: bool
    failed_recipients: tuple[str, ...]

    @property
    def thread_ids(self) -> tuple[str, ...]:
        """Referenced message ids, nearest first: In-Reply-To, then References from the end;
        at most `MAX_THREAD_IDS` of them."""
        out: dict[str, None] = {}
        for ident in (*self.in_reply_to, *reversed(self.references)):
            if ident != self.message_id:
                out[ident] = None
                if len(out) >= MAX_THREAD_IDS:
                    break
        return tuple(out)

    @property
    def author(self) -> str:
        """The From address ('' when there is none)."""
        return self.from_addrs[0] if self.from_addrs else (self.sender[0] if self.sender else "")


def read_facts(msg: Message, raw: bytes | str) -> Facts:
    own = msg_ids(header(msg, "Message-ID"))
    from_addrs = tuple(addresses(header_values(msg, "From")))
    return_paths = header_values(msg, "Return-Path")
    null_rp = bool(return_paths) and all(not v.strip("<> ") for v in return_paths)
    locals_ = {a.partition("@")[0] for a in from_addrs}
    daemon = bool(locals_ & DAEMON_SENDERS)
    return Facts(
        message_id=own[0] if own else synthetic_id(raw),
        subject=header(msg, "Subject"),
        date=parse_date(header(msg, "Date")),
        from_addrs=from_addrs,
        reply_to=tuple(addresses(header_values(msg, "Reply-To"))),
        sender=tuple(addresses(header_values(msg, "Sender"))),
        to=tuple(addresses(header_values(msg, "To") + header_values(msg, "Cc"))),
        in_reply_to=tuple(i for v in header_values(msg, "In-Reply-To") for i in msg_ids(v))[:MAX_THREAD_IDS],
        references=tuple(i for v in header_values(msg, "References") for i in msg_ids(v))[-MAX_THREAD_IDS:],
        auto_submitted=(header(msg, "Auto-Submitted").split(";")[0].split("(")[0].strip().lower()),
        null_return_path=null_rp,
        daemon_sender=daemon,
        system_sender=daemon or bool(locals_ & ROLE_SENDERS),
        failed_recipients=tuple(addresses(header_values(msg, "X-Failed-Recipients"))),
    )
