"""When a failed delivery is tried again, when it is given up, when its endpoint is disabled (pure).

The first attempt is made as soon as the event is in the outbox. After the n-th failed attempt
the next waits `BASE * FACTOR**(n-1)` (at most `CAP`), stretched or shrunk by up to `JITTER`
from an injected random number, so that endpoints failing together do not retry together. A
delivery is tried for `GIVE_UP_AFTER` (24 h) from when it was made (its first attempt follows at
once): the last try is made at that mark, then it is `failed`.

An endpoint is disabled when a delivery gives up and every attempt made to the endpoint for
`DISABLE_AFTER` (24 h) has failed: its failing spell (store: `failing_since`) starts at the first
failure after its last success. The reason is kept and shown.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

#: the first retry's delay, the growth per attempt and the longest delay between two attempts
BASE = timedelta(seconds=30)
FACTOR = 3
CAP = timedelta(hours=4)
#: each delay is multiplied by a factor in [1 - JITTER, 1 + JITTER)
JITTER = 0.2
#: how long after its first attempt a delivery is still tried
GIVE_UP_AFTER = timedelta(hours=24)
#: how long an endpoint fails on every attempt before it is disabled
DISABLE_AFTER = timedelta(hours=24)

Random = Callable[[], float]  # a number in [0, 1), like random.random


def delay(failed_attempts: int, rnd: Random) -> timedelta:
    """How long to wait after the `failed_attempts`-th failed attempt (1 for the first)."""
    if failed_attempts < 1:
        raise ValueError("a delay follows a failed attempt")
    plain = min(BASE.total_seconds() * FACTOR ** min(failed_attempts - 1, 20), CAP.total_seconds())
    return timedelta(seconds=plain * (1 - JITTER + 2 * JITTER * rnd()))


def next_attempt(since: datetime, failed_attempts: int, now: datetime, rnd: Random) -> datetime | None:
    """When to try again after a failure at `now`; None: give up (the delivery is `failed`).
    `since`: when the delivery was made (its first attempt follows at once)."""
    last = since + GIVE_UP_AFTER
    if now >= last:
        return None
    return min(now + delay(failed_attempts, rnd), last)


def disable_reason(failing_since: datetime | None, now: datetime) -> str | None:
    """Why an endpoint is disabled now, or None: it has failed on every attempt for `DISABLE_AFTER`."""
    if failing_since is None or now - failing_since < DISABLE_AFTER:
        return None
    hours = int(DISABLE_AFTER.total_seconds() // 3600)
    return f"every delivery failed for {hours} hours (since {failing_since.isoformat(timespec='seconds')})"
