"""IMAP wire details that need no connection: mailbox URLs, folder-name encoding (modified
UTF-7), quoting, response-line patterns, the records a fetch yields. Pure."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import unquote, urlsplit

from ..errors import InvalidInput

_LITERAL = re.compile(rb"\{(\d+)\+?\}\r?\n?$")
_CODE = re.compile(rb"\[([A-Z-]+)(?: ([^\]]*))?\]", re.I)
_FETCH_ITEM = re.compile(
    rb"(UID|RFC822\.SIZE|INTERNALDATE|BODY\[[^\]]*\](?:<\d+>)?)\s+(\d+|\"(?:[^\"\\]|\\.)*\"|NIL|\{(\d+)\})", re.I
)
MAX_LITERAL = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class MailboxUrl:
    """`imap://user@host:port` (STARTTLS when offered), `imaps://` (TLS), `imap+starttls://` (required)."""

    scheme: str
    host: str
    port: int
    user: str
    password: str = ""

    @property
    def display(self) -> str:
        """The URL without the password (what is stored and shown)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        user = self.user.replace("%", "%25").replace("@", "%40").replace(":", "%3A").replace("/", "%2F")
        return f"{self.scheme}://{user}@{host}:{self.port}"


def parse_url(url: str) -> MailboxUrl:
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise InvalidInput(f"'{url}' is not a mailbox URL: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("imap", "imaps", "imap+starttls"):
        raise InvalidInput(f"'{url}' is not a mailbox URL: use imaps://user@host:993 or imap://user@host:143")
    if not parts.hostname or not parts.username:
        raise InvalidInput(f"'{url}' needs a user and a host: imaps://user@host:993")
    return MailboxUrl(
        scheme=scheme,
        host=parts.hostname,
        port=port or (993 if scheme == "imaps" else 143),
        user=unquote(parts.username),
        password=unquote(parts.password or ""),
    )


@dataclass(frozen=True, slots=True)
class FolderStatus:
    uidvalidity: int
    uidnext: int | None
    exists: int


@dataclass(frozen=True, slots=True)
class Fetched:
    uid: int
    size: int | None
    internaldate: datetime | None
    data: bytes


@dataclass(frozen=True, slots=True)
class _Response:
    line: bytes  # literals left in place as {n}
    literals: tuple[bytes, ...]


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def encode_folder(name: str) -> str:
    """A folder name in IMAP's modified UTF-7 (RFC 3501 5.1.3), quoted."""
    out: list[str] = []
    buf: list[str] = []

    def flush() -> None:
        if buf:
            raw = "".join(buf).encode("utf-16-be")
            out.append("&" + base64.b64encode(raw).decode().rstrip("=").replace("/", ",") + "-")
            buf.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            buf.append(ch)
    flush()
    return _quote("".join(out))


def _internaldate(text: bytes) -> datetime | None:
    try:
        dt = parsedate_to_datetime(text.decode("ascii", "replace").strip('"').replace("-", " ", 2))
    except (TypeError, ValueError, IndexError):
        return None
    return dt.astimezone(UTC) if dt.tzinfo else dt.replace(tzinfo=UTC)
