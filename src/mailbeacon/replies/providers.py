"""Email providers' bounce and complaint notifications, read into facts and tied to tracked mail. Pure.

A sender who relays through Amazon SES, SendGrid, Mailgun or Postmark hears of failed deliveries
from the provider (a webhook, or SNS JSON by email), not as DSNs. Each `parse_*` reads one
provider's payload (already decoded JSON) into `ProviderEvent`s: one per recipient a bounce or
complaint concerns; deliveries, opens, clicks and the like are left out. `to_replies` ties them
to the tracked email (by the original Message-ID the provider echoes; else by recipient and
subject among the candidates the caller found for that address) and makes the `Reply` values
recorded like a DSN's. Verifying where a payload came from is not done here (provider_auth.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ..addresses import try_normalise
from ..errors import InvalidInput
from ..model import Reply, ReplyKind
from .parse import id_variants, msg_ids
from .view import SentMessage, SentView

PROVIDERS = ("ses", "sendgrid", "mailgun", "postmark")
HARD, SOFT, DELAYED, COMPLAINT = "hard", "soft", "delayed", "complaint"
_MAX_EVENTS = 1000
_TEXT = 300
#: how long providers retry a notification (SendGrid: 72 hours)
_RETRIES_LAST = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    """What a provider says about one recipient of one sent message."""

    provider: str
    #: the provider's id of this notification (with the recipient: what makes it unique)
    event_id: str
    #: BOUNCE (hard, soft or only delayed) or REPORT (a complaint)
    kind: ReplyKind
    recipient: str
    #: hard | soft | delayed (the provider will retry: a warning, not counted) | complaint
    bounce_type: str
    #: the original's Message-ID as the provider gives it, `<...>`
    original_ids: tuple[str, ...] = ()
    at: datetime | None = None
    status: str = ""
    diagnostic: str = ""
    description: str = ""
    provider_message_id: str = ""
    subject: str = ""


def _s(value: object, limit: int = _TEXT) -> str:
    return str(value).strip()[:limit] if isinstance(value, str | int | float) and not isinstance(value, bool) else ""


def _d(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _address(value: object) -> str:
    text = _s(value, 320)
    if "<" in text and ">" in text:
        text = text[text.rfind("<") + 1 : text.rfind(">")]
    return try_normalise(text) or ""


def _ids(value: object) -> tuple[str, ...]:
    text = _s(value, 998)
    if not text:
        return ()
    found = msg_ids(text) if "@" in text else []
    return tuple(found) or (id_variants(text)[:1])


def _unix(value: object) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 2**34:
        return datetime.fromtimestamp(value, UTC)
    return None


def _iso(value: object) -> datetime | None:
    text = _s(value, 40)
    if not text:
        return None
    if "." in text:  # .NET writes seven fractional digits; Python reads at most six
        head, _, frac = text.partition(".")
        digits = frac[: len(frac) - len(frac.lstrip("0123456789"))]
        text = f"{head}.{digits[:6]}{frac[len(digits) :]}"
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)


def digest(value: object) -> str:
    """A stable id for a notification that carries none: the hash of its JSON."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:32]


def _records(data: object, what: str) -> list[Mapping[str, Any]]:
    items = data if isinstance(data, list) else [data]
    if not items or not all(isinstance(i, Mapping) for i in items):
        raise InvalidInput(f"a {what} notification is a JSON object (or a list of them)")
    return list(items[:_MAX_EVENTS])


# -- SendGrid: the event webhook posts a JSON list of events ------------------------------------


def parse_sendgrid(data: object) -> list[ProviderEvent]:
    out = []
    for e in _records(data, "SendGrid"):
        event, recipient = _s(e.get("event")), _address(e.get("email"))
        if not recipient:
            continue
        if event == "bounce":
            kind, how = ReplyKind.BOUNCE, SOFT if _s(e.get("type")) == "blocked" else HARD
        elif event == "dropped":
            kind, how = ReplyKind.BOUNCE, HARD
        elif event == "deferred":
            kind, how = ReplyKind.BOUNCE, DELAYED
        elif event == "spamreport":
            kind, how = ReplyKind.REPORT, COMPLAINT
        else:
            continue
        out.append(
            ProviderEvent(
                provider="sendgrid",
                event_id=_s(e.get("sg_event_id")) or digest(e),
                kind=kind,
                recipient=recipient,
                bounce_type=how,
                original_ids=_ids(e.get("smtp-id")),
                at=_unix(e.get("timestamp")),
                status=_s(e.get("status")),
                diagnostic=_s(e.get("reason")) or _s(e.get("response")),
                description=f"{event}: {_s(e.get('type')) or _s(e.get('reason'))}".rstrip(": "),
                provider_message_id=_s(e.get("sg_message_id")),
            )
        )
    return out


