"""Who is worth a follow-up: the dashboard's "Follow up" list. Pure (the time is passed in).

Two lists, from each recipient's settled counters:
- **engaged, no reply**: a person opened the email at least twice, or clicked one of its links,
  and no reply has come `days` days after it was sent (`days`: the user's `follow_up_days`
  setting, default 3). Bounced addresses and the sender's own clicks are left out.
- **only machines so far**: something fetched the pixel or the links (a security scanner, a
  privacy prefetch, a preview) but no person has been seen: the email may sit unread, or in a
  gateway's quarantine. Worth a different channel rather than a reminder.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from .model import Message, Recipient
from .stats import Counts, glance, last_activity

SETTING = "follow_up_days"
DEFAULT_DAYS = 3
MIN_DAYS, MAX_DAYS = 1, 90
#: opens by a person that make a recipient "engaged" without a click
ENGAGED_OPENS = 2


@dataclass(frozen=True, slots=True)
class Candidate:
    """One recipient on a follow-up list, with the sentence that says why."""

    message: Message
    recipient: Recipient
    counts: Counts
    why: str
    last: datetime | None


def days_of(settings: Mapping[str, object]) -> int:
    """The user's follow-up delay in days (the setting, clamped; the default if unset or odd)."""
    raw = settings.get(SETTING, DEFAULT_DAYS)
    if isinstance(raw, bool) or not isinstance(raw, int):
        return DEFAULT_DAYS
    return min(max(raw, MIN_DAYS), MAX_DAYS)


def parse_days(text: str) -> int | None:
    """A follow-up delay typed into the form, or None when it is not a whole number of days in range."""
    text = text.strip()
    if not text.isdigit() or len(text) > 3:
        return None
    days = int(text)
    return days if MIN_DAYS <= days <= MAX_DAYS else None


def engaged(c: Counts) -> str | None:
    """Why a recipient counts as engaged ("Opened 3×", "Clicked 2 links"), or None."""
    if c.replies or c.bounces:
        return None
    if c.clicks_human:
        return "Clicked" if c.clicks_human == 1 else f"Clicked {c.clicks_human}×"
    if c.opens_human >= ENGAGED_OPENS:
        return f"Opened {c.opens_human}×"
    return None


def _age(sent_at: datetime, now: datetime) -> str:
    days = (now - sent_at) // timedelta(days=1)
    return "1 day" if days == 1 else f"{days} days"


def choose(
    rows: Iterable[tuple[Message, Recipient, Counts]], now: datetime, days: int
) -> tuple[list[Candidate], list[Candidate]]:
    """(engaged with no reply after `days` days, only machines so far), most recent first."""
    due = now - timedelta(days=days)
    nudge: list[Candidate] = []
    machines: list[Candidate] = []
    for msg, rcpt, c in rows:
        why = engaged(c)
        if why is not None and msg.sent_at <= due:
            nudge.append(Candidate(msg, rcpt, c, f"{why}, no reply after {_age(msg.sent_at, now)}", last_activity(c)))
        elif glance(c)[0] == "machines":
            machines.append(Candidate(msg, rcpt, c, _machine_why(c), None))
    nudge.sort(key=lambda x: (x.last or x.message.sent_at, x.recipient.id), reverse=True)
    machines.sort(key=lambda x: (x.message.sent_at, x.recipient.id), reverse=True)
    return nudge, machines


def _machine_why(c: Counts) -> str:
    parts = []
    if c.hits_scanner:
        parts.append("a security scanner")
    if c.hits_machine_open:
        parts.append("a privacy prefetch")
    if c.hits_preview:
        parts.append("a link preview")
    if c.hits_unknown and not parts:
        parts.append("an unidentified client")
    return "Touched by " + " and ".join(parts) + "; no person seen yet"
