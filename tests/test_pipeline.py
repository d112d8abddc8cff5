"""The pipeline: classify every stored hit, settle, count once; recompute agrees; reclassify; replies."""

from __future__ import annotations

import shutil
import threading
import uuid
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import FakeClock, _sqlite_template, make_settings
from mailbeacon.model import Hit, HitKind, Reason, Reply, ReplyKind, Verdict, VerdictClass
from mailbeacon.pipeline import LEASE, Pipeline, run_reclassify
from mailbeacon.reclassify import rebuild_counters, recount
from mailbeacon.runtime import Runtime
from mailbeacon.stats import Counts
from mailbeacon.store import STATE_PROVISIONAL, STATE_SETTLED
from seeding import Seeded, seed_message

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
BROWSER_HEADERS = {"accept": "image/avif,image/webp,*/*", "accept-language": "en-GB,en;q=0.9"}


def _hit(s: Seeded, at, kind=HitKind.OPEN, link=None, rcpt=0, ua=CHROME, **kw) -> Hit:  # type: ignore[no-untyped-def]
    return Hit(
        uid=uuid.uuid4().hex,
        kind=kind,
        workspace_id=s.workspace.id,
        message_id=s.message.id,
        recipient_id=s.recipients[rcpt].id,
        at=at,
        link=link,
        ip=kw.pop("ip", "81.2.69.160"),
        user_agent=ua,
        headers=kw.pop("headers", BROWSER_HEADERS),
        **kw,
    )


def recomputed(rt: Runtime, recipient_id: int) -> Counts:
    """The recipient's counters computed afresh from its raw hits and replies."""
    return recount(rt.store.hits_with_verdicts(recipient_id=recipient_id), rt.store.replies(recipient_id=recipient_id))


def _states(rt: Runtime) -> list[bool]:
    return [sv.settled for sv in rt.store.hits_with_verdicts()]


def test_hits_are_classified_then_settled_and_counted_once(any_runtime: Runtime, clock: FakeClock) -> None:
    rt = any_runtime
    s = seed_message(rt)
    clock.advance(3600)  # an hour after sending, a person opens and clicks
    rt.store.insert_hits([_hit(s, clock()), _hit(s, clock() + timedelta(seconds=20), HitKind.CLICK, 1)])
    pipe = Pipeline(rt)
    assert pipe.run_once() == 2
    rows = rt.store.hits_with_verdicts()
    assert all(r.verdict is not None and not r.settled for r in rows)
    assert rt.store.counts([s.recipients[0].id])[s.recipients[0].id].opens == 0  # provisional: not counted
    assert pipe.run_once() == 0  # nothing due yet
    clock.advance(rt.settings.settle_window + 30)
    assert pipe.run_once() == 2
    assert _states(rt) == [True, True]
    assert pipe.run_once() == 0
    c = rt.store.counts([s.recipients[0].id])[s.recipients[0].id]
    assert (c.opens, c.clicks, c.link_clicks) == (1, 1, {1: 1})
    assert recomputed(rt, s.recipients[0].id) == c


def test_old_hits_settle_at_once(runtime: Runtime, clock: FakeClock) -> None:
    """Hits replayed from the journal long after they happened are settled on first sight."""
    s = seed_message(runtime)
    runtime.store.insert_hits([_hit(s, clock() + timedelta(seconds=7200))])
    clock.advance(3 * 3600)
    assert Pipeline(runtime).run_once() == 1
    assert _states(runtime) == [True]


def test_a_hit_of_a_message_that_is_gone_is_unknown(runtime: Runtime, clock: FakeClock) -> None:
    s = seed_message(runtime)
    rcpt = s.recipients[0].id
    h = Hit(
        uid="x", kind=HitKind.OPEN, workspace_id=s.workspace.id, message_id=s.message.id, recipient_id=rcpt, at=clock()
    )
    runtime.store.insert_hits([h])  # a hit of a message not yet gone: the store takes only those
    with runtime.store.engine.begin() as c:  # the message is deleted (directly: there is no command for it)
        c.exec_driver_sql("DELETE FROM messages WHERE id = ?", (s.message.id,))
    clock.advance(1000)
    Pipeline(runtime).run_once()
    (row,) = runtime.store.hits_with_verdicts()
    assert row.verdict is not None
    assert row.verdict.cls is VerdictClass.UNKNOWN
    assert row.verdict.codes == ("message_gone",)


