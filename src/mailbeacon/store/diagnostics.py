"""The facts record behind the "why" answer: everything stored about one message and recipient.

`why_facts` reads them in one connection; `mailbeacon.diagnose` (pure) turns them into the answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, exists, func, select

from ..diagnose.facts import DeviceFact, Facts, HitFact, Injection, MailboxFact, ReplyFact
from ..errors import NotFound
from ..model import HitKind, Message, Reason, Recipient, RecipientField, Relation, ReplyKind, TrackingChoice
from ..model import VerdictClass as V
from ..reachability import tracking_base
from . import schema as t
from .counts import CountsStore
from .hits import STATE_SETTLED

#: at most this many hits of one recipient go into the answer (the latest ones)
MAX_HITS = 5000


def switches_of(tracking: Mapping[str, Any]) -> TrackingChoice | None:
    """The switches stored with a message at sending time (None when not recorded)."""
    if not all(isinstance(tracking.get(k), bool) for k in ("opens", "clicks", "replies")):
        return None
    return TrackingChoice(
        bool(tracking["opens"]),
        bool(tracking["clicks"]),
        bool(tracking["replies"]),
        tuple(str(r) for r in tracking.get("reasons") or ()),
    )


def injection_of(outcome: Mapping[str, Any], links: int) -> Injection | None:
    """What instrumenting did, from a message's stored outcome (None when not recorded)."""
    if "instrumented" not in outcome:
        return None
    failure = outcome.get("failure")
    return Injection(
        html=bool(outcome.get("html")),
        instrumented=bool(outcome.get("instrumented")),
        pixel=bool(outcome.get("pixel", outcome.get("instrumented") and outcome.get("html"))),
        decoy=bool(outcome.get("decoy")),
        links=links,
        failure=str(failure) if failure else None,
        notes=tuple(str(n) for n in outcome.get("notes") or ()),
    )


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def relay_of(outcome: Mapping[str, Any], address: str) -> str | None:
    """ "" when the outgoing server took the copy for `address`, its refusal if not, None if unknown."""
    relay = outcome.get("relay")
    if not isinstance(relay, Mapping):
        return None
    failed = relay.get("failed") or {}
    if isinstance(failed, Mapping) and address in failed:
        return str(failed[address])
    return "" if address in (relay.get("delivered") or ()) else None


