"""The answer to "why does this email show no opens / these numbers?" (R10), from stored facts.

    answer = diagnose(facts, now)      # facts: Store.why_facts(...); now: the caller's clock

Pure, like `classify`: no I/O, no clock. The answer has a one-line summary of the counted numbers,
the facts that explain silence (only those that hold), and every item of the troubleshooting
checklist (PRODUCT.md, items 1-10) with a status, a sentence for the sender, what to do, and the
stored facts behind it. Stable codes are in each line's `code`; sentences never show them.
"""

from __future__ import annotations

from datetime import datetime

from .answer import Answer, Line, Status
from .checklist import CHECKS
from .facts import DeviceFact, Facts, HitFact, Injection, MailboxFact, ReplyFact
from .seen import Seen, see
from .silence import notes
from .wording import join, plural, times


def summary(seen: Seen) -> str:
    """'Opened 3 times, 2 clicks, no reply.' (the settled numbers, as `stats` counts them)."""
    c = seen.counts
    if c.opens_inferred:
        source = "click" if c.inferred_from == "inferred_from_click" else "reply"
        opened = f"opened (inferred from their {source})"
    elif c.opens:
        opened = f"opened {times(c.opens)}"
    else:
        opened = "not opened"
    parts = [
        opened,
        plural(c.clicks, "click") if c.clicks else "no clicks",
        plural(c.replies, "reply", "replies") if c.replies else "no reply",
    ]
    text = join(parts)
    return text[:1].upper() + text[1:] + "."


def diagnose(facts: Facts, now: datetime) -> Answer:
    """The whole answer for one message and recipient."""
    seen = see(facts)
    return Answer(
        message_id=facts.message_id,
        rfc_message_id=facts.rfc_message_id,
        subject=facts.subject,
        recipient=facts.recipient,
        summary=summary(seen),
        notes=notes(facts, seen, now),
        checklist=tuple(check(facts, seen, now) for check in CHECKS),
    )


__all__ = [
    "Answer",
    "DeviceFact",
    "Facts",
    "HitFact",
    "Injection",
    "Line",
    "MailboxFact",
    "ReplyFact",
    "Status",
    "diagnose",
]
