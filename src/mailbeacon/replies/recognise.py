"""Recognition: which tracked email an inbound message refers to, what it is, and whose it is. Pure.

Order (docs/replies.md):
1. read the headers (tolerantly) and decide what the message is by itself: a bounce or report
   (`bounces.find_report`), else an automatic reply (`autoreply.find_auto_reply`);
2. find the tracked email: the message ids of `In-Reply-To`, then `References` from the end
   (nearest first); for bounces and reports first the returned original's Message-ID; failing
   that, our own tracking tokens in the message's HTML or text (a quoted pixel `/o/<token>`, a
   tracked link `/c/<token>`, also behind Gmail's image proxy `...#<url>` or percent-encoded);
3. attribute it to a recipient and, for mail written by a person, decide `reply`, `colleague`
   (R6) or `sender` (the sender's own message).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

from ..addresses import domain_of, relation_of, try_normalise
from ..model import Reason, Relation, Reply, ReplyKind
from ..tokens import InvalidToken, Keyring
from . import markers
from .autoreply import AutoInfo, find_auto_reply
from .bounces import BounceInfo, ReportInfo, find_report
from .parse import Facts, content_type, parse_message, read_facts, text_parts, texts_by_depth
from .providers import parse_ses, sns_document, to_replies
from .view import SentMessage, SentRecipient, SentView

_TOKEN_CHARS = r"[A-Za-z0-9_-]{16,160}"
_MAX_TOKEN_CANDIDATES = 200
_FUTURE_SLACK = timedelta(days=1)
#: the sender of SNS notifications by email (`no-reply@sns.amazonaws.com`)
SNS_MAIL_DOMAIN = "@sns.amazonaws.com"


@dataclass(frozen=True, slots=True)
class Analysis:
    """Everything recognition found out about one inbound message."""

    rfc_message_id: str
    #: what the message is by itself: bounce, report or auto_reply; None = written by a person
    machine_kind: ReplyKind | None
    reasons: tuple[Reason, ...]
    #: one per recipient it concerns (several only for a bounce naming several recipients);
    #: empty when it refers to no tracked email
    replies: tuple[Reply, ...] = ()
    detail: Mapping[str, Any] = field(default_factory=dict)

    @property
    def matched(self) -> bool:
        return bool(self.replies)


@dataclass(frozen=True, slots=True)
class _Token:
    workspace_id: int
    message_id: int
    recipient_id: int


def _token_pattern(public_url: str) -> re.Pattern[str]:
    prefix = urlsplit(public_url).path.rstrip("/") if public_url else ""
    return re.compile(re.escape(prefix) + r"/([ocOC])/(" + _TOKEN_CHARS + r")(?:\.gif)?")


def find_tokens(texts: list[str], keyring: Keyring, public_url: str = "") -> list[_Token]:
    """Verified tracking tokens in `texts`, in document order (first = nearest quoted)."""
    pattern = _token_pattern(public_url)
    out: list[_Token] = []
    tried: set[str] = set()
    for text in texts:
        for variant in (text, unquote(text) if "%" in text else ""):
            for m in pattern.finditer(variant):
                tok = m.group(2)
                if tok in tried:
                    continue
                tried.add(tok)
                if len(tried) > _MAX_TOKEN_CANDIDATES:
                    return out
                try:
                    claims = keyring.verify(tok)
                except (InvalidToken, ValueError):
                    continue
                t = _Token(claims.workspace_id, claims.message_id, claims.recipient_id)
                if t not in out:
                    out.append(t)
    return out


def _reasons_json(reasons: tuple[Reason, ...]) -> list[list[str]]:
    return [[r.code, r.text] for r in reasons]


def _when(facts: Facts, received_at: datetime) -> datetime:
    if facts.date is None or facts.date > received_at + _FUTURE_SLACK:
        return received_at
    return facts.date


def _classify(
    msg: Any, facts: Facts, received_at: datetime
) -> tuple[ReplyKind | None, BounceInfo | ReportInfo | None, AutoInfo | None]:
    own_plain = "\n".join(t for ct, t in text_parts(msg) if ct == "text/plain")
    report = find_report(msg, facts)
    if isinstance(report, BounceInfo):
        return ReplyKind.BOUNCE, report, None
    if isinstance(report, ReportInfo):
        return ReplyKind.REPORT, report, None
    auto = find_auto_reply(msg, facts, own_plain, (facts.date or received_at).date())
    if auto is not None:
        return ReplyKind.AUTO_REPLY, None, auto
    return None, None, None


def _attribute(sent: SentMessage, facts: Facts, token: _Token | None) -> tuple[SentRecipient | None, str, bool]:
    """(recipient, how, other_address) for mail written by someone (a person or a responder)."""
    for how, addrs in (("from", facts.from_addrs), ("reply-to", facts.reply_to), ("sender", facts.sender)):
        for a in addrs:
            r = sent.recipient_by_address(a)
            if r is not None:
                return r, how, False
    if token is not None and token.message_id == sent.id:
        r = sent.recipient(token.recipient_id)
        if r is not None:
            return r, "token", True
    externals = [r for r in sent.recipients if r.relation is Relation.EXTERNAL]
    author = facts.author
    if author:
        same = [r for r in externals if domain_of(r.address) == domain_of(author)]
        if len(same) == 1:
            return same[0], "domain", True
        if len(same) > 1:
            return None, "domain-ambiguous", True
    if len(externals) == 1:
        return externals[0], "sole-recipient", True
    return None, "none", True


def _person_kind(sent: SentMessage, facts: Facts, recipient: SentRecipient | None, how: str) -> ReplyKind:
    author = facts.author
    if author and author == (try_normalise(sent.sender) or sent.sender.lower()):
        return ReplyKind.SENDER
    exact = recipient is not None and how == "from"
    if exact and recipient is not None and recipient.relation is Relation.SENDER:
        return ReplyKind.REPLY  # the sender's own other address, as a recipient: counted (PRODUCT.md)
    if not author:
        return ReplyKind.REPLY
    relation = relation_of(
        author,
        sender_addresses=sent.sender_addresses,
        members=sent.workspace_members,
        domains=sent.workspace_domains,
    )
    if relation is Relation.SENDER:
        return ReplyKind.SENDER
    if relation is Relation.COLLEAGUE or (exact and recipient is not None and recipient.relation is Relation.COLLEAGUE):
        return ReplyKind.COLLEAGUE
    return ReplyKind.REPLY


def _bounce_targets(
    sent: SentMessage, info: BounceInfo, facts: Facts, token: _Token | None
) -> list[tuple[SentRecipient | None, str, dict[str, Any]]]:
    """(recipient, how, per-recipient detail) for each recipient of `sent` the bounce concerns."""
    out: list[tuple[SentRecipient | None, str, dict[str, Any]]] = []
    for rs in info.recipients:
        r = sent.recipient_by_address(rs.address) or (sent.recipient_by_address(rs.original) if rs.original else None)
        if r is not None and all(o[0] != r for o in out):
            out.append(
                (
                    r,
                    "failed-recipient",
                    {
                        "status": rs.status,
                        "action": rs.action,
                        "failed_recipient": rs.address,
                        "diagnostic": rs.diagnostic,
                    },
                )
            )
    if out:
        return out
    first = info.recipients[0] if info.recipients else None
    base: dict[str, Any] = (
        {
            "status": first.status,
            "action": first.action,
            "failed_recipient": first.address,
            "diagnostic": first.diagnostic,
        }
        if first
        else {"action": "delayed" if info.warning else "failed"}
    )
    if token is not None and token.message_id == sent.id and sent.recipient(token.recipient_id):
        return [(sent.recipient(token.recipient_id), "token", base)]
    notice = info.notice.lower()
    mentioned = [r for r in sent.recipients if r.address.lower() in notice]
    if len(mentioned) == 1:
        return [(mentioned[0], "notice", base)]
    if len(sent.recipients) == 1:
        return [(sent.recipients[0], "sole-recipient", base)]
    return [(None, "none", base)]


def analyse(
    raw: bytes | str,
    view: SentView,
    *,
    received_at: datetime,
    keyring: Keyring | None = None,
    public_url: str = "",
    source: str = "imap",
    mailbox_id: int | None = None,
) -> Analysis:
    """Recognise one inbound message. Never raises on malformed mail."""
    msg = parse_message(raw)
    facts = read_facts(msg, raw)
    if facts.author.endswith(SNS_MAIL_DOMAIN):  # Amazon SES notifications by email (SNS email-json)
        sns = sns_document("\n".join(t for ct, t in text_parts(msg) if ct == "text/plain").strip())
        if sns is not None and sns.get("Type") == "Notification":
            events = parse_ses(sns)
            tied, _ = to_replies(events, view, received_at=received_at, source=source, mailbox_id=mailbox_id)
            why = (Reason("ses_notification", "an Amazon SES notification sent by SNS as email (email-json)"),)
            machine = events[0].kind if events else ReplyKind.REPORT
            return Analysis(facts.message_id, machine, why, tuple(tied), {"reasons": _reasons_json(why)})
    kind, report, auto = _classify(msg, facts, received_at)
    reasons: tuple[Reason, ...] = report.reasons if report else auto.reasons if auto else ()

    ids = list(facts.thread_ids)
    if report is not None:
        ids = [i for i in report.original_ids if i != facts.message_id] + [
            i for i in ids if i not in report.original_ids
        ]
    found = view.by_rfc_ids(ids) if ids else {}
    sent: SentMessage | None = None
    matched_by = ""
    for ident in ids:
        if ident in found:
            sent = found[ident]
            if report is not None and ident in report.original_ids:
                matched_by = "original-message-id"
            else:
                matched_by = "in-reply-to" if ident in facts.in_reply_to else "references"
            break

    tokens: list[_Token] = []
    if keyring is not None:
        own, attached = texts_by_depth(msg)
        tokens = find_tokens(own + attached if (report is not None or sent is None) else own, keyring, public_url)
    if sent is None:
        for tok in tokens:
            candidate = view.by_id(tok.message_id)
            if (
                candidate is not None
                and candidate.workspace_id == tok.workspace_id
                and candidate.recipient(tok.recipient_id) is not None
            ):
                sent, matched_by = candidate, "token"
                break
    base_detail: dict[str, Any] = {"subject": facts.subject[:300]}
    if markers.FORWARD_PREFIX.match(facts.subject):
        base_detail["forward"] = True
    if sent is None:
        return Analysis(facts.message_id, kind, reasons, (), {**base_detail, "reasons": _reasons_json(reasons)})

    token = next((t for t in tokens if t.message_id == sent.id and t.workspace_id == sent.workspace_id), None)
    # an out-of-office phrase taken over from the tracked email's own subject proves nothing
    if auto is not None and not auto.firm and auto.subject_phrase.lower() in sent.subject.lower():
        kind, auto, reasons = None, None, ()
    at = _when(facts, received_at)
    common = {**base_detail, "matched_by": matched_by}

    def reply(
        kind_: ReplyKind, r: SentRecipient | None, how: str, other: bool, rid: str, extra: dict[str, Any]
    ) -> Reply:
        detail = {**common, "attribution": how, **extra, "reasons": _reasons_json(reasons)}
        return Reply(
            message_id=sent.id,
            recipient_id=r.id if r else None,
            rfc_message_id=rid,
            kind=kind_,
            from_address=facts.author,
            at=at,
            other_address=other,
            detail=detail,
            source=source,
            mailbox_id=mailbox_id,
        )

    replies: list[Reply] = []
    if isinstance(report, BounceInfo):
        targets = _bounce_targets(sent, report, facts, token)
        failed = [rs.address for rs in report.recipients][:20]
        for n, (r, how, extra) in enumerate(targets):
            rid = facts.message_id if n == 0 else f"{facts.message_id}#rcpt={r.id if r else n}"
            extra = {**extra, "warning": report.warning, "format": report.format, "failed_recipients": failed}
            replies.append(reply(ReplyKind.BOUNCE, r, how, False, rid, extra))
    elif isinstance(report, ReportInfo):
        r = next((x for a in report.recipients if (x := sent.recipient_by_address(a)) is not None), None)
        how = "report-recipient"
        other = False
        if r is None:
            r, how, other = _attribute(sent, facts, token)
        replies.append(
            reply(ReplyKind.REPORT, r, how, other, facts.message_id, {"report": report.report, **report.detail})
        )
    else:
        r, how, other = _attribute(sent, facts, token)
        if auto is not None:
            ooo: dict[str, Any] = {"ooo": auto.ooo}
            if auto.return_date:
                ooo["return_date"] = auto.return_date.isoformat()
            replies.append(reply(ReplyKind.AUTO_REPLY, r, how, other, facts.message_id, ooo))
        else:
            person = _person_kind(sent, facts, r, how)
            if person is not ReplyKind.REPLY:
                keep = r if how == "from" else None
                replies.append(reply(person, keep, how if keep else "none", False, facts.message_id, {}))
            else:
                replies.append(reply(ReplyKind.REPLY, r, how, other, facts.message_id, {}))
    return Analysis(facts.message_id, kind, reasons, tuple(replies), {**common, "reasons": _reasons_json(reasons)})


def recognise(
    raw: bytes | str,
    view: SentView,
    *,
    received_at: datetime,
    keyring: Keyring | None = None,
    public_url: str = "",
    source: str = "imap",
    mailbox_id: int | None = None,
) -> list[Reply]:
    """The replies (of any kind) an inbound message amounts to; empty if it refers to nothing tracked."""
    analysis = analyse(
        raw, view, received_at=received_at, keyring=keyring, public_url=public_url, source=source, mailbox_id=mailbox_id
    )
    return list(analysis.replies)


def needs_body(headers: bytes | str, view: SentView) -> str:
    """Decide from the header block alone whether the whole message is worth fetching.

    Returns why ('' = no: it cannot concern tracked mail): its thread ids name a tracked email,
    it looks like a bounce or report (the original's Message-ID is inside), it comes from an
    address tracked mail was sent to, or it reads like a reply or forward without any thread
    headers (then only a quoted pixel or link can tell).
    """
    block = headers if isinstance(headers, str) else bytes(headers)
    msg = parse_message(block)
    facts = read_facts(msg, block)
    if facts.thread_ids and view.by_rfc_ids(list(facts.thread_ids)):
        return "thread"
    if (
        content_type(msg) == "multipart/report"
        or facts.failed_recipients
        or facts.system_sender
        or facts.null_return_path
        or markers.BOUNCE_SUBJECT.match(facts.subject)
    ):
        return "report"
    author = facts.author
    if author.endswith(SNS_MAIL_DOMAIN):
        return "provider"
    if author and view.knows_address(author):
        return "known-address"
    if not facts.thread_ids and (
        markers.REPLY_PREFIX.match(facts.subject) or markers.FORWARD_PREFIX.match(facts.subject)
    ):
        return "reply-like"
    return ""
