"""Tracking tokens: short, URL-safe, signed, and free of personal data. Pure; no database.

Layout (before base64url without padding):

    byte 0      version (high 4 bits) | kind (low 4 bits: 1 open, 2 click, 3 decoy)
    varint      key id (which signing key; old keys keep verifying after rotation)
    varint      workspace id
    varint      message id
    varint      recipient id
    varint      link index (click tokens only)
    12 bytes    HMAC-SHA256 tag, truncated to 96 bits

The tag key is derived per workspace from the signing key, so a token cannot be moved to
another workspace by editing its workspace id. A 96-bit tag means an attacker who can try a
million forgeries a second needs about 2.5e15 years on average for one success: forging is an
online attack only (every guess is an HTTP request), so 96 bits is ample and keeps URLs short.
Typical lengths: 30 characters (small ids) to 40 (ids in the billions).

Verification re-encodes what it decoded and compares, so every change to a token - including
changes to the unused bits of the last base64 character - fails.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from .model import HitKind

VERSION = 1
TAG_BYTES = 12
_KIND_CODES = {HitKind.OPEN: 1, HitKind.CLICK: 2, HitKind.DECOY: 3}
_CODE_KINDS = {v: k for k, v in _KIND_CODES.items()}
_MAX_VARINT_BYTES = 9  # ids up to 2**63


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a valid token says."""

    kind: HitKind
    workspace_id: int
    message_id: int
    recipient_id: int
    link: int | None
    key_id: int


class InvalidToken(ValueError):
    """The token is malformed, forged, or signed with an unknown key."""


def _varint(n: int) -> bytes:
    if n < 0:
        raise ValueError("ids are non-negative")
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


_B64_STD = str.maketrans("-_", "+/")
_B64_VALUE = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")}


def _read_varints(body: bytes) -> list[int]:
    """All varints after the first byte; raises on truncated or non-canonical numbers."""
    out: list[int] = []
    n = shift = 0
    count = 0
    for b in body[1:]:
        n |= (b & 0x7F) << shift
        count += 1
        if b & 0x80:
            shift += 7
            if count >= _MAX_VARINT_BYTES:
                raise InvalidToken("number too long")
            continue
        if b == 0 and count > 1:
            raise InvalidToken("non-canonical number")
        out.append(n)
        n = shift = count = 0
    if count:
        raise InvalidToken("truncated")
    return out


