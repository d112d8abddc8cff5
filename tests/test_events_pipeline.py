"""The outbox's writers: what the pipeline tells, in the transaction that makes it true, on SQLite
and PostgreSQL (injected clock, the real store)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from conftest import FakeClock
from mailbeacon.errors import StoreUnavailable
from mailbeacon.model import Event, EventKind, HitKind, Reason, Reply, ReplyKind, Verdict, VerdictClass
from mailbeacon.pipeline import Pipeline
from mailbeacon.reclassify import reclassify
from mailbeacon.runtime import Runtime
from seeding import Seeded, seed_message
from test_pipeline import _hit

SCANNER = {"ua": "python-requests/2.32.3", "headers": {"accept": "*/*"}, "ip": "40.107.1.2"}


def told(rt: Runtime, s: Seeded) -> list[Event]:
    return rt.store.events_after(s.workspace.id)


def kinds(rt: Runtime, s: Seeded) -> list[str]:
    return [e.kind.value for e in told(rt, s)]


def test_a_persons_open_is_told_at_once_and_once_a_scanners_never(any_runtime: Runtime, clock: FakeClock) -> None:
    rt = any_runtime
    s = seed_message(rt)
    bob = s.recipients[0]
    clock.advance(3600)  # an hour after sending
    rt.store.insert_hits([_hit(s, clock()), _hit(s, clock(), **SCANNER)])
    pipe = Pipeline(rt)
    clock.advance(2)
    pipe.run_once()
    (open_,) = told(rt, s)
    assert (open_.kind, open_.key, open_.recipient_id, open_.user_id) == (EventKind.OPEN, "hit:1", bob.id, s.user.id)
    assert open_.data == {"hit_id": 1, "provisional": True, "count": 1}
    assert open_.created_at is not None and open_.at == clock() - timedelta(seconds=2)
    clock.advance(rt.settings.settle_window)
    pipe.run_once()  # settled as it was: nothing new; the scanner's hit never told
    assert told(rt, s) == [open_]
    assert rt.store.counts([bob.id])[bob.id].opens_human == 1
    rt.store.insert_hits([_hit(s, clock())])  # the second reading, seen after its window: settled at once
    clock.advance(rt.settings.settle_window + 1)
    pipe.run_once()
    second = told(rt, s)[-1]
    assert second.kind is EventKind.OPEN and second.data["count"] == 2 and second.data["provisional"] is False


def test_a_click_told_provisionally_is_corrected_when_it_settles_as_a_burst(
    any_runtime: Runtime, clock: FakeClock
) -> None:
    rt = any_runtime
    s = seed_message(rt)
    clock.advance(3600)
    t0 = clock()
    rt.store.insert_hits([_hit(s, t0, HitKind.CLICK, 1)])
    pipe = Pipeline(rt)
    pipe.run_once()
    (click,) = told(rt, s)
    assert click.kind is EventKind.CLICK and click.data["provisional"] is True
    assert (click.data["link"], click.data["url"]) == (1, "https://example.com/b?x=1&y=2")
    # two more links from the same client within a second: a scanner's burst, known only now
    rt.store.insert_hits([_hit(s, t0 + timedelta(seconds=0.4), HitKind.CLICK, 0)])
    rt.store.insert_hits([_hit(s, t0 + timedelta(seconds=0.8), HitKind.CLICK, 2)])
    pipe.run_once()
    assert kinds(rt, s) == ["click"]
    clock.advance(rt.settings.settle_window + 1)
    pipe.run_once()
    click_, correction = told(rt, s)
    assert correction.kind is EventKind.CORRECTION and correction.key == "correction:hit:1"
    assert correction.data["corrects"] == f"evt_{click.id}" and correction.data["corrected_kind"] == "click"
    assert correction.data["verdict"] == "scanner" and correction.data["provisional"] is False
    assert rt.store.counts([s.recipients[0].id])[s.recipients[0].id].clicks == 0
    pipe.run_once()
    assert kinds(rt, s) == ["click", "correction"]  # told once


def test_a_click_without_an_open_tells_the_inferred_open_once_it_counts(any_runtime: Runtime, clock: FakeClock) -> None:
    rt = any_runtime
    s = seed_message(rt)
    clock.advance(3600)
    rt.store.insert_hits([_hit(s, clock(), HitKind.CLICK, 0)])
    pipe = Pipeline(rt)
    pipe.run_once()
    assert kinds(rt, s) == ["click"]  # not inferred while the click is provisional
    clock.advance(rt.settings.settle_window + 1)
    pipe.run_once()
    assert kinds(rt, s) == ["click", "open_inferred"]
    inferred = told(rt, s)[-1]
    assert inferred.key == f"inferred:{s.recipients[0].id}" and inferred.data == {"from": "click"}
    # a later reply proves the same open: nothing more is inferred, the reply is told
    r = s.recipients[0]
    pipe.record_replies([Reply(s.message.id, r.id, "<r1@client.example>", ReplyKind.REPLY, r.address, clock())])
    assert kinds(rt, s) == ["click", "open_inferred", "reply"]


def test_an_open_told_first_means_no_inferred_open_from_a_later_click(any_runtime: Runtime, clock: FakeClock) -> None:
    rt = any_runtime
    s = seed_message(rt)
    clock.advance(3600)
    rt.store.insert_hits([_hit(s, clock(), HitKind.CLICK, 0), _hit(s, clock() + timedelta(seconds=30))])
    pipe = Pipeline(rt)
    pipe.run_once()
    clock.advance(rt.settings.settle_window + 1)  # the click settles; the open is told, still provisional
    pipe.run_once()
    clock.advance(60)
    pipe.run_once()
    assert kinds(rt, s) == ["click", "open"]


def test_replies_tell_what_counts_and_nothing_for_a_colleague(any_runtime: Runtime, clock: FakeClock) -> None:
    rt = any_runtime
    s = seed_message(rt, ("bob@client.example", "carol@acme.test", "dan@client.example"))
    bob, carol, dan = s.recipients
    pipe = Pipeline(rt)

    def reply(r: Any, kind: ReplyKind, n: int, **detail: object) -> Reply:
        return Reply(s.message.id, r.id, f"<m{n}@x>", kind, r.address, clock(), detail=detail)

    pipe.record_replies([reply(carol, ReplyKind.COLLEAGUE, 1)])
    assert kinds(rt, s) == []  # a colleague's answer in the thread: recorded, not told (R6)
    pipe.record_replies([reply(bob, ReplyKind.REPLY, 2)])
    assert kinds(rt, s) == ["reply", "open_inferred"]
    pipe.record_replies([reply(bob, ReplyKind.REPLY, 2)])  # the same message again: nothing
    pipe.record_replies([reply(dan, ReplyKind.AUTO_REPLY, 3), reply(dan, ReplyKind.SENDER, 4)])
    pipe.record_replies([reply(dan, ReplyKind.BOUNCE, 5, warning=True)])  # a delay warning is no bounce
    pipe.record_replies([reply(dan, ReplyKind.BOUNCE, 6, status="5.1.1", provider="Amazon SES")])
    events = told(rt, s)
    assert [e.kind.value for e in events] == ["reply", "open_inferred", "auto_reply", "bounce"]
    r, inferred, auto, bounce = events
    assert (r.key, r.recipient_id, r.data["from_address"]) == (f"reply:{r.data['reply_id']}", bob.id, bob.address)
    assert inferred.data == {"from": "reply"} and auto.recipient_id == dan.id
    assert bounce.data["status"] == "5.1.1" and bounce.data["provider"] == "Amazon SES"


def test_reclassify_tells_nothing_new(any_runtime: Runtime, clock: FakeClock) -> None:
    """Re-deciding stored hits with other rules changes verdicts and counters, not the outbox:
    what was told stays told, and a hit now found a person's is not told late."""
    rt = any_runtime
    s = seed_message(rt)
    clock.advance(3600)
    rt.store.insert_hits([_hit(s, clock()), _hit(s, clock() + timedelta(seconds=40), HitKind.CLICK, 0)])
    pipe = Pipeline(rt)
    clock.advance(rt.settings.settle_window + 60)
    pipe.run_once()
    before = told(rt, s)
    assert [e.kind.value for e in before] == ["open", "click"]
    rows = rt.store.hits_with_verdicts()
    wrong = Verdict(VerdictClass.SCANNER, (Reason("old_rule", "an old rule's mistake"),))
    rt.store.record_verdicts([(r.hit, wrong, None) for r in rows], clock(), [], tell=False)
    rt.store.insert_hits([_hit(s, clock())])  # decided wrongly by "old rules", never told
    (third,) = rt.store.pending_hits(10)
    rt.store.record_verdicts([(third, wrong, None)], clock(), [], tell=False)
    assert reclassify(rt.store, pipe.classifier, clock()).changed == 3
    assert told(rt, s) == before
    assert [r.verdict.cls.value for r in rt.store.hits_with_verdicts() if r.verdict] == ["human"] * 3


