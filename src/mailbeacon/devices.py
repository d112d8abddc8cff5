"""Paired devices: their secrets and the signed self-view beacon. Pure.

A paired device (the browser extension, a signed-in dashboard) gets a secret at pairing,
derived from the server's signing key and the device id (nothing to store). A self-view
beacon says "device D is showing the message behind tracking token T now, at time TS":

    sig = base64url(HMAC-SHA256(secret, "D|T|TS"))

The server accepts it when the signature checks out, TS is within `MAX_SKEW` seconds of its
clock, and D is a non-revoked device of the message's sender.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from .tokens import Keyring, b64decode, b64encode

MAX_SKEW = 300
SECRET_PURPOSE = "device-secret"


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
    return hmac.compare_digest(expected, sig)