# -- Mailgun: one event per request, `{"signature": {...}, "event-data": {...}}` ----------------


def parse_mailgun(data: object) -> list[ProviderEvent]:
    e = _d(_d(data).get("event-data"))
    event = _s(e.get("event"))
    headers = _d(_d(e.get("message")).get("headers"))
    recipient = _address(e.get("recipient")) or _address(headers.get("to"))
    if not recipient or event not in ("failed", "rejected", "complained"):
        return []
    status = _d(e.get("delivery-status"))
    if event == "complained":
        kind, how = ReplyKind.REPORT, COMPLAINT
    else:
        kind, how = ReplyKind.BOUNCE, DELAYED if _s(e.get("severity")) == "temporary" else HARD
    code = _s(status.get("code"))
    message = _s(status.get("message")) or _s(status.get("description")) or _s(_d(e.get("reject")).get("reason"))
    return [
        ProviderEvent(
            provider="mailgun",
            event_id=_s(e.get("id")) or digest(e),
            kind=kind,
            recipient=recipient,
            bounce_type=how,
            original_ids=_ids(headers.get("message-id")),
            at=_unix(e.get("timestamp")),
            status=code,
            diagnostic=f"{code} {message}".strip() if message else code,
            description=f"{event}: {_s(e.get('reason')) or _s(e.get('severity'))}".rstrip(": "),
            subject=_s(headers.get("subject")),
        )
    ]


# -- Postmark: one record per request (bounce and spam complaint webhooks) ----------------------

#: Postmark's bounce `Type`s that are delivery failures, and how hard; the others (auto-responders,
#: subscription changes, opens) are left out
_POSTMARK_TYPES = {
    "HardBounce": HARD,
    "BadEmailAddress": HARD,
    "ManuallyDeactivated": HARD,
    "Blocked": SOFT,
    "SoftBounce": SOFT,
    "DnsError": SOFT,
    "ContentRelay": SOFT,
    "SMTPApiError": SOFT,
    "Unknown": SOFT,
    "Transient": DELAYED,
}


def parse_postmark(data: object) -> list[ProviderEvent]:
    e = _records(data, "Postmark")[0]
    record, kind_text = _s(e.get("RecordType")), _s(e.get("Type"))
    recipient = _address(e.get("Email"))
    if record == "SpamComplaint" or kind_text == "SpamComplaint":
        kind, how = ReplyKind.REPORT, COMPLAINT
    elif record == "Bounce" and kind_text in _POSTMARK_TYPES:
        kind, how = ReplyKind.BOUNCE, _POSTMARK_TYPES[kind_text]
    else:
        return []
    if not recipient:
        return []
    meta = _d(e.get("Metadata"))
    return [
        ProviderEvent(
            provider="postmark",
            event_id=f"{record}:{_s(e.get('ID')) or digest(e)}",
            kind=kind,
            recipient=recipient,
            bounce_type=how,
            original_ids=_ids(meta.get("message-id") or meta.get("Message-ID")),
            at=_iso(e.get("BouncedAt")),
            diagnostic=_s(e.get("Details")),
            description=f"{kind_text}: {_s(e.get('Description'))}".rstrip(": "),
            provider_message_id=_s(e.get("MessageID")),
            subject=_s(e.get("Subject")),
        )
    ]


# -- Amazon SES: the SES event inside an SNS notification (`Message`, a JSON string) ------------


