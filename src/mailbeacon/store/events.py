"""The outbox: events written in the transaction that made them true, read from a cursor.

Writers call `_insert_events` inside their own transaction (the one that stores the verdict and
the counter delta, or the reply); an event whose `key` is stored already is skipped, so a retried
transaction never tells anything twice. `_tell_verdicts` and `_tell_replies` read what the outbox
told of the recipients concerned and let the pure core (events.py) decide the new events.
Readers (webhooks, the live stream, notifications) page through `events_after` by `id`, which
only grows — and, on PostgreSQL, becomes visible in that order: writers of events take turns on
one transaction-level advisory lock until they commit, so a reader's cursor never passes an id
that a slower transaction is still about to commit. After a commit that wrote events, `bell`
rings for this process's live streams.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from functools import cached_property
from typing import Any

from sqlalchemy import Connection, Row, exists, func, literal, select, text
from sqlalchemy.dialects import postgresql, sqlite

from ..events import (
    About,
    Owner,
    Told,
    correction_key,
    hit_key,
    inferred_event,
    inferred_key,
    reply_event,
    verdict_events,
)
from ..model import Event, EventKind, Hit, HitKind, Reply, Verdict
from . import schema as t
from .base import StoreBase
from .counts import read_counts

#: the advisory lock writers of events hold until they commit (PostgreSQL): "mboutbx" in ASCII
OUTBOX_LOCK = 0x6D626F75746278


def _event(row: Row[Any]) -> Event:
    return Event(
        id=row.id,
        kind=EventKind(row.kind),
        workspace_id=row.workspace_id,
        user_id=row.user_id,
        message_id=row.message_id,
        recipient_id=row.recipient_id,
        at=row.at,
        key=row.key,
        data=dict(row.data or {}),
        created_at=row.created_at,
    )


class Bell:
    """Rings after this process committed new events: its live streams look at once (events of
    other nodes are found by polling)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []

    def listen(self, fn: Callable[[], None]) -> None:
        with self._lock:
            self._listeners.append(fn)

    def forget(self, fn: Callable[[], None]) -> None:
        with self._lock:
            if fn in self._listeners:
                self._listeners.remove(fn)

    def ring(self) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for fn in listeners:
            fn()


#: events in one INSERT (9 values each: well under SQLite's and PostgreSQL's parameter limits)
_ROWS_PER_INSERT = 500