class DiagnosticsStore(CountsStore):
    def why_facts(self, message: Message, recipient: Recipient, *, public_url: str, settle_window: float) -> Facts:
        """The facts for one recipient of `message`. `public_url`: the server's tracking address;
        when the message did not record the one its copies carry, the workspace's own tracking
        domain (`tracking_url`) or else that one is."""
        with self.read() as c:
            ws = c.execute(
                select(t.workspaces.c.domains, t.workspaces.c.settings).where(t.workspaces.c.id == message.workspace_id)
            ).first()
            domains, settings = (ws.domains, ws.settings) if ws is not None else (None, None)
            own = tracking_base("", settings or {})
            return Facts(
                message_id=message.id,
                rfc_message_id=message.rfc_message_id,
                subject=message.subject,
                sender=message.sender,
                sent_at=message.sent_at,
                recipient=recipient.address,
                relation=recipient.relation,
                switches=switches_of(message.tracking),
                injection=injection_of(message.outcome, message.links),
                public_url=str(message.outcome.get("public_url") or tracking_base(public_url, settings or {})),
                workspace_tracking_url=own or None,
                html_bytes=_int(message.outcome.get("html_bytes")),
                relay=relay_of(message.outcome, recipient.address),
                workspace_domains=tuple(domains or ()),
                devices=self._why_devices(c, message.user_id),
                hits=self._why_hits(c, recipient.id),
                replies=self._why_replies(c, recipient.id),
                mailboxes=self._why_mailboxes(c, message.user_id),
                inbound_api=self._why_inbound_api(c, message.user_id),
                unattributed_bounces=self._why_unattributed_bounces(c, message.id),
                counts=self.counts([recipient.id]).get(recipient.id),
                settle_window=settle_window,
            )

    def recipient_of(self, message_id: int, address: str) -> Recipient:
        """The recipient `address` of a message (NotFound with the recipients it has)."""
        q = select(t.recipients).where(t.recipients.c.message_id == message_id).order_by(t.recipients.c.id)
        with self.read() as c:
            rows = c.execute(q).all()
        wanted = address.strip().lower()
        for r in rows:
            if r.address == wanted:
                return Recipient(r.id, r.message_id, r.address, RecipientField(r.field), Relation(r.relation))
        names = ", ".join(r.address for r in rows[:5]) + (", ..." if len(rows) > 5 else "")
        raise NotFound(f"{address} is not a recipient of message {message_id} (its recipients: {names or 'none'})")

    def _why_hits(self, c: Connection, recipient_id: int) -> tuple[HitFact, ...]:
        q = (
            select(
                t.hits.c.kind,
                t.hits.c.at,
                t.hits.c.link,
                t.hits.c.state,
                t.hits.c.device_id,
                t.verdicts.c.cls,
                t.verdicts.c.subtype,
                t.verdicts.c.reasons,
            )
            .select_from(t.hits.outerjoin(t.verdicts, t.verdicts.c.hit_id == t.hits.c.id))
            .where(t.hits.c.recipient_id == recipient_id)
            .order_by(t.hits.c.at.desc(), t.hits.c.id.desc())
            .limit(MAX_HITS)
        )
        out = [
            HitFact(
                kind=HitKind(r.kind),
                at=r.at,
                link=r.link,
                verdict=V(r.cls) if r.cls else (V.SELF if r.kind == HitKind.SELF_VIEW.value else None),
                subtype=r.subtype,
                reasons=tuple(Reason(code, text) for code, text in (r.reasons or ())),
                settled=r.state == STATE_SETTLED,
                device_id=r.device_id,
            )
            for r in c.execute(q)
        ]
        return tuple(reversed(out))

    def _why_replies(self, c: Connection, recipient_id: int) -> tuple[ReplyFact, ...]:
        q = select(t.replies).where(t.replies.c.recipient_id == recipient_id).order_by(t.replies.c.at)
        out = []
        for r in c.execute(q):
            detail = dict(r.detail or {})
            out.append(
                ReplyFact(
                    kind=ReplyKind(r.kind),
                    at=r.at,
                    from_address=r.from_address,
                    source=r.source,
                    warning=bool(detail.get("warning")),
                    status=str(detail["status"]) if detail.get("status") else None,
                    diagnostic=str(detail["diagnostic"])[:200] if detail.get("diagnostic") else None,
                )
            )
        return tuple(out)

    def _why_devices(self, c: Connection, user_id: int) -> tuple[DeviceFact, ...]:
        q = (
            select(t.devices)
            .where(t.devices.c.user_id == user_id, t.devices.c.revoked_at.is_(None))
            .order_by(t.devices.c.id)
        )
        return tuple(
            DeviceFact(
                d.public_id,
                d.kind,
                d.name,
                d.created_at,
                # the last self-view beacon: `last_acted_at` once the extension reports (heartbeats
                # touch `last_seen_at` too); before that `last_seen_at`, which only beacons set
                d.last_acted_at if d.reported_at is not None else d.last_seen_at,
                tuple(d.sites) if d.sites is not None else None,
            )
            for d in c.execute(q)
        )

    def _why_mailboxes(self, c: Connection, user_id: int) -> tuple[MailboxFact, ...]:
        q = select(t.mailboxes).where(t.mailboxes.c.user_id == user_id).order_by(t.mailboxes.c.id)
        return tuple(MailboxFact(m.id, m.url, m.state, m.last_ok_at, m.last_error) for m in c.execute(q))

    def _why_inbound_api(self, c: Connection, user_id: int) -> bool:
        q = select(
            exists().where(
                t.replies.c.message_id == t.messages.c.id, t.messages.c.user_id == user_id, t.replies.c.source == "api"
            )
        )
        return bool(c.execute(q).scalar())

    def _why_unattributed_bounces(self, c: Connection, message_id: int) -> int:
        q = select(func.count()).where(
            t.replies.c.message_id == message_id,
            t.replies.c.recipient_id.is_(None),
            t.replies.c.kind == ReplyKind.BOUNCE.value,
        )
        return int(c.execute(q).scalar_one())
