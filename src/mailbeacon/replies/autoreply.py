"""Automatic replies: out-of-office, vacation, RFC 3834 and vendor markers; the return date. Pure.

Decision (each fired rule becomes a reason):
- any *strong* header rule (`markers.AUTO_REPLY_HEADERS`) decides alone;
- an out-of-office phrase in the subject decides, where it stands before any reply prefix;
  the caller discounts it when the tracked email's own subject carries the same phrase;
- mail from a mail-system daemon (mailer-daemon) that is not a bounce is automatic too;
- otherwise two *hints* are needed: `X-Auto-Response-Suppress`, an empty envelope sender
  (`Return-Path: <>`), a role sender (postmaster), an out-of-office sentence in the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from email.message import Message

from ..model import Reason
from . import markers
from .parse import Facts, has_header, header, header_values

_REPLY_ANYWHERE = re.compile(
    r"(?:^|(?<=[\s:\]]))(?:re|aw|sv|vs|antw|odp|ynt|отв|rif|fwd?|wg|tr|doorst|vl|enc|rv)\s*(?:\[\d+\])?\s*[:：]",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class AutoInfo:
    reasons: tuple[Reason, ...]
    #: the out-of-office phrase found in the subject ('' when none)
    subject_phrase: str
    #: True when a header rule or two hints decided (the subject alone did not)
    firm: bool
    #: it looks like an absence notice (rather than another automatic answer)
    ooo: bool
    return_date: date | None


def _rule_fires(msg: Message, rule: markers.HeaderRule) -> bool:
    if not has_header(msg, rule.header):
        return False
    values = [v.split(";")[0].split("(")[0].strip().lower() for v in header_values(msg, rule.header)] or [""]
    if rule.values:
        return any(v in rule.values for v in values)
    return any(v not in rule.except_values for v in values) if rule.except_values else True


def subject_phrase(subject: str) -> str:
    """The out-of-office phrase of a subject, if it stands before any reply/forward prefix."""
    cut = _REPLY_ANYWHERE.search(subject)
    head = subject[: cut.start()] if cut else subject
    m = markers.OOO_SUBJECT.search(head)
    return m.group(0).strip() if m else ""


def find_auto_reply(msg: Message, facts: Facts, text: str, ref: date) -> AutoInfo | None:
    """Is this an automatic reply? `text` is the message's own plain text (for hints and the return
    date); `ref` is the day it was written (for dates without a year)."""
    strong: list[Reason] = []
    hints: list[Reason] = []
    for rule in markers.AUTO_REPLY_HEADERS:
        if _rule_fires(msg, rule):
            value = header(msg, rule.header).split(";")[0].strip().lower()[:40]
            shown = value and (rule.values or rule.except_values)
            reason = Reason(f"{rule.code}:{value}" if shown else rule.code, rule.text)
            (strong if rule.strong else hints).append(reason)
    if facts.null_return_path:
        hints.append(Reason("null-return-path", "the envelope sender is empty (Return-Path: <>)"))
    if facts.daemon_sender:
        strong.append(Reason("daemon-sender", "it comes from a mail-system daemon (mailer-daemon), not a person"))
    elif facts.system_sender:
        hints.append(Reason("role-sender", "it comes from a role address that sends notifications (postmaster)"))
    body_hit = markers.OOO_BODY.search(text[:4000])
    if body_hit:
        hints.append(Reason("body:ooo", f"the text reads like an absence notice ('{body_hit.group(0)[:40]}')"))
    phrase = subject_phrase(facts.subject)
    subject_reasons = [Reason("subject:ooo", f"the subject says '{phrase}'")] if phrase else []
    firm = bool(strong) or len(hints) >= 2
    if not firm and not phrase:
        return None
    reasons = tuple(strong + subject_reasons + (hints if (len(hints) >= 2 or strong or phrase) else []))
    ooo = bool(
        phrase
        or body_hit
        or facts.auto_submitted == "auto-replied"
        or any(r.code.startswith(("apple-vacation", "exchange-inbox-rule")) for r in strong)
    )
    returning = _apple_end(header(msg, "X-Apple-Criteria")) or return_date(f"{facts.subject}\n{text}", ref)
    return AutoInfo(reasons, phrase, firm, ooo, returning)


# -- the return date ---------------------------------------------------------------------------

_MONTH = "|".join(sorted((re.escape(m) for m in markers.MONTHS), key=len, reverse=True))
_WEEKDAY = "|".join(markers.WEEKDAYS)
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_DOTTED = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4}|\d{2})?")
_SLASH = re.compile(r"(\d{1,2})/(\d{1,2})(?:/(\d{4}|\d{2}))?")
_MONTH_FIRST = re.compile(rf"({_MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{4}}))?", re.I)
_DAY_FIRST = re.compile(
    rf"(\d{{1,2}})(?:st|nd|rd|th|er|\.)?\s+(?:of\s+|de\s+)?({_MONTH})\b\.?(?:,?\s+(\d{{4}}))?", re.I
)
_WEEKDAY_ONLY = re.compile(rf"({_WEEKDAY})\b", re.I)
_APPLE_END = re.compile(r"endDate=(\d{4})-(\d{2})-(\d{2})")


def _apple_end(value: str) -> date | None:
    m = _APPLE_END.search(value or "")
    if not m:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def _make(year: str | None, month: int, day: int, ref: date) -> date | None:
    try:
        if year:
            y = int(year)
            return date(y + 2000 if y < 100 else y, month, day)
        d = date(ref.year, month, day)
        if d < ref - timedelta(days=7):
            d = date(ref.year + 1, month, day)
        return d
    except ValueError:
        return None


def _date_at(window: str, ref: date) -> date | None:
    """The first date written near the start of `window` (within ~25 characters)."""
    best: tuple[int, date] | None = None
    for pattern in (_ISO, _MONTH_FIRST, _DAY_FIRST, _DOTTED, _SLASH, _WEEKDAY_ONLY):
        m = pattern.search(window)
        if not m or m.start() > 25:
            continue
        found: date | None = None
        if pattern is _ISO:
            found = _make(m.group(1), int(m.group(2)), int(m.group(3)), ref)
        elif pattern is _MONTH_FIRST:
            found = _make(m.group(3), markers.MONTHS[m.group(1).lower()], int(m.group(2)), ref)
        elif pattern is _DAY_FIRST:
            found = _make(m.group(3), markers.MONTHS[m.group(2).lower()], int(m.group(1)), ref)
        elif pattern is _DOTTED:
            found = _make(m.group(3), int(m.group(2)), int(m.group(1)), ref)
        elif pattern is _SLASH:
            a, b = int(m.group(1)), int(m.group(2))
            if a > 12 >= b:
                found = _make(m.group(3), b, a, ref)
            elif b > 12 >= a:
                found = _make(m.group(3), a, b, ref)
        else:
            wanted = markers.WEEKDAYS[m.group(1).lower()]
            ahead = (wanted - ref.weekday() - 1) % 7 + 1
            found = ref + timedelta(days=ahead)
        if found and (best is None or m.start() < best[0]):
            best = (m.start(), found)
    return best[1] if best else None


def return_date(text: str, ref: date) -> date | None:
    """The day an absence notice names for being back (or away until), if it names one."""
    for m in markers.RETURN_TRIGGERS.finditer(text[:6000]):
        found = _date_at(text[m.end() : m.end() + 80], ref)
        if found and ref - timedelta(days=7) <= found <= ref + timedelta(days=400):
            return found
    return None