# -- incremental counters == counters recomputed from raw hits ---------------------------------

EVENT = st.tuples(
    st.sampled_from([HitKind.OPEN, HitKind.OPEN, HitKind.CLICK, HitKind.DECOY, HitKind.SELF_VIEW, "reply", "ooo"]),
    st.integers(0, 2),  # recipient
    st.integers(0, 2),  # link
    st.integers(0, 400),  # seconds after the previous event
    st.sampled_from(
        [
            (CHROME, BROWSER_HEADERS, "81.2.69.160"),
            (
                "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
                {},
                "66.249.93.84",
            ),
            ("Mozilla/5.0", {}, "172.224.224.1"),
            ("python-requests/2.32.3", {"accept": "*/*"}, "40.107.1.2"),
            ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", {}, "54.1.2.3"),
        ]
    ),
    st.booleans(),  # from the sender's paired device
    st.booleans(),  # HEAD
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=st.lists(EVENT, min_size=1, max_size=40), batch=st.integers(1, 7))
def test_incremental_counters_equal_recomputed(tmp_path: Path, events: list, batch: int) -> None:  # type: ignore[type-arg]
    db = tmp_path / f"{uuid.uuid4().hex}.db"
    shutil.copyfile(_sqlite_template(tmp_path), db)
    clock = FakeClock()
    rt = Runtime.open(make_settings(tmp_path, f"sqlite:///{db}"), clock=clock, migrate=False)
    try:
        s = seed_message(rt, ["bob@client.example", "carol@acme.test", "alice.other@example.net"])
        dev = rt.store.add_device(s.user.id, "extension", "laptop", clock())
        pipe = Pipeline(rt, batch=batch)
        for n, (kind, r, link, gap, (ua, headers, ip), paired, head) in enumerate(events):
            clock.advance(gap)
            rcpt = s.recipients[r]
            if kind in ("reply", "ooo"):
                rk = ReplyKind.REPLY if kind == "reply" else ReplyKind.AUTO_REPLY
                pipe.record_replies([Reply(s.message.id, rcpt.id, f"<r{n}@x>", rk, rcpt.address, clock())])
            else:
                rt.store.insert_hits(
                    [
                        _hit(
                            s,
                            clock(),
                            kind,
                            link if kind is HitKind.CLICK else None,
                            rcpt=r,
                            ua=ua,
                            headers=headers,
                            ip=ip,
                            method="HEAD" if head and kind is not HitKind.SELF_VIEW else "GET",
                            device_id=dev.public_id if paired or kind is HitKind.SELF_VIEW else None,
                        )
                    ]
                )
            pipe.run_once()
        clock.advance(rt.settings.settle_window + 1)
        pipe.drain()
        ids = [x.id for x in s.recipients]
        assert all(sv.settled for sv in rt.store.hits_with_verdicts())
        assert rt.store.counts(ids) == {i: recomputed(rt, i) for i in ids}
    finally:
        rt.close()


# -- reclassify ---------------------------------------------------------------------------------


def test_reclassify_rewrites_verdicts_and_rebuilds_counters(any_runtime: Runtime, clock: FakeClock) -> None:
    rt = any_runtime
    s = seed_message(rt)
    clock.advance(3600)
    rt.store.insert_hits([_hit(s, clock() + timedelta(seconds=i)) for i in range(3)])
    clock.advance(1000)
    pipe = Pipeline(rt)
    pipe.drain()
    rid = s.recipients[0].id
    good = rt.store.counts([rid])[rid]
    # an older rule set had called them scanners, and counted them that way
    wrong = Verdict(VerdictClass.SCANNER, (Reason("old_rule", "an old rule"),), None, "old")
    rows = rt.store.hits_with_verdicts()
    rt.store.record_verdicts([(r.hit, wrong, None) for r in rows], clock(), [])
    rebuild_counters(rt.store, [rid])
    assert rt.store.counts([rid])[rid].opens == 0
    result = run_reclassify(rt, None)
    assert result == {"hits": 3, "changed": 3, "recipients": 1}
    assert rt.store.counts([rid])[rid] == good
    assert all(r.verdict is not None and r.verdict.rules_version != "old" for r in rt.store.hits_with_verdicts())
    since = clock() + timedelta(days=1)
    assert run_reclassify(rt, since) == {"hits": 0, "changed": 0, "recipients": 0}


