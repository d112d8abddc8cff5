"""The dashboard's charts as numbers: activity per day, time to the first human open, rates. Pure.

- Activity: per day (UTC) of the hit, settled opens and clicks by who made them: people
  (`human`), the sender's own paired browser (`self`), machines (privacy prefetches, scanners,
  previews, unknown); and inferred opens (R5) on the day of the click or reply that proved them.
- Time to first open: for each recipient a person opened, how long after sending (buckets).
- Rates: the share of recipients who opened, clicked, replied — as counted (R1-R6) and as a
  tracker that counted every machine event would say (any pixel load, any link request, any
  automatic reply).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .model import VerdictClass
from .stats import Counts

MACHINE_CLASSES = frozenset(
    (VerdictClass.MACHINE_OPEN, VerdictClass.SCANNER, VerdictClass.PREVIEW, VerdictClass.UNKNOWN)
)
#: (label, short label, upper bound) of the time-to-first-open buckets; the last has none
FIRST_OPEN_BUCKETS: tuple[tuple[str, str, timedelta | None], ...] = (
    ("under 5 min", "<5m", timedelta(minutes=5)),
    ("5–30 min", "<30m", timedelta(minutes=30)),
    ("30 min–2 h", "<2h", timedelta(hours=2)),
    ("2–8 h", "<8h", timedelta(hours=8)),
    ("8–24 h", "<1d", timedelta(hours=24)),
    ("1–3 days", "<3d", timedelta(days=3)),
    ("3–7 days", "<7d", timedelta(days=7)),
    ("over a week", "7d+", None),
)


@dataclass(frozen=True, slots=True)
class HitDay:
    """How many settled hits of one kind and verdict class a day had."""

    day: str  # YYYY-MM-DD, UTC
    kind: str  # open | click
    cls: str
    n: int


@dataclass(frozen=True, slots=True)
class SentRecipient:
    """One recipient of a visible message, with its counters."""

    user_id: int
    sent_at: datetime
    counts: Counts


def days_between(since: datetime, until: datetime) -> list[str]:
    """Every day (YYYY-MM-DD) from `since` up to the day of `until`, both in UTC."""
    out: list[str] = []
    day = since.date()
    while day <= until.date():
        out.append(day.isoformat())
        day += timedelta(days=1)
    return out


def activity(days: Sequence[str], hits: Iterable[HitDay], recipients: Iterable[SentRecipient]) -> dict[str, Any]:
    """Per day: opens and clicks by people, by the sender, by machines; inferred opens."""
    index = {d: i for i, d in enumerate(days)}
    names = ("opens_human", "opens_inferred", "opens_self", "opens_machine", "clicks_human", "clicks_self")
    series: dict[str, list[int]] = {name: [0] * len(days) for name in (*names, "clicks_machine")}
    for h in hits:
        i = index.get(h.day)
        if i is None or h.kind not in ("open", "click"):
            continue
        who = "machine" if h.cls in MACHINE_CLASSES else h.cls
        key = f"{h.kind}s_{who}"
        if key in series:
            series[key][i] += h.n
    for r in recipients:
        at = r.counts.effective_first_open_at
        if r.counts.opens_inferred and at is not None:
            i = index.get(at.date().isoformat())
            if i is not None:
                series["opens_inferred"][i] += 1
    return {"days": list(days), **series}


def first_open_delays(recipients: Iterable[SentRecipient]) -> list[timedelta]:
    """For every recipient a person opened (not inferred), the time from sending to that open."""
    out = []
    for r in recipients:
        first = r.counts.first_open_at
        if r.counts.opens_human and first is not None:
            out.append(max(first - r.sent_at, timedelta(0)))
    return sorted(out)


def first_open_histogram(recipients: Iterable[SentRecipient]) -> dict[str, Any]:
    """The time-to-first-human-open distribution in `FIRST_OPEN_BUCKETS`, with its median."""
    delays = first_open_delays(recipients)
    counts = [0] * len(FIRST_OPEN_BUCKETS)
    for d in delays:
        counts[_bucket(d)] += 1
    median = _median(delays)
    return {
        "buckets": [label for label, _, _ in FIRST_OPEN_BUCKETS],
        "short": [short for _, short, _ in FIRST_OPEN_BUCKETS],
        "counts": counts,
        "opened": len(delays),
        "median_seconds": None if median is None else round(median.total_seconds()),
        "median": None if median is None else duration_words(median),
    }


def _bucket(d: timedelta) -> int:
    for i, (_, _, bound) in enumerate(FIRST_OPEN_BUCKETS):
        if bound is not None and d < bound:
            return i
    return len(FIRST_OPEN_BUCKETS) - 1


def _median(values: Sequence[timedelta]) -> timedelta | None:
    if not values:
        return None
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def duration_words(d: timedelta) -> str:
    """A duration as people say it: "4 min", "3 h 10 min", "2 days 5 h"."""
    minutes = int(d.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} days {hours} h" if hours else f"{days} days"


def _machine_opened(c: Counts) -> bool:
    return bool(c.opens or c.opens_machine or c.opens_scanner or c.opens_other)


def _machine_clicked(c: Counts) -> bool:
    return bool(c.clicks or c.clicks_scanner or c.clicks_other)


def rates_of(label: str, recipients: Sequence[SentRecipient]) -> dict[str, Any]:
    """Open, click and reply rates of `recipients`, counted and with every machine event."""
    n = len(recipients)
    cs = [r.counts for r in recipients]

    def share(hits: int) -> float:
        return round(hits / n, 4) if n else 0.0

    return {
        "label": label,
        "recipients": n,
        "open": share(sum(1 for c in cs if c.opens)),
        "open_with_machines": share(sum(1 for c in cs if _machine_opened(c))),
        "click": share(sum(1 for c in cs if c.clicks)),
        "click_with_machines": share(sum(1 for c in cs if _machine_clicked(c))),
        "reply": share(sum(1 for c in cs if c.replies)),
        "reply_with_machines": share(sum(1 for c in cs if c.replies or c.auto_replies)),
    }


def rates(recipients: Sequence[SentRecipient], senders: Mapping[int, str], *, workspace: str) -> list[dict[str, Any]]:
    """One row per sender in `senders` (in that order), then the row of them all (`workspace`)."""
    rows = [rates_of(email, [r for r in recipients if r.user_id == uid]) for uid, email in senders.items()]
    return [*rows, rates_of(workspace, [r for r in recipients if r.user_id in senders])]
