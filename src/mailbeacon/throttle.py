"""Throttling of failed sign-ins, per address and per client. Pure; the clock is injected.

One throttle, two uses. SMTP AUTH and HTTP Basic share one `SignInThrottle` (on the Runtime):
each failed password
counts against the address tried and against the client (IP) that tried it. When either has
`limit` failures inside the last `window` seconds, further attempts are refused *before* the
password is checked (no scrypt is spent on them) until the oldest of those failures leaves the
window. A successful sign-in clears the address's failures, not the client's (one valid account
must not reset a client that guesses at others).

The browser extension's pairing-code exchange has its own `SignInThrottle` with the `PAIRING`
rule per client (there is no address: the code is the credential; web/extension.py).

Memory is bounded: at most `limit` timestamps per key and `max_keys` keys, the least recently
used dropped first.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass

from .model import Clock


@dataclass(frozen=True, slots=True)
class Rule:
    limit: int
    window: float  # seconds


#: OWASP-style: a handful of tries per account, more per client (NAT, shared offices)
PER_ADDRESS = Rule(limit=5, window=15 * 60)
PER_CLIENT = Rule(limit=20, window=15 * 60)
#: failed pairing-code exchanges per client: a code has 48 random bits and lives 10 minutes
PAIRING = Rule(limit=10, window=10 * 60)


class SignInThrottle:
    def __init__(
        self,
        clock: Clock,
        *,
        per_address: Rule = PER_ADDRESS,
        per_client: Rule = PER_CLIENT,
        max_keys: int = 100_000,
    ) -> None:
        self.clock = clock
        self.rules = {"address": per_address, "client": per_client}
        self.max_keys = max_keys
        self._failures: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()
        self._lock = threading.Lock()  # sign-ins are checked in worker threads

    def _keys(self, address: str, client: str) -> list[tuple[str, str]]:
        keys = []
        if address:
            keys.append(("address", address.strip().lower()))
        if client:
            keys.append(("client", client))
        return keys

    def wait(self, address: str, client: str) -> int:
        """Seconds before this address or client may try again (0: go ahead)."""
        now = self.clock().timestamp()
        longest = 0.0
        with self._lock:
            for key in self._keys(address, client):
                times = self._failures.get(key)
                rule = self.rules[key[0]]
                if times is not None and len(times) >= rule.limit:
                    longest = max(longest, times[0] + rule.window - now)
        return math.ceil(longest) if longest > 0 else 0

    def failed(self, address: str, client: str) -> None:
        now = self.clock().timestamp()
        with self._lock:
            for key in self._keys(address, client):
                times = self._failures.pop(key, None)
                if times is None:
                    times = deque(maxlen=self.rules[key[0]].limit)
                times.append(now)
                self._failures[key] = times  # most recently used last
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)

    def succeeded(self, address: str) -> None:
        with self._lock:
            self._failures.pop(("address", address.strip().lower()), None)


def throttled_message(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return f"too many failed sign-ins; try again in {minutes} minute{'s' if minutes != 1 else ''}"
