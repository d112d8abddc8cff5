"""Password hashing (scrypt, from the standard library) and API token hashing.

The cost follows the OWASP Password Storage Cheat Sheet for scrypt: N=2^17, r=8, p=1 (128 MiB
and about 0.3 s of one core per hash). Hashes made with a lower cost still verify;
`needs_rehash` tells the sign-in code to replace them with the current cost after a
successful sign-in. At most `PARALLEL` hashes run at once, so a burst of sign-in attempts
cannot take the memory of the machine (128 MiB each).

`RecentSignIns` remembers successful (stored hash, password) pairs for a few minutes, so that a
script signing every request with HTTP Basic, or a mail client authenticating per message,
costs one scrypt per `ttl` instead of one per request (Dovecot's auth cache does the same).
Only successes are remembered, as keyed digests (HMAC with a key that exists only in this
process's memory); a wrong password always costs a full scrypt.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Cost:
    n: int
    r: int
    p: int

    def __le__(self, other: Cost) -> bool:
        return self.n <= other.n and self.r <= other.r and self.p <= other.p


#: OWASP Password Storage Cheat Sheet, scrypt: N=2^17 (128 MiB with r=8), r=8, p=1
OWASP_COST = Cost(2**17, 8, 1)
#: the cost of new hashes
COST = OWASP_COST
#: stored hashes above this cost are refused (a tampered hash must not cost a gigabyte)
MAX_COST = Cost(2**20, 16, 4)
PARALLEL = 2
_SLOTS = threading.BoundedSemaphore(PARALLEL)
_dummy: dict[Cost, str] = {}


def _scrypt(password: str, salt: bytes, cost: Cost, dklen: int) -> bytes:
    with _SLOTS:
        return hashlib.scrypt(
            password.encode("utf-8", "surrogatepass"),
            salt=salt,
            n=cost.n,
            r=cost.r,
            p=cost.p,
            dklen=dklen,
            maxmem=129 * cost.n * cost.r * cost.p + 2**20,
        )


def hash_password(password: str, cost: Cost | None = None) -> str:
    cost = cost or COST
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, cost, 32)
    return f"scrypt${cost.n}${cost.r}${cost.p}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def _parse(stored: str) -> tuple[Cost, bytes, bytes] | None:
    try:
        scheme, n, r, p, salt_b64, digest_b64 = stored.split("$")
        if scheme != "scrypt":
            return None
        cost = Cost(int(n), int(r), int(p))
        if not cost <= MAX_COST or min(cost.n, cost.r, cost.p) < 1:
            return None
        return cost, base64.b64decode(salt_b64), base64.b64decode(digest_b64)
    except (ValueError, TypeError):
        return None


def check_password(password: str, stored: str) -> bool:
    parsed = _parse(stored)
    if parsed is None:
        return False
    cost, salt, expected = parsed
    try:
        digest = _scrypt(password, salt, cost, len(expected) or 32)
    except (ValueError, TypeError, MemoryError):
        return False
    return hmac.compare_digest(digest, expected)


def needs_rehash(stored: str) -> bool:
    """The hash was made with less than the current cost (or is not one of ours)."""
    parsed = _parse(stored)
    return parsed is None or not parsed[0] >= COST


def dummy_hash() -> str:
    """A hash at the current cost, to check against when the address is unknown (same work)."""
    found = _dummy.get(COST)
    if found is None:
        found = _dummy[COST] = hash_password(secrets.token_urlsafe(16))
    return found


class RecentSignIns:
    def __init__(self, ttl: float = 600.0, size: int = 10_000) -> None:
        self.ttl = ttl
        self.size = size
        self._key = secrets.token_bytes(32)
        self._seen: OrderedDict[bytes, float] = OrderedDict()  # digest -> when it was verified
        self._lock = threading.Lock()

    def _digest(self, stored: str, password: str) -> bytes:
        data = stored.encode() + b"\0" + password.encode("utf-8", "surrogatepass")
        return hmac.digest(self._key, data, hashlib.sha256)

    def check(self, stored: str, password: str, now: float) -> bool:
        """This password was verified against this very hash less than `ttl` seconds ago."""
        key = self._digest(stored, password)
        with self._lock:
            when = self._seen.get(key)
            if when is None or not 0 <= now - when < self.ttl:
                self._seen.pop(key, None)
                return False
            return True

    def add(self, stored: str, password: str, now: float) -> None:
        key = self._digest(stored, password)
        with self._lock:
            self._seen.pop(key, None)
            self._seen[key] = now
            while len(self._seen) > self.size:
                self._seen.popitem(last=False)


def new_api_token() -> str:
    """A random API token. Only its hash is stored."""
    return "mbt_" + secrets.token_urlsafe(30)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_password() -> str:
    return secrets.token_urlsafe(12)
