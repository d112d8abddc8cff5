"""The store, on SQLite and PostgreSQL alike (every test runs on both)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event

from conftest import FakeClock
from mailbeacon.errors import Conflict, NotFound
from mailbeacon.model import Hit, HitKind, Reason, Reply, ReplyKind, Verdict, VerdictClass
from mailbeacon.runtime import Runtime
from mailbeacon.stats import Counts, hit_delta, reply_delta
from mailbeacon.store import open_store
from mailbeacon.store.migrate import current, head
from seeding import seed_account, seed_message


def _hit(s, rcpt_id: int, at, kind: HitKind = HitKind.OPEN, link: int | None = None, **kw) -> Hit:  # type: ignore[no-untyped-def]
    return Hit(
        uid=uuid.uuid4().hex,
        kind=kind,
        workspace_id=s.workspace.id,
        message_id=s.message.id,
        recipient_id=rcpt_id,
        at=at,
        link=link,
        **kw,
    )


def test_migrations_are_at_head(any_runtime: Runtime) -> None:
    assert current(any_runtime.store.engine) == head()
    assert any_runtime.store.migrate() == []


def test_fresh_database_migrates(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = open_store(f"sqlite:///{tmp_path / 'new.db'}")
    assert store.migrate()[-1] == head()
    assert store.is_empty()
    store.close()


def test_workspaces_and_users(any_runtime: Runtime) -> None:
    st, now = any_runtime.store, any_runtime.clock()
    ws = st.create_workspace("acme", ["ACME.test", " @sub.acme.test"], now)
    assert ws.domains == ("acme.test", "sub.acme.test")
    with pytest.raises(Conflict, match="exists already"):
        st.create_workspace("acme", [], now)
    with pytest.raises(NotFound, match="workspace add"):
        st.workspace("nope")
    u = st.create_user(ws.id, "alice@acme.test", "hash", now)
    st.add_address(u.id, "alice.private@example.net")
    assert st.user("alice.private@example.net").id == u.id
    assert st.user(u.id).addresses == ("alice@acme.test", "alice.private@example.net")
    with pytest.raises(Conflict):
        st.create_user(ws.id, "alice.private@example.net", "hash", now)
    assert st.workspace_members(ws.id) == {"alice@acme.test", "alice.private@example.net"}
    ws2 = st.update_workspace(ws.id, settings={"track_opens": False})
    assert ws2.settings == {"track_opens": False} and ws2.domains == ws.domains
    st.update_user(u.id, settings={"track_clicks": False}, password_hash="h2")
    assert st.user(u.id).settings == {"track_clicks": False}
    assert st.user(u.id).password_hash == "h2"


def test_api_tokens_and_devices(any_runtime: Runtime) -> None:
    st, now = any_runtime.store, any_runtime.clock()
    u = seed_account(any_runtime)
    st.add_api_token(u.id, "mbt_secret", "test", now)
    found = st.user_for_api_token("mbt_secret", now)
    assert found is not None and found.id == u.id
    assert st.user_for_api_token("mbt_other", now) is None
    d = st.add_device(u.id, "extension", "Chrome", now)
    assert d.public_id.startswith("dv_") and st.device(d.public_id).user_id == u.id
    assert [x.public_id for x in st.devices(u.id)] == [d.public_id]
    st.revoke_device(d.public_id, now)
    assert st.devices(u.id) == []
    assert st.device(d.public_id).revoked_at is not None
    with pytest.raises(NotFound):
        st.revoke_device("dv_nope", now)


def test_messages_links_and_context(any_runtime: Runtime) -> None:
    st = any_runtime.store
    s = seed_message(any_runtime, ["bob@client.example", "carol@acme.test"])
    assert [st.link_url(s.message.id, i) for i in range(3)] == [
        "https://example.com/a",
        "https://example.com/b?x=1&y=2",
        "https://example.org/c",
    ]
    assert st.link_url(s.message.id, 9) is None
    assert [r.relation.value for r in st.recipients(s.message.id)] == ["external", "colleague"]
    dev = st.add_device(s.user.id, "dashboard", "d", any_runtime.clock())
    info = st.message_info(s.message.id)
    assert info.sender_devices == {dev.public_id}
    assert info.workspace_domains == {"acme.test"}
    assert info.decoy_link == 3 and info.links == 3
    assert [m.id for m in st.messages_by_rfc_ids([s.message.rfc_message_id, "<x@y>"])] == [s.message.id]
    with pytest.raises(NotFound):
        st.message_info(999_999)


def test_hits_are_stored_once_and_settle(any_runtime: Runtime) -> None:
    st, now = any_runtime.store, any_runtime.clock()
    s = seed_message(any_runtime)
    r = s.recipients[0]
    h1 = _hit(s, r.id, now, ip="203.0.113.9", user_agent="UA", headers={"accept": "image/*"})
    h2 = _hit(s, r.id, now + timedelta(seconds=1), HitKind.CLICK, 1)
    beacon = _hit(s, r.id, now, HitKind.SELF_VIEW, device_id="dv_x")
    st.insert_hits([h1, h2, beacon])
    st.insert_hits([h1])  # a replay stores nothing twice
    assert st.count_hits(recipient_id=r.id) == 3
    pending = st.pending_hits(10)
    assert [p.uid for p in pending] == [h1.uid, h2.uid]  # beacons need no verdict
    assert pending[0].headers == {"accept": "image/*"} and pending[0].at == now
    v = Verdict(VerdictClass.HUMAN, (Reason("r", "because"),), "direct", "test")
    st.record_verdicts([(pending[0], v, now + timedelta(seconds=120)), (pending[1], v, None)], now, [])
    assert st.pending_hits(10) == []
    assert st.due_hits(now + timedelta(seconds=119), 10) == []
    assert [h.uid for h in st.due_hits(now + timedelta(seconds=120), 10)] == [h1.uid]
    assert st.provisional_counts([r.id]) == {r.id: {"human": 1}}
    v2 = Verdict(VerdictClass.SCANNER, (Reason("s", "scan"),), None, "test")
    st.record_verdicts([(pending[0], v2, None)], now, [])
    rows = {sv.hit.uid: sv for sv in st.hits_with_verdicts(recipient_id=r.id)}
    assert rows[h1.uid].verdict == v2 and rows[h1.uid].settled
    assert rows[beacon.uid].verdict is None and rows[beacon.uid].settled
    assert st.provisional_counts([r.id]) == {}
    other = st.recipient_hits([r.id], since=now + timedelta(milliseconds=500))
    assert [h.uid for h in other[r.id]] == [h2.uid]
    assert [h.uid for h in st.peer_hits(s.message.id, ["203.0.113.9"], now, now)] == [h1.uid]


def test_counters_add_up(any_runtime: Runtime) -> None:
    st, now = any_runtime.store, any_runtime.clock()
    s = seed_message(any_runtime)
    r = s.recipients[0]
    later = now + timedelta(minutes=5)
    st.record_verdicts(
        [],
        now,
        [
            (r.id, s.message.id, hit_delta(HitKind.OPEN, None, later, VerdictClass.HUMAN)),
            (r.id, s.message.id, hit_delta(HitKind.OPEN, None, now, VerdictClass.HUMAN)),
            (r.id, s.message.id, hit_delta(HitKind.CLICK, 2, later, VerdictClass.HUMAN)),
            (r.id, s.message.id, hit_delta(HitKind.CLICK, 2, now, VerdictClass.SCANNER)),
        ],
    )
    st.record_verdicts([], now, [(r.id, s.message.id, hit_delta(HitKind.CLICK, 0, now, VerdictClass.SELF))])
    c = st.counts([r.id])[r.id]
    assert (c.opens_human, c.clicks_human, c.clicks_self, c.clicks_scanner) == (2, 1, 1, 1)
    assert (c.first_open_at, c.last_open_at) == (now, later)
    assert (c.first_click_at, c.last_click_at) == (now, later)
    assert c.link_clicks == {2: 1, 0: 1} and c.link_scanner_clicks == {2: 1}
    assert c.hits_human == 3 and c.hits_scanner == 1 and c.hits_self == 1
    st.rebuild_counters(r.id, s.message.id, lambda hits, replies: Counts(opens_human=7, link_clicks={1: 4}))
    c = st.counts([r.id])[r.id]
    assert c.opens_human == 7 and c.clicks_human == 0 and c.link_clicks == {1: 4}


def test_replies_stored_once_and_counted(any_runtime: Runtime) -> None:
    st, now = any_runtime.store, any_runtime.clock()
    s = seed_message(any_runtime)
    r = s.recipients[0]
    reply = Reply(s.message.id, r.id, "<re1@client.example>", ReplyKind.REPLY, r.address, now)
    ooo = Reply(s.message.id, r.id, "<ooo@client.example>", ReplyKind.AUTO_REPLY, r.address, now)
    new = st.add_replies([reply, ooo, reply], now, lambda x: reply_delta(x.kind, x.at))
    assert len(new) == 2 and all(x.id for x in new)
    assert st.add_replies([reply], now, lambda x: reply_delta(x.kind, x.at)) == []
    c = st.counts([r.id])[r.id]
    assert (c.replies, c.auto_replies, c.opens_inferred) == (1, 1, 1)
    assert [x.kind for x in st.replies(message_id=s.message.id)] == [ReplyKind.REPLY, ReplyKind.AUTO_REPLY]


def test_leases(any_runtime: Runtime) -> None:
    st, now = any_runtime.store, any_runtime.clock()
    assert st.acquire_lease("p", "a", now, 10)
    assert st.acquire_lease("p", "a", now + timedelta(seconds=5), 10)
    assert not st.acquire_lease("p", "b", now + timedelta(seconds=9), 10)
    assert st.acquire_lease("p", "b", now + timedelta(seconds=16), 10)
    st.release_lease("p", "b")
    assert st.acquire_lease("p", "a", now + timedelta(seconds=17), 10)


def test_meta(any_runtime: Runtime) -> None:
    st = any_runtime.store
    assert st.get_meta("k") is None
    st.set_meta("k", "1")
    st.set_meta("k", "2")
    assert st.get_meta("k") == "2"


def test_a_busy_api_key_writes_its_last_use_at_most_once_a_minute(any_runtime: Runtime) -> None:
    rt = any_runtime
    clock = rt.clock
    assert isinstance(clock, FakeClock)
    user = seed_account(rt)
    key = rt.store.add_api_token(user.id, "mbt_busy", "ci", clock())
    writes: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE API_TOKENS"):
            writes.append(statement)

    event.listen(rt.store.engine, "before_cursor_execute", count)
    try:
        first = clock()
        for _ in range(5):
            assert rt.store.user_for_api_token("mbt_busy", clock()) == user
            clock.advance(10)  # 50 s of requests: one write
        assert len(writes) == 1
        (listed,) = [k for k in rt.store.api_tokens(user.id) if k.id == key.id]
        assert listed.last_used_at == first
        clock.advance(10)  # a minute after the write: the next request writes again
        assert rt.store.user_for_api_token("mbt_busy", clock()) == user
        assert len(writes) == 2
        (listed,) = [k for k in rt.store.api_tokens(user.id) if k.id == key.id]
        assert listed.last_used_at == clock()
    finally:
        event.remove(rt.store.engine, "before_cursor_execute", count)