def b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64decode(text: str) -> bytes:
    """Strict, canonical base64url (no padding); raises `InvalidToken`. On the hot path: no re-encoding.

    Only the URL-safe alphabet is accepted ('+' and '/' would decode to the same bytes), and the
    unused low bits of the last character must be zero, so every string decodes from exactly one
    encoding.
    """
    n = len(text)
    rem = n % 4
    if not n or n > 512 or rem == 1:
        raise InvalidToken("bad length")
    last = _B64_VALUE.get(text[-1])
    if last is None or (rem == 2 and last & 0x0F) or (rem == 3 and last & 0x03):
        raise InvalidToken("non-canonical encoding")
    if "+" in text or "/" in text:
        raise InvalidToken("not base64url")
    try:
        return binascii.a2b_base64((text + "=" * (-rem % 4)).translate(_B64_STD), strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidToken("not base64url") from exc


class _Hmac:
    """HMAC-SHA256 (RFC 2104) with the padded key states computed once: ~3x faster per tag."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > 64:
            key = hashlib.sha256(key).digest()
        key = key.ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def tag(self, data: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(data)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()[:TAG_BYTES]


def generate_key() -> bytes:
    """A fresh 256-bit signing key."""
    return secrets.token_bytes(32)


class Keyring:
    """Signing keys by id. The highest id signs; every key verifies.

    Per-workspace tag keys are derived once and cached.
    """

    def __init__(self, keys: dict[int, bytes]) -> None:
        if not keys:
            raise ValueError("a keyring needs at least one key")
        for kid, key in keys.items():
            if kid < 0 or len(key) < 16:
                raise ValueError(f"signing key {kid} is too short (need at least 16 bytes)")
        self._keys = dict(keys)
        self.current = max(keys)
        self._derived: dict[tuple[int, int], _Hmac] = {}

    @property
    def key_ids(self) -> tuple[int, ...]:
        """Every key id that verifies (and so may have signed a token still in the mail), newest first."""
        return tuple(sorted(self._keys, reverse=True))

    def _ws_key(self, kid: int, workspace_id: int) -> _Hmac:
        k = self._derived.get((kid, workspace_id))
        if k is None:
            master = self._keys.get(kid)
            if master is None:
                raise InvalidToken("unknown key id")
            k = _Hmac(hmac.digest(master, b"mailbeacon/ws\x00" + _varint(workspace_id), hashlib.sha256))
            if len(self._derived) < 100_000:
                self._derived[(kid, workspace_id)] = k
        return k

    def purpose_key(self, purpose: str, kid: int | None = None) -> bytes:
        """A key for another use (cookies, device secrets), derived from a signing key."""
        master = self._keys[self.current if kid is None else kid]
        return hmac.digest(master, b"mailbeacon/" + purpose.encode(), hashlib.sha256)

    # -- tracking tokens --------------------------------------------------------------------

    def sign(
        self,
        kind: HitKind,
        workspace_id: int,
        message_id: int,
        recipient_id: int,
        link: int | None = None,
        *,
        kid: int | None = None,
    ) -> str:
        """A token signed with the current key, or with key `kid` (an older one: the token a
        message sent before a rotation carries; `KeyError` if there is no such key)."""
        code = _KIND_CODES.get(kind)
        if code is None:
            raise ValueError(f"no token for {kind}")
        if (kind is HitKind.CLICK) != (link is not None):
            raise ValueError("click tokens need a link index, other tokens must not have one")
        if kid is None:
            kid = self.current
        elif kid not in self._keys:
            raise KeyError(f"no signing key {kid}")
        body = bytearray([(VERSION << 4) | code])
        body += _varint(kid)
        body += _varint(workspace_id)
        body += _varint(message_id)
        body += _varint(recipient_id)
        if link is not None:
            body += _varint(link)
        tag = self._ws_key(kid, workspace_id).tag(bytes(body))
        return b64encode(bytes(body) + tag)

    def verify(self, token: str) -> TokenClaims:
        """Check a token and return its claims, or raise `InvalidToken`. On the hot path: kept lean."""
        raw = b64decode(token)
        if len(raw) < 1 + 4 + TAG_BYTES:
            raise InvalidToken("too short")
        head = raw[0]
        if head >> 4 != VERSION:
            raise InvalidToken("unknown version")
        kind = _CODE_KINDS.get(head & 0x0F)
        if kind is None:
            raise InvalidToken("unknown kind")
        body = raw[:-TAG_BYTES]
        values = _read_varints(body)
        want = 5 if kind is HitKind.CLICK else 4
        if len(values) != want:
            raise InvalidToken("wrong number of fields")
        kid, ws, msg, rcpt = values[0], values[1], values[2], values[3]
        key = self._derived.get((kid, ws)) or self._ws_key(kid, ws)
        expected = key.tag(body)
        if not hmac.compare_digest(expected, raw[-TAG_BYTES:]):
            raise InvalidToken("bad signature")
        return TokenClaims(kind, ws, msg, rcpt, values[4] if want == 5 else None, kid)

    # -- small signed values (device cookies) ----------------------------------------------

    def sign_value(self, purpose: str, value: str) -> str:
        """`value.kid.tag`, for cookies. `value` must not contain '.'."""
        if "." in value:
            raise ValueError("value must not contain '.'")
        kid = self.current
        tag = hmac.digest(self.purpose_key(purpose, kid), value.encode(), hashlib.sha256)[:TAG_BYTES]
        return f"{value}.{kid}.{b64encode(tag)}"

    def verify_value(self, purpose: str, signed: str) -> str | None:
        """The value inside `signed`, or None if it does not verify."""
        parts = signed.split(".")
        if len(parts) != 3 or not (parts[1].isascii() and parts[1].isdigit()) or len(parts[1]) > 9:
            return None
        value, kid_s, tag_s = parts
        kid = int(kid_s)
        if kid not in self._keys:
            return None
        try:
            tag = b64decode(tag_s)
        except InvalidToken:
            return None
        expected = hmac.digest(self.purpose_key(purpose, kid), value.encode(), hashlib.sha256)[:TAG_BYTES]
        return value if hmac.compare_digest(expected, tag) else None


def parse_key_spec(spec: str) -> dict[int, bytes]:
    """Parse the `secret_keys` setting: `"1:<base64url key>,2:<base64url key>"`."""
    keys: dict[int, bytes] = {}
    for part in spec.replace(" ", "").split(","):
        if not part:
            continue
        kid_s, sep, key_s = part.partition(":")
        if not sep or not kid_s.isdigit():
            raise ValueError("secret_keys must look like '1:<base64url key>,2:<base64url key>'")
        try:
            key = base64.urlsafe_b64decode(key_s + "=" * (-len(key_s) % 4))
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"secret key {kid_s} is not base64url") from exc
        if len(key) < 16:
            raise ValueError(f"secret key {kid_s} is shorter than 16 bytes")
        keys[int(kid_s)] = key
    if not keys:
        raise ValueError("secret_keys is empty")
    return keys


def format_key_spec(keys: dict[int, bytes]) -> str:
    return ",".join(f"{kid}:{b64encode(key)}" for kid, key in sorted(keys.items()))
