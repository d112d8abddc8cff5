"""Deliveries: the fan-out of the outbox to webhook endpoints, claiming due ones, their outcomes.

Each endpoint keeps the outbox position it has reached (`after_event_id`); `fan_out` turns the
events after it into deliveries (one per event and endpoint, whatever happens twice) and moves
it on, in one transaction. `claim_due` hands due deliveries to one sender: it pushes their
`next_attempt_at` past the time a send can take, so no other node takes them meanwhile (on
PostgreSQL the rows are picked `FOR UPDATE SKIP LOCKED`: two nodes never pick the same one); a
node that dies while sending leaves the delivery to be tried again when that time is over.

The cursor never passes an event still to come: ids become visible in order (store/events.py:
writers of events take turns until they commit).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, exists, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ..errors import NotFound
from ..events import About, payload
from . import schema as t
from .base import StoreBase
from .events import _event

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    webhook_id: int
    event_id: int | None
    msg_id: str
    body: str
    state: str
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status: int | None
    last_error: str | None
    created_at: datetime

    @property
    def kind(self) -> str:
        """The event's type (`open`, ... `test`), as in the body."""
        return str(json.loads(self.body).get("type", ""))


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery handed to one sender, with where it goes and the key it is signed with."""

    delivery: Delivery
    url: str
    secret: str  # encrypted


def _delivery(row: Row[Any]) -> Delivery:
    return Delivery(**{f: getattr(row, f) for f in Delivery.__dataclass_fields__})


def body_json(body: dict[str, object]) -> str:
    """The exact text that is sent and signed."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


