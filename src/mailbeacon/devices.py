"""Paired devices: their secrets and the signed self-view beacon. Pure.

A paired device (the browser extension, a signed-in dashboard) gets a secret at pairing,
derived from the server's signing key and the device id (nothing to store). A self-view
beacon says "device D is showing the message behind tracking token T now, at time TS":

    sig = base64url(HMAC-SHA256(secret, "D|T|TS"))

The server accepts it when the signature checks out, TS is within `MAX_SKEW` seconds of its
clock, and D is a non-revoked device of the message's sender. The extension's heartbeat is
signed the same way with the word `heartbeat` in the token's place.

A device is paired without a password through a one-time pairing code: short-lived, stored
hashed, used up by the exchange; failed exchanges are limited per client address (throttle.py).

A beacon counts once: the same (D, T, TS) again inside its window is a replay (`SeenBeacons`).

A dashboard session is a signed-in browser's device: its cookie names the device and when the
session was last stamped (`session_value`). It expires when unused for `idle` seconds or
`lifetime` seconds after signing in (the device's creation), whichever comes first; a session in
use is stamped again at most every `SESSION_RESTAMP` (a new cookie, no write to the database).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from typing import Literal

from .tokens import Keyring, b64decode, b64encode

MAX_SKEW = 300
SECRET_PURPOSE = "device-secret"
HEARTBEAT = "heartbeat"
PAIRING_CODE_LIFETIME = timedelta(minutes=10)
SESSION_RESTAMP = timedelta(minutes=5)


def new_pairing_code() -> str:
    """A one-time code like `3F9A-07C2-B1E4` (48 random bits: with the exchange limited to a
    few failures per client and the code living minutes, not guessable)."""
    return "-".join(secrets.token_hex(2).upper() for _ in range(3))


def session_value(public_id: str, at: datetime) -> str:
    """What the session cookie signs: the device and the time it was stamped."""
    return f"{public_id}-{int(at.timestamp())}"


def parse_session_value(value: str) -> tuple[str, datetime] | None:
    """(device id, stamped at) of a session value; None for anything else (a cookie of old)."""
    public_id, sep, stamp = value.rpartition("-")
    if not sep or not public_id or not (stamp.isascii() and stamp.isdigit()) or len(stamp) > 12:
        return None
    return public_id, datetime.fromtimestamp(int(stamp), UTC)


def session_expired(
    signed_in_at: datetime, stamped_at: datetime, now: datetime, *, idle: float, lifetime: float
) -> bool:
    """Unused for longer than `idle` seconds, or signed in longer than `lifetime` seconds ago."""
    return (now - stamped_at).total_seconds() > idle or (now - signed_in_at).total_seconds() > lifetime


def device_secret(keyring: Keyring, public_id: str) -> str:
    return b64encode(hmac.digest(keyring.purpose_key(SECRET_PURPOSE), public_id.encode(), hashlib.sha256))


def beacon_payload(device: str, token: str, ts: int) -> bytes:
    return f"{device}|{token}|{ts}".encode()


def sign_beacon(secret: str, device: str, token: str, ts: int) -> str:
    return b64encode(hmac.digest(b64decode(secret), beacon_payload(device, token, ts), hashlib.sha256))


def verify_beacon(keyring: Keyring, device: str, token: str, ts: int, sig: str, now: datetime) -> bool:
    if abs(now.timestamp() - ts) > MAX_SKEW:
        return False
    try:
        expected = sign_beacon(device_secret(keyring, device), device, token, ts)
    except ValueError:
        return False
    return hmac.compare_digest(expected.encode(), sig.encode("utf-8", "surrogatepass"))


class SeenBeacons:
    """The beacons accepted inside the last `2 * MAX_SKEW` seconds, to refuse replays.

    A beacon's time must be within `MAX_SKEW` of the clock, so one older than that can never be
    accepted again and is forgotten. Memory is bounded: when `size` beacons are remembered and
    none has expired, new ones are refused too (fail closed) rather than forgetting early.
    """

    def __init__(self, size: int = 100_000) -> None:
        self.size = size
        self._seen: OrderedDict[str, float] = OrderedDict()  # key -> until (beacon ts + MAX_SKEW)

    def note(self, device: str, token: str, ts: int, now: datetime) -> Literal["new", "replay", "full"]:
        """ "new" the first time this beacon is seen (it is remembered), else "replay" or "full"."""
        t = now.timestamp()
        while self._seen:
            oldest, until = next(iter(self._seen.items()))
            if until >= t:
                break
            del self._seen[oldest]  # its time is too far in the past to be accepted again
        key = f"{device}|{token}|{ts}"
        if key in self._seen:
            return "replay"
        if len(self._seen) >= self.size:
            return "full"
        self._seen[key] = ts + MAX_SKEW
        return "new"