def test_a_failure_after_the_verdicts_leaves_neither_verdict_nor_event(
    any_runtime: Runtime, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The verdict, the counters and the event are one transaction: a failure after the events
    were inserted (the last statement before the commit) leaves none of them."""
    rt = any_runtime
    s = seed_message(rt)
    clock.advance(3600)
    rt.store.insert_hits([_hit(s, clock())])
    real = rt.store._insert_events

    def insert_then_fail(c: Any, events: Any, now: Any) -> list[Event]:
        assert real(c, events, now)  # inserted, within the transaction
        raise StoreUnavailable("the database went away before the commit")

    monkeypatch.setattr(rt.store, "_insert_events", insert_then_fail)
    clock.advance(rt.settings.settle_window + 1)
    with pytest.raises(StoreUnavailable):
        Pipeline(rt).run_once()
    assert told(rt, s) == []
    (row,) = rt.store.hits_with_verdicts()
    assert row.verdict is None and not row.settled
    assert rt.store.counts([s.recipients[0].id])[s.recipients[0].id].opens == 0
    monkeypatch.undo()
    Pipeline(rt).run_once()  # tried again: all of it, once
    assert kinds(rt, s) == ["open"] and rt.store.counts([s.recipients[0].id])[s.recipients[0].id].opens == 1


def test_latency_a_persons_open_reaches_the_outbox_within_30_s_not_after_the_settle_window(
    any_runtime: Runtime, clock: FakeClock
) -> None:
    """The open is told at its provisional verdict: at the pipeline's first look, however long
    `settle_window` is (a person's open with no machine traffic around it)."""
    rt = any_runtime
    assert rt.settings.settle_window >= 120
    s = seed_message(rt)
    clock.advance(3 * 3600)
    opened_at = clock()
    rt.store.insert_hits([_hit(s, opened_at)])
    pipe = Pipeline(rt)
    clock.advance(1)  # the pipeline's next round, woken by the writer
    pipe.run_once()
    (e,) = told(rt, s)
    assert e.kind is EventKind.OPEN and e.created_at is not None
    assert (e.created_at - opened_at).total_seconds() <= 30
    assert rt.store.counts([s.recipients[0].id])[s.recipients[0].id].opens == 0  # counters wait for settling
