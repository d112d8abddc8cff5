"""The outbox table, on SQLite and PostgreSQL alike: one event per cause, read from a cursor."""

from __future__ import annotations

from datetime import timedelta

from mailbeacon.model import Event, EventKind
from mailbeacon.runtime import Runtime
from seeding import seed_account, seed_message


def _event(s, key: str, kind: EventKind = EventKind.OPEN, **data: object) -> Event:  # type: ignore[no-untyped-def]
    return Event(
        kind=kind,
        workspace_id=s.workspace.id,
        user_id=s.user.id,
        message_id=s.message.id,
        recipient_id=s.recipients[0].id,
        at=s.message.sent_at + timedelta(minutes=5),
        key=key,
        data=data,
    )


def test_one_event_per_cause_in_order_scoped_to_workspace_and_user(any_runtime: Runtime) -> None:
    rt = any_runtime
    a = seed_message(rt)
    carol = seed_account(rt, "carol@acme.test")
    c = seed_message(rt, user=carol)
    now = rt.clock()
    with rt.store.tx() as conn:
        first = rt.store._insert_events(conn, [_event(a, "hit:1", count=1), _event(c, "hit:2")], now)
    with rt.store.tx() as conn:  # the same cause again (a retried transaction) tells nothing new
        again = rt.store._insert_events(conn, [_event(a, "hit:1", count=1), _event(a, "reply:1", EventKind.REPLY)], now)
    assert [e.key for e in first] == ["hit:1", "hit:2"]
    assert [e.key for e in again] == ["reply:1"]
    assert first[0].id is not None and first[0].data == {"count": 1} and first[0].created_at == now
    everything = rt.store.events_after(a.workspace.id)
    assert [e.key for e in everything] == ["hit:1", "hit:2", "reply:1"]
    assert [e.key for e in rt.store.events_after(a.workspace.id, user_id=carol.id)] == ["hit:2"]
    assert [e.key for e in rt.store.events_after(a.workspace.id, everything[0].id or 0, limit=1)] == ["hit:2"]
    assert rt.store.events_after(a.workspace.id + 1) == []
    assert rt.store.last_event_id() == everything[-1].id
    assert everything[-1].kind is EventKind.REPLY and everything[-1].at == a.message.sent_at + timedelta(minutes=5)