class EventsStore(StoreBase):
    @cached_property
    def bell(self) -> Bell:
        return Bell()

    def _outbox_lock(self, c: Connection) -> None:
        """Writers of events take turns until they commit (PostgreSQL; SQLite has one writer)."""
        if self.dialect != "sqlite":
            c.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": OUTBOX_LOCK})

    def _insert_events(self, c: Connection, events: Sequence[Event], now: datetime) -> list[Event]:
        """Add events to the outbox within the caller's transaction; returns the new ones, with ids."""
        if not events:
            return []
        self._outbox_lock(c)
        ins = sqlite.insert(t.events) if self.dialect == "sqlite" else postgresql.insert(t.events)
        unique = list({e.key: e for e in reversed(events)}.values())[::-1]  # one per cause, the first
        new: list[Event] = []
        for start in range(0, len(unique), _ROWS_PER_INSERT):  # one statement per batch, not per event
            chunk = unique[start : start + _ROWS_PER_INSERT]
            rows = [
                {
                    "key": e.key,
                    "kind": e.kind.value,
                    "workspace_id": e.workspace_id,
                    "user_id": e.user_id,
                    "message_id": e.message_id,
                    "recipient_id": e.recipient_id,
                    "at": e.at,
                    "data": dict(e.data),
                    "created_at": now,
                }
                for e in chunk
            ]
            stored = ins.on_conflict_do_nothing(index_elements=["key"]).returning(t.events.c.id, t.events.c.key)
            ids = {key: eid for eid, key in c.execute(stored, rows)}  # one compiled statement, many rows
            new += [replace(e, id=ids[e.key], created_at=now) for e in chunk if e.key in ids]
        return sorted(new, key=lambda e: e.id or 0)

    def events_after(
        self, workspace_id: int, after: int = 0, *, user_id: int | None = None, limit: int = 100
    ) -> list[Event]:
        """The workspace's events (only `user_id`'s when given) with an id above `after`, oldest first."""
        q = (
            select(t.events)
            .where(t.events.c.workspace_id == workspace_id, t.events.c.id > after)
            .order_by(t.events.c.id)
            .limit(limit)
        )
        if user_id is not None:
            q = q.where(t.events.c.user_id == user_id)
        with self.read() as c:
            return [_event(r) for r in c.execute(q)]

    def last_event_id(self) -> int:
        """The newest event's id over every workspace (0 when there is none): where a new reader starts."""
        with self.read() as c:
            return int(c.execute(select(func.coalesce(func.max(t.events.c.id), 0))).scalar_one())

    def event_abouts(self, events: Iterable[Event]) -> dict[int, About]:
        """What each event is about (its message's subject, sender, Message-ID and the recipient's
        address), by event id: what `events.payload` renders with."""
        events = [e for e in events if e.id is not None]
        mids = sorted({e.message_id for e in events})
        rids = sorted({e.recipient_id for e in events if e.recipient_id is not None})
        if not events:
            return {}
        with self.read() as c:
            msgs = {
                r.id: r
                for r in c.execute(
                    select(
                        t.messages.c.id, t.messages.c.subject, t.messages.c.sender, t.messages.c.rfc_message_id
                    ).where(t.messages.c.id.in_(mids))
                )
            }
            q = select(t.recipients.c.id, t.recipients.c.address).where(t.recipients.c.id.in_(rids))
            addresses: dict[int, str] = {r.id: r.address for r in c.execute(q)}
        out: dict[int, About] = {}
        for e in events:
            m = msgs.get(e.message_id)
            assert e.id is not None
            out[e.id] = About(
                subject=m.subject if m is not None else "",
                sender=m.sender if m is not None else "",
                rfc_message_id=m.rfc_message_id if m is not None else "",
                recipient=addresses.get(e.recipient_id) if e.recipient_id is not None else None,
            )
        return out

    # -- what the writers tell, decided by the pure core ---------------------------------------

    def _owners(self, c: Connection, message_ids: Iterable[int]) -> dict[int, Owner]:
        ids = sorted(set(message_ids))
        if not ids:
            return {}
        q = select(t.messages.c.id, t.messages.c.workspace_id, t.messages.c.user_id).where(t.messages.c.id.in_(ids))
        return {r.id: Owner(r.id, r.workspace_id, r.user_id) for r in c.execute(q)}

    def _keys(self, c: Connection, keys: Sequence[str]) -> dict[str, int]:
        """Which of `keys` the outbox holds, with their event ids."""
        if not keys:
            return {}
        q = select(t.events.c.key, t.events.c.id).where(t.events.c.key.in_(list(keys)))
        return {r.key: r.id for r in c.execute(q)}

    def _told(self, c: Connection, recipient_ids: Iterable[int], hit_ids: Mapping[int, int]) -> dict[int, Told]:
        """What the outbox told of each recipient: standing opens, the told events of `hit_ids`
        (hit id -> recipient id), corrections, the inferred open."""
        rids = sorted(set(recipient_ids) | set(hit_ids.values()))
        if not rids:
            return {}
        o, k = t.events.alias("o"), t.events.alias("k")
        q = (
            select(o.c.recipient_id, func.count().label("n"))
            .where(
                o.c.recipient_id.in_(rids),
                o.c.kind == EventKind.OPEN.value,
                ~exists().where(k.c.key == literal(correction_key("")) + o.c.key),
            )
            .group_by(o.c.recipient_id)
        )
        standing: dict[int, int] = {r.recipient_id: int(r.n) for r in c.execute(q)}
        told_hits = self._keys(c, [hit_key(h) for h in hit_ids])
        corrections = self._keys(c, [correction_key(hit_key(h)) for h in hit_ids])
        inferred = self._keys(c, [inferred_key(r) for r in rids])
        hits: dict[int, dict[int, int | None]] = {}
        corrected: dict[int, set[int]] = {}
        for h, rid in hit_ids.items():
            if hit_key(h) in told_hits:
                hits.setdefault(rid, {})[h] = told_hits[hit_key(h)]
            if correction_key(hit_key(h)) in corrections:
                corrected.setdefault(rid, set()).add(h)
        return {
            rid: Told(
                opens=int(standing.get(rid, 0)),
                hits=hits.get(rid, {}),
                corrected=frozenset(corrected.get(rid, ())),
                inferred=inferred_key(rid) in inferred,
            )
            for rid in rids
        }

    def _link_urls(self, c: Connection, message_ids: Iterable[int]) -> dict[tuple[int, int], str]:
        ids = sorted(set(message_ids))
        if not ids:
            return {}
        q = select(t.links.c.message_id, t.links.c.idx, t.links.c.url).where(t.links.c.message_id.in_(ids))
        return {(r.message_id, r.idx): r.url for r in c.execute(q)}

    def _inferred(
        self, c: Connection, told: Mapping[int, Told], owners: Mapping[int, Owner], rcpt_msg: Mapping[int, int]
    ) -> list[Event]:
        """R5's inferred opens of the recipients whose counters (as this transaction left them) infer one."""
        maybe = [rid for rid, tl in told.items() if tl.opens == 0 and not tl.inferred and rcpt_msg.get(rid) in owners]
        counts = read_counts(c, maybe)
        out = []
        for rid in maybe:
            e = inferred_event(rid, owners[rcpt_msg[rid]], counts[rid], told[rid])
            if e is not None:
                out.append(e)
        return out

    def _tell_verdicts(
        self, c: Connection, decided: Sequence[tuple[Hit, Verdict, datetime | None]], now: datetime
    ) -> list[Event]:
        """The events of the verdicts just stored (after their counter deltas), written now."""
        hits = [
            (h, v, settle_at is None)
            for h, v, settle_at in decided
            if h.id is not None and h.kind in (HitKind.OPEN, HitKind.CLICK)
        ]
        if not hits:
            return []
        self._outbox_lock(c)  # before reading what was told: one teller at a time
        owners = self._owners(c, (h.message_id for h, _, _ in hits))
        told = self._told(c, (), {h.id: h.recipient_id for h, _, _ in hits if h.id is not None})
        urls = self._link_urls(c, (h.message_id for h, v, _ in hits if h.kind is HitKind.CLICK))
        events, after = verdict_events(hits, owners, told, urls, now)
        events += self._inferred(c, after, owners, {h.recipient_id: h.message_id for h, _, _ in hits})
        return self._insert_events(c, events, now)

    def _tell_replies(self, c: Connection, replies: Sequence[Reply], now: datetime) -> list[Event]:
        """The events of the replies just stored (after their counter deltas), written now."""
        if not replies:
            return []
        self._outbox_lock(c)
        owners = self._owners(c, (r.message_id for r in replies))
        events = [
            e for r in replies if r.message_id in owners and (e := reply_event(r, owners[r.message_id])) is not None
        ]
        rcpt_msg = {r.recipient_id: r.message_id for r in replies if r.recipient_id is not None}
        told = self._told(c, rcpt_msg, {})
        events += self._inferred(c, told, owners, rcpt_msg)
        return self._insert_events(c, events, now)
