"""What `mailbeacon stats` and the API show about messages: numbers per recipient and per message."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from .diagnose.wording import failure_reason
from .model import Message, ReplyKind
from .rewrite import clipped_by_gmail
from .stats import message_view, recipient_view
from .store import Store
from .switches import REASONS


def _iso(m: Message) -> str:
    return m.sent_at.isoformat().replace("+00:00", "Z")


def message_report(store: Store, message: Message) -> dict[str, Any]:
    """One message: what was tracked, totals, and per recipient the counted numbers."""
    recipients = store.recipients(message.id)
    counts = store.counts(r.id for r in recipients)
    provisional = store.provisional_counts(r.id for r in recipients)
    colleagues = Counter(x.recipient_id for x in store.replies(message_id=message.id) if x.kind is ReplyKind.COLLEAGUE)
    stored_size = message.outcome.get("html_bytes")
    size = stored_size if isinstance(stored_size, int) else 0
    views = []
    for r in recipients:
        v = recipient_view(r.address, counts[r.id], provisional=provisional.get(r.id))
        v["colleague_replies"] = colleagues.get(r.id, 0)
        v["recipient_id"] = r.id
        v["field"] = r.field.value
        v["relation"] = r.relation.value
        views.append(v)
    return {
        "message_id": message.rfc_message_id,
        "id": message.id,
        "sender": message.sender,
        "subject": message.subject,
        "sent_at": _iso(message),
        "tracking": dict(message.tracking),
        "tracking_off": [REASONS.get(str(code), str(code)) for code in _codes(message.tracking.get("reasons"))],
        "delivery": delivery(message.outcome, len(recipients)),
        "outcome": dict(message.outcome),
        "untracked": untracked(message.outcome),
        "pending_hits": sum(sum(p.values()) for p in provisional.values()),
        "html_bytes": size,
        "clipped_by_gmail": clipped_by_gmail(size),
        "totals": message_view(views),
        "recipients": views,
    }


def untracked(outcome: Mapping[str, object]) -> str | None:
    """Why the message went out as written, nothing tracked (None when it was instrumented)."""
    failure = outcome.get("failure")
    return f"Sent as written, nothing tracked: {failure_reason(failure)}." if isinstance(failure, str) else None


def _codes(value: object) -> list[object]:
    return list(value) if isinstance(value, list | tuple) else []


def delivery(outcome: Mapping[str, object], recipients: int) -> dict[str, object]:
    """Whether the message went out: `sent`, `partly_sent`, `not_sent` or `unknown` (handed to the
    caller of `instrument()`, who sends it), with a sentence that says so."""
    relay = outcome.get("relay")
    if not isinstance(relay, Mapping):
        return {"state": "unknown", "text": "handed to the caller to send"}
    if relay.get("dry_run"):
        return {"state": "not_sent", "text": "not sent (dry run)"}
    delivered = relay.get("delivered")
    failed = relay.get("failed")
    n_ok = len(delivered) if isinstance(delivered, list) else 0
    fails = dict(failed) if isinstance(failed, Mapping) else {}
    if not fails:
        return {"state": "sent", "text": f"sent to {n_ok} recipient(s)"}
    address, why = next(iter(fails.items()))
    if n_ok == 0:
        return {"state": "not_sent", "text": f"not sent: {why} (e.g. for {address})"}
    return {"state": "partly_sent", "text": f"sent to {n_ok} of {recipients}; not to {address}: {why}"}


def hits_report(store: Store, message_id: int) -> list[dict[str, Any]]:
    """Every hit of a message with its verdict and reasons (the timeline)."""
    rcpts = {r.id: r.address for r in store.recipients(message_id)}
    out = []
    for sv in store.hits_with_verdicts(message_id=message_id, limit=100_000):
        h = sv.hit
        out.append(
            {
                "id": h.id,
                "at": h.at.isoformat().replace("+00:00", "Z"),
                "recipient": rcpts.get(h.recipient_id),
                "kind": h.kind.value,
                "link": h.link,
                "method": h.method,
                "ip": h.ip,
                "user_agent": h.user_agent,
                "verdict": sv.verdict.cls.value if sv.verdict else None,
                "subtype": sv.verdict.subtype if sv.verdict else None,
                "reasons": [{"code": r.code, "text": r.text} for r in sv.verdict.reasons] if sv.verdict else [],
                "settled": sv.settled,
            }
        )
    return out
