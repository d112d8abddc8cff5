"""Bounces (RFC 3464 DSNs and the non-standard kinds) and reports (MDN read receipts, ARF). Pure.

`find_report(msg, facts)` answers one of:
- `BounceInfo` — delivery failed (or, with `warning=True`, is only delayed: `Action: delayed`);
- `ReportInfo` — a read receipt (MDN), an abuse complaint (ARF), a DSN that reports success, or
  another `multipart/report`;
- `None` — neither.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from email.message import Message

from ..addresses import try_normalise
from ..model import Reason
from . import markers
from .parse import (
    MAX_ADDRESSES,
    MAX_THREAD_IDS,
    Facts,
    clean,
    content_type,
    header,
    header_values,
    msg_ids,
    param,
    parse_headers,
    part_text,
    walk,
)

_STATUS = re.compile(r"(?<![\w.])([245]\.\d{1,3}\.\d{1,3})(?![\w]|\.\d)")
_SMTP_STATUS = re.compile(r"\b[245]\d\d[\s-]+#?([245]\.\d{1,3}\.\d{1,3})(?![\w]|\.\d)")
_SMTP_REPLY = re.compile(r"\b[45]\d\d[ -][A-Za-z#<]")
_ADDR = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_ADDR_LINE = re.compile(r"^\s*<?(" + _ADDR.pattern + r")>?")
#: blanks, not \s: `^\s*` under re.M rescans every following blank line from each line start
_POSTFIX_LINE = re.compile(
    r"^[ \t]*<(" + _ADDR.pattern + r")>[ \t]*(?:\(expanded from <[^<>\n]*>\))?[ \t]*(?::|\.\.\.)", re.M
)
_BODY_MSGID = re.compile(r"^[ \t>]*Message-I[Dd]\s*:\s*(<[^<>\s]+>)", re.M | re.I)
_TAGS = re.compile(r"<[^<>]*>")  # not [^>]*: a run of '<' without '>' would make it quadratic
_DELAY_SUBJECT = re.compile(
    r"^\s*(?:warning\b|delayed\b|delivery\s+delayed|mail\s+delivery\s+delayed|"
    r"delivery\s+status\s+notification\s*\(delay\))",
    re.I,
)
_DELAY_TEXT = re.compile(r"will\s+(?:keep|continue)\s+(?:trying|to\s+try)|will\s+retry|still\s+(?:undelivered|trying)")
_DS_TYPES = ("message/delivery-status", "message/global-delivery-status")
_MDN_TYPES = ("message/disposition-notification", "message/global-disposition-notification")


@dataclass(frozen=True, slots=True)
class RecipientStatus:
    """What a bounce says about one recipient."""

    address: str
    action: str = "failed"
    status: str = ""
    diagnostic: str = ""
    original: str = ""


@dataclass(frozen=True, slots=True)
class BounceInfo:
    format: str
    recipients: tuple[RecipientStatus, ...]
    warning: bool
    original_ids: tuple[str, ...]
    notice: str
    reasons: tuple[Reason, ...]


@dataclass(frozen=True, slots=True)
class ReportInfo:
    report: str
    recipients: tuple[str, ...]
    original_ids: tuple[str, ...]
    reasons: tuple[Reason, ...]
    detail: dict[str, str] = field(default_factory=dict)


# -- helpers -----------------------------------------------------------------------------------


def _fields(block: Message) -> dict[str, str]:
    out: dict[str, str] = {}
    for key in block.keys():  # noqa: SIM118 (Message is not a dict)
        k = str(key).lower()
        if k not in out:
            out[k] = header(block, k)
    return out


def _blocks(part: Message) -> list[dict[str, str]]:
    """The field groups of a `message/delivery-status`-like part (per message, per recipient)."""
    try:
        payload = part.get_payload()
    except Exception:
        return []
    if isinstance(payload, list):
        return [_fields(b) for b in payload if isinstance(b, Message)]
    text = part_text(part)
    return [_fields(parse_headers(chunk.strip() + "\n")) for chunk in re.split(r"\r?\n\s*\r?\n", text) if chunk.strip()]


def _typed_address(value: str) -> str:
    """`rfc822; a@b` -> `a@b` (normalised when it is an address)."""
    value = value.partition(";")[2] if ";" in value else value
    value = value.strip().strip("<>").strip()
    return try_normalise(value) or value.lower()


def _status(text: str) -> str:
    """The enhanced status code (RFC 3463) in a text; one next to an SMTP reply code first."""
    m = _SMTP_STATUS.search(text or "") or _STATUS.search(text or "")
    return m.group(1) if m else ""


def _diagnostic(text: str) -> str:
    """The line of a notice that says why delivery failed (an SMTP reply, else the status code)."""
    for pattern in (_SMTP_STATUS, _SMTP_REPLY, _STATUS):
        m = pattern.search(text)
        if m:
            start = text.rfind("\n", 0, m.start()) + 1
            end = text.find("\n", m.end())
            return clean(text[start : end if end >= 0 else len(text)]).strip()[:300]
    return ""


def _notice(msg: Message) -> str:
    """The human-readable notification text of a report or bounce (not the returned original)."""
    html_text = ""
    for part, depth in walk(msg):
        if depth:
            continue
        ctype = content_type(part)
        if ctype == "text/plain":
            text = part_text(part)
            if text.strip():
                return text
        elif ctype == "text/html" and not html_text:
            html_text = html.unescape(_TAGS.sub(" ", part_text(part)))
    return html_text


def _original_ids(msg: Message, own: str) -> list[str]:
    """Message ids of the original message a report returns (attached, as headers, or quoted)."""
    ids: list[str] = []
    for part, depth in walk(msg):
        ctype = content_type(part)
        if depth == 0 and ctype in ("message/rfc822", "message/global"):
            try:
                payload = part.get_payload()
            except Exception:
                payload = None
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                ids += msg_ids(header(payload[0], "Message-ID"))
        elif depth == 0 and ctype in ("text/rfc822-headers", "message/rfc822-headers", "text/rfc822-header"):
            ids += msg_ids(header(parse_headers(part_text(part)), "Message-ID"))
        elif depth == 0 and ctype == "text/plain":
            ids += [m for m in _BODY_MSGID.findall(part_text(part))]
    out: dict[str, None] = {}
    for i in ids:
        for norm in msg_ids(i):
            if norm != own:
                out[norm] = None
        if len(out) >= MAX_THREAD_IDS:
            break
    return list(out)[:MAX_THREAD_IDS]


def _failed_from_text(notice: str) -> list[str]:
    """Failed addresses listed in the text of a non-standard bounce (at most `MAX_ADDRESSES`)."""
    found: dict[str, None] = {}  # ordered, and membership in constant time
    body = notice
    copy = markers.ORIGINAL_COPY_MARKERS.search(body)
    if copy:
        body = body[: copy.start()]
    for intro in markers.FAILED_LIST_INTROS.finditer(body):
        seen_any = False
        for line in body[intro.end() : intro.end() + 2000].splitlines():
            if not line.strip():
                if seen_any:
                    break
                continue
            m = _ADDR_LINE.match(line)
            if not m:
                if seen_any:
                    break
                continue
            addr = try_normalise(m.group(1))
            if addr:
                found[addr] = None
                seen_any = True
    for m in _POSTFIX_LINE.finditer(body):
        if len(found) >= MAX_ADDRESSES:
            break
        addr = try_normalise(m.group(1))
        if addr:
            found[addr] = None
    return list(found)[:MAX_ADDRESSES]


# -- the kinds ---------------------------------------------------------------------------------


def _dsn(msg: Message, facts: Facts, parts: list[Message]) -> BounceInfo | ReportInfo:
    notice = _notice(msg)
    recipients: list[RecipientStatus] = []
    for part in parts:
        for f in _blocks(part):
            if not any(k in f for k in ("final-recipient", "original-recipient", "action", "status")):
                continue
            if "reporting-mta" in f and "final-recipient" not in f and "action" not in f:
                continue
            addr = _typed_address(f.get("final-recipient") or f.get("original-recipient", ""))
            status = _status(f.get("status", "")) or _status(f.get("diagnostic-code", ""))
            action = (f.get("action", "").split() or [""])[0].lower()
            if not action:
                action = {"5": "failed", "4": "delayed", "2": "delivered"}.get(status[:1], "failed")
            recipients.append(
                RecipientStatus(
                    address=addr,
                    action=action,
                    status=status,
                    diagnostic=clean(f.get("diagnostic-code", ""))[:300],
                    original=_typed_address(f.get("original-recipient", "")) if f.get("original-recipient") else "",
                )
            )
    if not recipients:
        text_rcpts = _failed_from_text(notice) + list(facts.failed_recipients)
        status = _status(notice)
        recipients = [RecipientStatus(address=a, status=status, diagnostic=_diagnostic(notice)) for a in text_rcpts]
    originals = tuple(_original_ids(msg, facts.message_id))
    actions = {r.action for r in recipients}
    if recipients and actions <= {"delivered", "relayed", "expanded"}:
        return ReportInfo(
            report="dsn-success",
            recipients=tuple(r.address for r in recipients),
            original_ids=originals,
            reasons=(Reason("dsn:success", f"a delivery status notification reports {', '.join(sorted(actions))}"),),
            detail={"action": sorted(actions)[0]},
        )
    failed = [r for r in recipients if r.action == "failed"]
    warning = not failed and ("delayed" in actions or bool(_DELAY_SUBJECT.match(facts.subject)))
    reasons = [Reason("dsn", "a delivery status notification (multipart/report, RFC 3464)")]
    if warning:
        reasons.append(Reason("dsn:delayed", "delivery is only delayed (Action: delayed): a warning, not a failure"))
    ordered = tuple(failed + [r for r in recipients if r.action != "failed"])
    return BounceInfo("dsn", ordered, warning, originals, notice, tuple(reasons))


def _non_standard(msg: Message, facts: Facts, *, report_type: str) -> BounceInfo | None:
    notice = _notice(msg)
    automatic = facts.system_sender or facts.null_return_path or facts.auto_submitted not in ("", "no")
    subject_hit = bool(markers.BOUNCE_SUBJECT.match(facts.subject))
    body_hit = bool(markers.BOUNCE_BODY.search(notice[:20000]))
    reasons: list[Reason] = []
    if facts.failed_recipients:
        reasons.append(Reason("x-failed-recipients", "X-Failed-Recipients names the addresses that failed (Exim)"))
    if report_type == "delivery-status":
        reasons.append(Reason("report-type:delivery-status", "a multipart/report says it is a delivery report"))
    if subject_hit and (automatic or body_hit):
        reasons.append(Reason("subject:bounce", f"the subject '{facts.subject[:80]}' is a bounce subject"))
    if body_hit and automatic:
        reasons.append(Reason("body:bounce", "the text is a mail server's delivery failure notice"))
    if not reasons:
        return None
    addrs = list(facts.failed_recipients)
    for a in _failed_from_text(notice):
        if a not in addrs:
            addrs.append(a)
    head = notice
    copy = markers.ORIGINAL_COPY_MARKERS.search(head)
    if copy:
        head = head[: copy.start()]
    status = _status(head)
    warning = bool(_DELAY_SUBJECT.match(facts.subject)) or (status.startswith("4") and bool(_DELAY_TEXT.search(head)))
    action = "delayed" if warning else "failed"
    diag = _diagnostic(head)
    recipients = tuple(RecipientStatus(address=a, action=action, status=status, diagnostic=diag) for a in addrs)
    if warning:
        reasons.append(Reason("bounce:delayed", "the notice says delivery is only delayed: a warning, not a failure"))
    fmt = (
        "x-failed-recipients"
        if facts.failed_recipients
        else "qmail"
        if "qmail-send" in notice
        else "postfix"
        if "This is the mail system at host" in notice
        else "office365"
        if "Delivery has failed to these recipients" in notice
        else "text"
    )
    return BounceInfo(fmt, recipients, warning, tuple(_original_ids(msg, facts.message_id)), notice, tuple(reasons))


def _mdn(msg: Message, facts: Facts, parts: list[Message]) -> ReportInfo:
    recipients: list[str] = []
    ids: list[str] = []
    disposition = ""
    for part in parts:
        for f in _blocks(part):
            for key in ("final-recipient", "original-recipient"):
                if f.get(key):
                    a = _typed_address(f[key])
                    if a and a not in recipients:
                        recipients.append(a)
            ids += msg_ids(f.get("original-message-id", ""))
            disposition = disposition or f.get("disposition", "")
    ids = list(dict.fromkeys(ids + _original_ids(msg, facts.message_id)))[:MAX_THREAD_IDS]
    detail = {"disposition": disposition[:200]} if disposition else {}
    reason = Reason("mdn", "a read receipt (message disposition notification, RFC 8098)")
    return ReportInfo("mdn", tuple(recipients), tuple(ids), (reason,), detail)


def _arf(msg: Message, facts: Facts, parts: list[Message]) -> ReportInfo:
    recipients: list[str] = []
    detail: dict[str, str] = {}
    for part in parts:
        for f in _blocks(part):
            if f.get("feedback-type"):
                detail["feedback_type"] = f["feedback-type"][:60]
            for value in (f.get("original-rcpt-to", ""), f.get("removal-recipient", "")):
                a = _typed_address(value) if value else ""
                if a and "@" in a and a not in recipients:
                    recipients.append(a)
    if not recipients:
        for part, depth in walk(msg):
            if depth == 1 and (part.get("To") is not None or part.get("From") is not None):
                recipients += [a for a in _addresses_of(part, "To") if a not in recipients]
                break
    reason = Reason("arf", "an abuse complaint (ARF feedback report, RFC 5965)")
    return ReportInfo("arf", tuple(recipients), tuple(_original_ids(msg, facts.message_id)), (reason,), detail)


def _addresses_of(part: Message, name: str) -> list[str]:
    from .parse import addresses

    return addresses(header_values(part, name))


def find_report(msg: Message, facts: Facts) -> BounceInfo | ReportInfo | None:
    """Is this a bounce or a report? Checked before auto-replies and before reply matching."""
    top = content_type(msg)
    report_type = param(msg, "report-type") if top == "multipart/report" else ""
    by_type: dict[str, list[Message]] = {}
    for part, depth in walk(msg):
        if depth == 0:
            by_type.setdefault(content_type(part), []).append(part)
    ds_parts = [p for t in _DS_TYPES for p in by_type.get(t, [])]
    if ds_parts:
        return _dsn(msg, facts, ds_parts)
    mdn_parts = [p for t in _MDN_TYPES for p in by_type.get(t, [])]
    if mdn_parts or report_type.startswith("disposition-notification"):
        return _mdn(msg, facts, mdn_parts)
    arf_parts = by_type.get("message/feedback-report", [])
    if arf_parts or report_type == "feedback-report":
        return _arf(msg, facts, arf_parts)
    bounce = _non_standard(msg, facts, report_type=report_type)
    if bounce is not None:
        return bounce
    if top == "multipart/report":
        reason = Reason("report", f"a machine-generated report (multipart/report; report-type={report_type or '?'})")
        return ReportInfo(report_type or "report", (), tuple(_original_ids(msg, facts.message_id)), (reason,))
    return None
