"""What `mailbeacon stats` and the API show about messages: numbers per recipient and per message."""

from __future__ import annotations

from typing import Any

from .model import Message
from .stats import message_view, recipient_view
from .store import Store


def _iso(m: Message) -> str:
    return m.sent_at.isoformat().replace("+00:00", "Z")


def message_report(store: Store, message: Message) -> dict[str, Any]:
    """One message: what was tracked, totals, and per recipient the counted numbers."""
    recipients = store.recipients(message.id)
    counts = store.counts(r.id for r in recipients)
    provisional = store.provisional_counts(r.id for r in recipients)
    views = []
    for r in recipients:
        v = recipient_view(r.address, counts[r.id], provisional=provisional.get(r.id))
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
        "outcome": dict(message.outcome),
        "totals": message_view(views),
        "recipients": views,
    }


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
