"""The pipeline does not die silently: failures are isolated, the task comes back, /healthz tells.

Each runs on a real store (SQLite and PostgreSQL) with the fake clock; faults are injected by
wrapping one store method (the database underneath is real).
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import FakeClock
from mailbeacon.intake import Intake
from mailbeacon.model import Hit, HitKind, Reply, ReplyKind, VerdictClass
from mailbeacon.pipeline import STALLED_AFTER, Pipeline, run_reclassify
from mailbeacon.reclassify import recount
from mailbeacon.runtime import Runtime
from mailbeacon.stats import Counts
from mailbeacon.store import STATE_FAILED, STATE_PROVISIONAL, StoredVerdict
from mailbeacon.web.app import create_app
from seeding import Seeded, seed_message

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)


def _hit(s: Seeded, rt: Runtime, seconds: float = 0, rcpt: int = 0) -> Hit:
    return Hit(
        uid=uuid.uuid4().hex,
        kind=HitKind.OPEN,
        workspace_id=s.workspace.id,
        message_id=s.message.id,
        recipient_id=s.recipients[rcpt].id,
        at=rt.clock() + timedelta(seconds=seconds),
        ip="81.2.69.160",
        user_agent=CHROME,
        headers={"accept": "image/avif,image/webp,*/*", "accept-language": "en-GB,en;q=0.9"},
    )


def _states(rt: Runtime) -> dict[str, int]:
    from sqlalchemy import select

    from mailbeacon.store import schema

    with rt.store.engine.connect() as c:
        return {uid: state for uid, state in c.execute(select(schema.hits.c.uid, schema.hits.c.state))}


def _failing_for(hit_uid: str, real: Callable[..., Any]) -> Callable[..., Any]:
    """`record_verdicts` that refuses any batch holding the hit `hit_uid`, like a row the database rejects."""

    def record_verdicts(decided: Sequence[Any], *args: Any) -> Any:
        if any(h.uid == hit_uid for h, _, _ in decided):
            raise RuntimeError(f"refused: {hit_uid}")
        return real(decided, *args)

    return record_verdicts


async def _until(condition: Callable[[], bool], within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come true in time"
        await asyncio.sleep(0.02)


# -- a hit that always fails ---------------------------------------------------------------------


def test_a_hit_that_always_fails_is_set_aside_with_its_reason_and_the_others_go_on(
    any_runtime: Runtime, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = any_runtime
    s = seed_message(rt, ["bob@client.example", "carol@client.example"])
    clock.advance(3600)
    good, bad, other = _hit(s, rt), _hit(s, rt, 1), _hit(s, rt, 2, rcpt=1)
    rt.store.insert_hits([good, bad, other])
    monkeypatch.setattr(rt.store, "record_verdicts", _failing_for(bad.uid, rt.store.record_verdicts))
    pipe = Pipeline(rt)
    assert pipe.run_once() == 3
    states = _states(rt)
    assert (states[good.uid], states[other.uid], states[bad.uid]) == (
        STATE_PROVISIONAL,
        STATE_PROVISIONAL,
        STATE_FAILED,
    )
    (row,) = [sv for sv in rt.store.hits_with_verdicts() if sv.hit.uid == bad.uid]
    assert row.verdict is not None and row.verdict.cls is VerdictClass.UNKNOWN and not row.settled
    assert row.verdict.codes == ("pipeline_error",)
    assert f"RuntimeError: refused: {bad.uid}" in row.verdict.reasons[0].text
    assert pipe.state.set_aside == 1
    assert pipe.run_once() == 0  # set aside: not picked up again and again
    clock.advance(rt.settings.settle_window + 5)
    assert pipe.run_once() == 2  # the others settle and count
    assert rt.store.counts([s.recipients[1].id])[s.recipients[1].id].opens == 1
    monkeypatch.undo()  # the cause is fixed: reclassify decides the hit set aside
    assert run_reclassify(rt, None)["hits"] == 3
    assert _states(rt)[bad.uid] != STATE_FAILED
    assert rt.store.counts([s.recipients[0].id])[s.recipients[0].id].opens == 2


def test_a_hit_whose_reason_cannot_be_written_is_still_set_aside(
    any_runtime: Runtime, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = any_runtime
    s = seed_message(rt)
    bad, good = _hit(s, rt), _hit(s, rt, 1)
    rt.store.insert_hits([bad, good])
    monkeypatch.setattr(rt.store, "record_verdicts", _failing_for(bad.uid, rt.store.record_verdicts))

    def set_aside(*_: Any) -> None:
        raise ValueError("cannot store that reason")

    monkeypatch.setattr(rt.store, "set_aside", set_aside)
    pipe = Pipeline(rt)
    assert pipe.run_once() == 2
    assert _states(rt)[bad.uid] == STATE_FAILED
    assert _states(rt)[good.uid] == STATE_PROVISIONAL
    assert pipe.run_once() == 0


# -- the loop and its task -----------------------------------------------------------------------


async def test_an_unexpected_failure_of_a_round_does_not_stop_the_loop(
    any_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = any_runtime
    s = seed_message(rt)
    rt.store.insert_hits([_hit(s, rt)])
    real = rt.store.pending_hits
    failures: list[int] = []

    def pending_hits(limit: int) -> list[Hit]:
        if not failures:
            failures.append(1)
            raise KeyError("a bug")
        return real(limit)

    monkeypatch.setattr(rt.store, "pending_hits", pending_hits)
    pipe = Pipeline(rt)
    stop = asyncio.Event()
    pipe.start(stop, asyncio.Event(), pause=0.0, idle=0.01)
    try:
        await _until(lambda: pipe.state.decided == 1)
    finally:
        stop.set()
        assert pipe.task is not None
        await pipe.task
    assert failures == [1] and pipe.state.restarts == 0 and pipe.state.last_error is None


async def test_the_pipeline_task_is_started_again_when_it_ends(any_runtime: Runtime) -> None:
    rt = any_runtime
    s = seed_message(rt)
    rt.store.insert_hits([_hit(s, rt)])
    calls = []

    def busy() -> bool:  # outside the guarded round: a failure here ends the task
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the load gauge broke")
        return False

    pipe = Pipeline(rt)
    stop = asyncio.Event()
    first = pipe.start(stop, asyncio.Event(), busy=busy, restart_after=0.0, idle=0.01)
    try:
        await _until(lambda: pipe.state.decided == 1)
        assert first.done()
        assert pipe.task is not first and pipe.running
        assert pipe.state.restarts == 1
    finally:
        stop.set()
        assert pipe.task is not None
        await pipe.task
    assert pipe.task.done() and pipe.state.restarts == 1  # stopping is not a crash: no restart


# -- /healthz ----------------------------------------------------------------------------------------


@pytest.fixture
async def served(any_runtime: Runtime, tmp_path: Path) -> AsyncIterator[tuple[Pipeline, httpx.AsyncClient]]:
    rt = any_runtime
    intake = Intake(rt.store, tmp_path / "journal", interval=0.01)
    intake.start(asyncio.get_running_loop())
    pipe = Pipeline(rt)
    transport = httpx.ASGITransport(app=create_app(rt, intake, pipe), client=("192.0.2.1", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://t.example.test") as client:
        yield pipe, client
    await intake.stop()


async def test_healthz_reports_the_lag_and_fails_when_classification_stops(
    any_runtime: Runtime, clock: FakeClock, served: tuple[Pipeline, httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = any_runtime
    pipe, client = served
    r = await client.get("/healthz")
    assert r.status_code == 503  # not started yet: nothing would classify
    assert r.json()["pipeline"]["running"] is False
    stop = asyncio.Event()
    pipe.start(stop, asyncio.Event(), pause=0.0, idle=0.01)
    try:
        s = seed_message(rt)
        rt.store.insert_hits([_hit(s, rt)])
        await _until(lambda: pipe.state.decided == 1)
        r = await client.get("/healthz")
        assert r.status_code == 200, r.text
        body = r.json()["pipeline"]
        assert (body["running"], body["stalled"], body["lag"], body["decided"]) == (True, False, 0.0, 1)

        def broken(limit: int) -> list[Hit]:
            raise RuntimeError("every round fails")

        monkeypatch.setattr(rt.store, "pending_hits", broken)
        await _until(lambda: pipe.state.last_error is not None)
        rt.store.insert_hits([_hit(s, rt)])  # stored, and nothing decides it
        clock.advance(60)
        r = await client.get("/healthz")
        assert r.status_code == 200  # a round may take a while: not stalled yet
        assert r.json()["pipeline"]["lag"] == 60.0
        clock.advance(STALLED_AFTER - 59)
        r = await client.get("/healthz")
        assert r.status_code == 503
        body = r.json()
        assert body["ok"] is False and body["pipeline"]["stalled"] is True
        assert body["pipeline"]["lag"] == STALLED_AFTER + 1
        assert "every round fails" in body["pipeline"]["last_error"]
        monkeypatch.undo()
        await _until(lambda: pipe.state.settled == 2)
        r = await client.get("/healthz")
        assert r.status_code == 200 and r.json()["pipeline"]["lag"] == 0.0
    finally:
        stop.set()
        assert pipe.task is not None
        await pipe.task


async def test_healthz_fails_while_the_pipeline_task_is_dead(served: tuple[Pipeline, httpx.AsyncClient]) -> None:
    pipe, client = served

    def busy() -> bool:
        raise RuntimeError("broken")

    stop = asyncio.Event()
    task = pipe.start(stop, asyncio.Event(), busy=busy, restart_after=3600)
    await _until(task.done)
    r = await client.get("/healthz")
    assert r.status_code == 503
    assert r.json()["pipeline"]["running"] is False and r.json()["pipeline"]["restarts"] == 1
    stop.set()


# -- a reply recorded while its recipient is reclassified ---------------------------------------


def test_a_reply_recorded_while_the_recipient_is_rebuilt_is_not_overwritten(any_runtime: Runtime) -> None:
    """Rebuilding a recipient's counters and recording its reply wait for each other (one
    transaction each, holding the recipient's lock): neither overwrites the other."""
    rt = any_runtime
    s = seed_message(rt)
    r = s.recipients[0]
    inside, release = threading.Event(), threading.Event()

    def slow_recount(hits: Sequence[StoredVerdict], replies: Sequence[Reply]) -> Counts:
        inside.set()  # the rebuild has read the hits and replies it counts ...
        release.wait(20)  # ... and a reply comes in before it writes
        return recount(hits, replies)

    rebuild = threading.Thread(target=rt.store.rebuild_counters, args=(r.id, s.message.id, slow_recount))
    rebuild.start()
    assert inside.wait(20)
    reply = Reply(s.message.id, r.id, "<re@client.example>", ReplyKind.REPLY, r.address, rt.clock())
    recorded: list[Reply] = []
    replier = threading.Thread(target=lambda: recorded.extend(Pipeline(rt).record_replies([reply])))
    replier.start()
    replier.join(1.0)  # give it the chance to overtake; with the lock it waits for the rebuild
    release.set()
    rebuild.join(20)
    replier.join(20)
    assert len(recorded) == 1
    counts = rt.store.counts([r.id])[r.id]
    assert counts.replies == 1
    assert counts == recount(rt.store.hits_with_verdicts(recipient_id=r.id), rt.store.replies(recipient_id=r.id))