class DeliveriesStore(StoreBase):
    def delivery(self, delivery_id: int) -> Delivery:
        with self.read() as c:
            row = c.execute(select(t.webhook_deliveries).where(t.webhook_deliveries.c.id == delivery_id)).first()
        if row is None:
            raise NotFound(f"no webhook delivery {delivery_id}")
        return _delivery(row)

    def add_test_delivery(self, webhook_id: int, msg_id: str, body: dict[str, object], now: datetime) -> Delivery:
        """A test event for one endpoint, due now (tried once, whether or not the endpoint is enabled)."""
        with self.tx() as c:
            did = c.execute(
                insert(t.webhook_deliveries).values(
                    webhook_id=webhook_id,
                    event_id=None,
                    msg_id=msg_id,
                    body=body_json(body),
                    state=PENDING,
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
        return self.delivery(int(did))

    # -- fan-out, claim, outcome ----------------------------------------------------------------

    def fan_out(self, now: datetime, *, batch: int = 200) -> int:
        """Turn new outbox events into deliveries for each enabled endpoint they match; returns how many."""
        made = 0
        pg = self.dialect != "sqlite"
        ins = (postgresql.insert if pg else sqlite.insert)(t.webhook_deliveries)
        w = t.webhooks.c
        behind = exists().where(t.events.c.workspace_id == w.workspace_id, t.events.c.id > w.after_event_id)
        with self.read() as c:  # most rounds find nothing: no write transaction for them
            if c.execute(select(w.id).where(w.enabled.is_(True), behind).limit(1)).first() is None:
                return 0
        with self.tx() as c:
            q = select(w.id, w.workspace_id, w.kinds, w.after_event_id).where(w.enabled.is_(True)).order_by(w.id)
            if pg:
                q = q.with_for_update(skip_locked=True)
            abouts: dict[tuple[int, int | None], About] = {}
            for hook in c.execute(q).all():
                e = t.events.c
                eq = (
                    select(t.events)
                    .where(e.workspace_id == hook.workspace_id, e.id > hook.after_event_id)
                    .order_by(e.id)
                    .limit(batch)
                )
                events = [_event(r) for r in c.execute(eq)]
                if not events:
                    continue
                for ev in events:
                    if hook.kinds and ev.kind.value not in hook.kinds:
                        continue
                    key = (ev.message_id, ev.recipient_id)
                    if key not in abouts:
                        abouts[key] = self._about(c, ev.message_id, ev.recipient_id)
                    new = c.execute(
                        ins.values(
                            webhook_id=hook.id,
                            event_id=ev.id,
                            msg_id=f"evt_{ev.id}",
                            body=body_json(payload(ev, abouts[key])),
                            state=PENDING,
                            attempts=0,
                            next_attempt_at=now,
                            created_at=now,
                        )
                        .on_conflict_do_nothing(index_elements=["webhook_id", "event_id"])
                        .returning(t.webhook_deliveries.c.id)
                    ).scalar()
                    made += new is not None
                c.execute(update(t.webhooks).where(t.webhooks.c.id == hook.id).values(after_event_id=events[-1].id))
        return made

    def _about(self, c: Connection, message_id: int, recipient_id: int | None) -> About:
        m = c.execute(
            select(t.messages.c.subject, t.messages.c.sender, t.messages.c.rfc_message_id).where(
                t.messages.c.id == message_id
            )
        ).first()
        address = None
        if recipient_id is not None:
            address = c.execute(select(t.recipients.c.address).where(t.recipients.c.id == recipient_id)).scalar()
        if m is None:
            return About(subject="", sender="", rfc_message_id="", recipient=address)
        return About(subject=m.subject or "", sender=m.sender, rfc_message_id=m.rfc_message_id, recipient=address)

    def claim_due(
        self, now: datetime, hold: timedelta, *, limit: int = 20, delivery_id: int | None = None
    ) -> list[Claimed]:
        """Due deliveries of enabled endpoints (test events of any), each handed to this caller only."""
        d = t.webhook_deliveries.c
        w = t.webhooks.c
        q = (
            select(d.id, w.url, w.secret)
            .select_from(t.webhook_deliveries.join(t.webhooks, w.id == d.webhook_id))
            .where(d.state == PENDING, d.next_attempt_at <= now, or_(w.enabled.is_(True), d.event_id.is_(None)))
            .order_by(d.next_attempt_at, d.id)
            .limit(limit)
        )
        if delivery_id is not None:
            q = q.where(d.id == delivery_id)
        with self.read() as c:  # most rounds find nothing due: no write transaction for them
            if c.execute(q).first() is None:
                return []
        if self.dialect != "sqlite":
            q = q.with_for_update(skip_locked=True, of=t.webhook_deliveries)
        with self.tx() as c:
            picked = c.execute(q).all()
            if not picked:
                return []
            ids = [r.id for r in picked]
            c.execute(update(t.webhook_deliveries).where(d.id.in_(ids)).values(next_attempt_at=now + hold))
            rows = {r.id: _delivery(r) for r in c.execute(select(t.webhook_deliveries).where(d.id.in_(ids)))}
        return [Claimed(rows[r.id], r.url, r.secret) for r in picked]

    def record_delivered(self, delivery: Delivery, now: datetime, status: int) -> None:
        """A 2xx answer: delivered; the endpoint is no longer failing."""
        with self.tx() as c:
            c.execute(
                update(t.webhook_deliveries)
                .where(t.webhook_deliveries.c.id == delivery.id)
                .values(
                    state=DELIVERED,
                    attempts=t.webhook_deliveries.c.attempts + 1,
                    last_attempt_at=now,
                    last_status=status,
                    last_error=None,
                    next_attempt_at=None,
                )
            )
            if delivery.event_id is not None:
                c.execute(
                    update(t.webhooks)
                    .where(t.webhooks.c.id == delivery.webhook_id, t.webhooks.c.failing_since.is_not(None))
                    .values(failing_since=None)
                )

    def record_failed(
        self,
        delivery: Delivery,
        now: datetime,
        status: int | None,
        error: str,
        retry_at: Callable[[datetime, int], datetime | None],
        disable: Callable[[datetime | None], str | None],
    ) -> Delivery:
        """A failed attempt: tried again at `retry_at(created at, attempts)`, or given up (None).
        A given-up event disables its endpoint when `disable(failing since)` says why."""
        d = t.webhook_deliveries.c
        with self.tx() as c:
            row = c.execute(select(t.webhook_deliveries).where(d.id == delivery.id)).first()
            if row is None:  # its endpoint was removed meanwhile
                return delivery
            current = _delivery(row)
            attempts = current.attempts + 1
            again = retry_at(current.created_at, attempts) if current.event_id is not None else None
            c.execute(
                update(t.webhook_deliveries)
                .where(d.id == delivery.id)
                .values(
                    state=PENDING if again else FAILED,
                    attempts=attempts,
                    last_attempt_at=now,
                    last_status=status,
                    last_error=error[:1000],
                    next_attempt_at=again,
                )
            )
            if current.event_id is not None:
                w = t.webhooks.c
                since = c.execute(select(w.failing_since).where(w.id == delivery.webhook_id)).scalar()
                if since is None:  # the first failure since the endpoint last accepted one
                    since = now
                    c.execute(update(t.webhooks).where(w.id == delivery.webhook_id).values(failing_since=now))
                why = disable(since) if again is None else None
                if why:
                    c.execute(
                        update(t.webhooks)
                        .where(w.id == delivery.webhook_id)
                        .values(enabled=False, disabled_reason=f"{why}; last error: {error[:300]}")
                    )
            return _delivery(c.execute(select(t.webhook_deliveries).where(d.id == delivery.id)).one())
