"""Words for the answer: spans of time, counts, and the reasons an email went out untouched. Pure."""

from __future__ import annotations

from datetime import datetime

#: why a message went out untouched: failure code (before the first ':') -> the reason, as a clause
FAILURES: dict[str, str] = {
    "signed": "it is signed, and changing it would break the signature",
    "unreadable": "its header lines could not be read",
    "no-headers": "it has no header lines, so it is not a well-formed email",
    "binary": "it holds binary data, not the text of an email",
    "self-check": "a safety check found that adding tracking would change its content",
    "error": "adding tracking failed",
    "error while rendering": "adding tracking failed",
}
#: what to do about each failure code
FAILURE_TODO: dict[str, str] = {
    "signed": "Send tracked emails unsigned; signed emails are sent as they are.",
    "unreadable": "Check the program that wrote the email; mailbeacon sent it as it was.",
    "no-headers": "Check the program that wrote the email; mailbeacon sent it as it was.",
    "binary": "Check the program that wrote the email; mailbeacon sent it as it was.",
}


def failure_code(failure: str) -> str:
    return failure.split(":", 1)[0].strip()


def failure_reason(failure: str) -> str:
    return FAILURES.get(failure_code(failure), "adding tracking failed")


def span(seconds: float) -> str:
    """'4 seconds', '1 minute', '3 hours', '2 days': one unit, rounded down, for a sentence."""
    s = max(0, int(seconds))
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if s >= size:
            return plural(s // size, unit)
    return plural(s, "second")


def after(start: datetime, when: datetime) -> str:
    """'4 seconds after sending' ('at sending time' when not after)."""
    seconds = (when - start).total_seconds()
    return "at sending time" if seconds < 1 else f"{span(seconds)} after sending"


def ago(now: datetime, when: datetime) -> str:
    """'3 minutes ago' ('just now' within a minute)."""
    seconds = (now - when).total_seconds()
    return "just now" if seconds < 60 else f"{span(seconds)} ago"


def plural(n: int, noun: str, many: str | None = None) -> str:
    return f"{n} {noun if n == 1 else (many or noun + 's')}"


def times(n: int) -> str:
    return "once" if n == 1 else "twice" if n == 2 else f"{n} times"


def join(items: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def kb(n: int) -> str:
    return f"{n / 1024:.0f} KB"