def parse_ses(sns: Mapping[str, Any]) -> list[ProviderEvent]:
    """The bounces and complaints in an SNS `Notification` whose `Message` is an SES event."""
    try:
        e = json.loads(_s(sns.get("Message"), 256 * 1024) or "{}")
    except (ValueError, RecursionError):
        return []
    e = _d(e)
    what = _s(e.get("notificationType")) or _s(e.get("eventType"))
    mail = _d(e.get("mail"))
    ids = list(_ids(_d(mail.get("commonHeaders")).get("messageId")))
    headers = mail.get("headers")
    for h in headers if isinstance(headers, list) else []:
        if _s(_d(h).get("name")).lower() == "message-id":
            ids += [i for i in _ids(_d(h).get("value")) if i not in ids]
    subject = _s(_d(mail.get("commonHeaders")).get("subject"))
    base_id = _s(sns.get("MessageId"))
    out = []
    if what == "Bounce":
        b = _d(e.get("bounce"))
        how = {"Permanent": HARD, "Transient": SOFT}.get(_s(b.get("bounceType")), HARD)
        people = b.get("bouncedRecipients")
        desc = f"{_s(b.get('bounceType'))}: {_s(b.get('bounceSubType'))}"
        kind = ReplyKind.BOUNCE
        at = _iso(b.get("timestamp"))
    elif what == "Complaint":
        b = _d(e.get("complaint"))
        how, people, kind = COMPLAINT, b.get("complainedRecipients"), ReplyKind.REPORT
        desc = f"complaint: {_s(b.get('complaintFeedbackType')) or 'unspecified'}"
        at = _iso(b.get("timestamp"))
    else:
        return []
    for p in people[:_MAX_EVENTS] if isinstance(people, list) else []:
        p = _d(p)
        recipient = _address(p.get("emailAddress"))
        if recipient:
            out.append(
                ProviderEvent(
                    provider="ses",
                    event_id=_s(b.get("feedbackId")) or base_id or digest(e),
                    kind=kind,
                    recipient=recipient,
                    bounce_type=how,
                    original_ids=tuple(ids),
                    at=at or _iso(sns.get("Timestamp")),
                    status=_s(p.get("status")),
                    diagnostic=_s(p.get("diagnosticCode")),
                    description=desc,
                    provider_message_id=_s(mail.get("messageId")),
                    subject=subject,
                )
            )
    return out


def sns_document(text: str | bytes) -> dict[str, Any] | None:
    """An SNS message (HTTP body or the body of an email-json subscription's mail), or None."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("Type"), str) or "MessageId" not in data:
        return None
    return data


PARSERS: Mapping[str, Callable[[object], list[ProviderEvent]]] = {
    "sendgrid": parse_sendgrid,
    "mailgun": parse_mailgun,
    "postmark": parse_postmark,
}


# -- tying events to tracked mail ---------------------------------------------------------------

#: the tracked messages sent to an address (newest first), for events without a Message-ID
Candidates = Callable[[str], Sequence[SentMessage]]


def _find(event: ProviderEvent, view: SentView, candidates: Candidates | None) -> tuple[SentMessage | None, str]:
    if event.original_ids:  # an id that is not a tracked email's: mail sent untracked, not another email
        found = view.by_rfc_ids(list(event.original_ids))
        return next(
            ((found[i], "original-message-id") for i in event.original_ids if i in found),
            (None, "none"),
        )
    if candidates is None:
        return None, "none"
    sent = [m for m in candidates(event.recipient) if m.recipient_by_address(event.recipient)]
    if event.subject:
        same = [m for m in sent if m.subject.strip() == event.subject.strip()]
        if same:
            return same[0], "recipient-and-subject"
    if len(sent) == 1:
        return sent[0], "recipient"
    return None, "ambiguous" if sent else "none"


def to_replies(
    events: Sequence[ProviderEvent],
    view: SentView,
    *,
    received_at: datetime,
    candidates: Candidates | None = None,
    source: str = "provider",
    mailbox_id: int | None = None,
) -> tuple[list[Reply], list[ProviderEvent]]:
    """(replies to record, events that concern no tracked email)."""
    replies, unmatched = [], []
    for ev in events:
        sent, how = _find(ev, view, candidates)
        r = sent.recipient_by_address(ev.recipient) if sent else None
        if sent is None or r is None:
            unmatched.append(ev)
            continue
        # the provider's time of the event, unless it is off: later than now, or older than its retries last
        at = ev.at if ev.at is not None and received_at - _RETRIES_LAST <= ev.at <= received_at else received_at
        detail: dict[str, Any] = {
            "provider": ev.provider,
            "provider_event_id": ev.event_id,
            "bounce_type": ev.bounce_type,
            "description": ev.description,
            "matched_by": how,
            "attribution": "failed-recipient" if ev.kind is ReplyKind.BOUNCE else "report-recipient",
            "failed_recipient": ev.recipient,
        }
        if ev.provider_message_id:
            detail["provider_message_id"] = ev.provider_message_id
        if ev.kind is ReplyKind.BOUNCE:
            detail |= {
                "action": "delayed" if ev.bounce_type == DELAYED else "failed",
                "warning": ev.bounce_type == DELAYED,
                "status": ev.status,
                "diagnostic": ev.diagnostic,
                "format": f"provider:{ev.provider}",
            }
        else:
            detail |= {"report": "complaint", "feedback": ev.description, "diagnostic": ev.diagnostic}
        replies.append(
            Reply(
                message_id=sent.id,
                recipient_id=r.id,
                rfc_message_id=f"{ev.provider}:{ev.event_id}#{ev.recipient}"[:998],
                kind=ev.kind,
                from_address=ev.recipient,
                at=at,
                detail=detail,
                source=source,
                mailbox_id=mailbox_id,
            )
        )
    return replies, unmatched