def test_reclassify_is_done_by_the_running_server_when_it_holds_the_pipeline(
    runtime: Runtime, clock: FakeClock
) -> None:
    s = seed_message(runtime)
    runtime.store.insert_hits([_hit(s, clock())])
    server = Pipeline(runtime, owner="server")
    assert server.tick() == 1  # the server now holds the lease
    assert not runtime.store.acquire_lease(LEASE, "someone-else", clock(), 10)
    result: dict[str, object] = {}
    t = threading.Thread(target=lambda: result.update(run_reclassify(runtime, None, wait=20)))
    t.start()
    for _ in range(400):
        server.tick()
        if not t.is_alive():
            break
        t.join(0.05)
    t.join()
    assert result == {"hits": 1, "changed": 0, "recipients": 1}


# -- replies ------------------------------------------------------------------------------------


def test_replies_are_recorded_once_and_respect_the_switch(runtime: Runtime, clock: FakeClock) -> None:
    s = seed_message(runtime)
    r = s.recipients[0]
    reply = Reply(s.message.id, r.id, "<a@client.example>", ReplyKind.REPLY, r.address, clock())
    pipe = Pipeline(runtime)
    assert len(pipe.record_replies([reply])) == 1
    assert pipe.record_replies([reply]) == []
    c = runtime.store.counts([r.id])[r.id]
    assert (c.replies, c.opens, c.opens_inferred, c.inferred_from) == (1, 1, 1, "inferred_from_reply")
    off = seed_message(runtime, user=s.user)
    runtime.store.engine.dispose()
    from sqlalchemy import update

    from mailbeacon.store import schema

    with runtime.store.engine.begin() as conn:
        conn.execute(
            update(schema.messages).where(schema.messages.c.id == off.message.id).values(tracking={"replies": False})
        )
    r2 = off.recipients[0]
    assert pipe.record_replies([Reply(off.message.id, r2.id, "<b@x>", ReplyKind.REPLY, r2.address, clock())]) == []
    assert runtime.store.replies(message_id=off.message.id) == []


def test_provisional_and_settled_states(runtime: Runtime, clock: FakeClock) -> None:
    from sqlalchemy import select

    from mailbeacon.store import schema

    s = seed_message(runtime)
    runtime.store.insert_hits([_hit(s, clock())])
    pipe = Pipeline(runtime)
    pipe.run_once()
    with runtime.store.engine.connect() as c:
        assert c.execute(select(schema.hits.c.state)).scalar() == STATE_PROVISIONAL
    clock.advance(runtime.settings.settle_window)
    pipe.run_once()
    with runtime.store.engine.connect() as c:
        assert c.execute(select(schema.hits.c.state)).scalar() == STATE_SETTLED


def test_a_delay_warning_is_not_counted_as_a_bounce(runtime: Runtime, clock: FakeClock) -> None:
    s = seed_message(runtime)
    r = s.recipients[0]
    warning = Reply(
        s.message.id, r.id, "<dsn1@mx>", ReplyKind.BOUNCE, "mailer-daemon@mx.example", clock(), detail={"warning": True}
    )
    failure = Reply(s.message.id, r.id, "<dsn2@mx>", ReplyKind.BOUNCE, "mailer-daemon@mx.example", clock(), detail={})
    Pipeline(runtime).record_replies([warning, failure])
    c = runtime.store.counts([r.id])[r.id]
    assert (c.bounces, c.other_replies) == (1, 1)
    assert recomputed(runtime, r.id) == c
