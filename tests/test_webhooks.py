"""Webhook delivery over real HTTP on loopback: the worker reads the outbox, signs, retries on the
schedule, refuses addresses the SSRF policy refuses, disables an endpoint that keeps failing, and
with two nodes on PostgreSQL each delivery is sent by one of them. Time is moved, never waited for."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import FakeClock, make_settings
from mailbeacon.intake import Intake
from mailbeacon.model import Event, EventKind
from mailbeacon.pipeline import Pipeline
from mailbeacon.runtime import Runtime
from mailbeacon.store.webhooks import Webhook
from mailbeacon.web.app import create_app
from mailbeacon.webhooks.schedule import GIVE_UP_AFTER
from mailbeacon.webhooks.sender import new_secret
from mailbeacon.webhooks.worker import WebhookWorker
from seeding import Seeded, seed_message
from webhook_receiver import Receiver, receiving


def make_runtime(tmp_path: Path, url: str, **settings: object) -> Runtime:
    # the clock starts at the real time: receivers check webhook-timestamp against their own clock
    return Runtime.open(make_settings(tmp_path, url, **settings), clock=FakeClock(datetime.now(UTC)), migrate=False)


@pytest.fixture
def rt(tmp_path: Path, database_url: str) -> Iterator[Runtime]:
    """A runtime on each database whose operator allows receivers on this machine."""
    runtime = make_runtime(tmp_path, database_url, webhook_allow_private=True)
    yield runtime
    runtime.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from receiving()


def clock_of(rt: Runtime) -> FakeClock:
    assert isinstance(rt.clock, FakeClock)
    return rt.clock


def add_hook(rt: Runtime, s: Seeded, url: str, kinds: tuple[str, ...] = ()) -> tuple[Webhook, str]:
    secret = new_secret()
    hook = rt.store.add_webhook(s.workspace.id, url, kinds, rt.credentials.encrypt(secret), "tests", rt.clock())
    return hook, secret


def add_events(rt: Runtime, s: Seeded, n: int, kind: EventKind = EventKind.OPEN, start: int = 0) -> list[Event]:
    events = [
        Event(kind=kind, workspace_id=s.workspace.id, user_id=s.user.id, message_id=s.message.id,
              recipient_id=s.recipients[0].id, at=rt.clock(), key=f"hit:{start + i}", data={"count": start + i + 1})
        for i in range(n)
    ]  # fmt: skip
    with rt.store.tx() as c:  # as the pipeline writes them: inside its settle transaction
        return rt.store._insert_events(c, events, rt.clock())


async def test_failed_deliveries_are_retried_signed_with_the_same_webhook_id(rt: Runtime) -> None:
    s = seed_message(rt)
    with Receiver([500, 503, 502]) as receiver:
        hook, secret = add_hook(rt, s, receiver.url)
        events = add_events(rt, s, 2)
        worker = WebhookWorker(rt, rnd=lambda: 0.5)
        assert await worker.round() == 2  # both fail (500, 503)
        assert await worker.round() == 0  # nothing is due before the first retry
        clock_of(rt).advance(30)
        assert await worker.round() == 2  # one fails again (502), one is delivered
        clock_of(rt).advance(90)
        assert await worker.round() == 1
        clock_of(rt).advance(3600)
        assert await worker.round() == 0
        await worker.sender.close()
    got = receiver.received
    assert len(got) == 5
    expected = {f"evt_{e.id}" for e in events}
    assert set(receiver.ids()) == expected  # every retry carries its event's id: the receiver dedups
    by_id: dict[str, set[bytes]] = {}
    for r in got:
        by_id.setdefault(r.webhook_id, set()).add(r.body)
        body = r.verified(secret)  # the reference library verifies the signature
        assert body["type"] == "open" and body["data"]["event_id"] == r.webhook_id
        assert body["data"]["recipient"] == "bob@client.example" and body["data"]["subject"] == "Proposal"
        assert r.path == "/hooks/mailbeacon" and r.headers["content-type"] == "application/json"
        assert r.headers["host"] == f"127.0.0.1:{receiver.port}"
    assert all(len(bodies) == 1 for bodies in by_id.values())  # the same body on every attempt
    with pytest.raises(Exception, match="signature"):
        got[0].verified(new_secret())
    log = rt.store.deliveries(hook.id)
    assert {(d.state, d.last_status) for d in log} == {("delivered", 200)}
    assert sorted(d.attempts for d in log) == [2, 3]
    assert rt.store.webhook(hook.id).failing_since is None  # a success ends the failing spell


async def test_an_endpoint_gets_only_the_event_types_it_asked_for(rt: Runtime, receiver: Receiver) -> None:
    s = seed_message(rt)
    add_hook(rt, s, receiver.url, ("reply",))
    add_events(rt, s, 2)
    (reply,) = add_events(rt, s, 1, EventKind.REPLY, start=10)
    worker = WebhookWorker(rt)
    assert await worker.round() == 1
    await worker.sender.close()
    assert receiver.ids() == [f"evt_{reply.id}"]


async def test_a_receiver_on_loopback_is_refused_unless_the_operator_allows_it(
    tmp_path: Path, database_url: str, receiver: Receiver
) -> None:
    strict = make_runtime(tmp_path, database_url)
    try:
        s = seed_message(strict)
        hook, _ = add_hook(strict, s, receiver.url)
        by_name, _ = add_hook(strict, s, f"http://localhost:{receiver.port}/x")
        add_events(strict, s, 1)
        worker = WebhookWorker(strict)
        assert await worker.round() == 2
        await worker.sender.close()
        assert receiver.received == []  # nothing was dialled
        (d,) = strict.store.deliveries(hook.id)
        assert d.state == "pending" and d.attempts == 1 and d.last_status is None
        assert d.last_error is not None and "127.0.0.1 (loopback)" in d.last_error
        assert "webhook_allow_private" in d.last_error
        (named,) = strict.store.deliveries(by_name.id)  # a name is checked by what it resolves to
        assert named.last_error is not None and "localhost resolves to" in named.last_error
    finally:
        strict.close()
    allowed = make_runtime(tmp_path, database_url, webhook_allow_private=True)
    try:
        clock_of(allowed).advance(3600)
        worker = WebhookWorker(allowed)
        assert await worker.round() == 2  # the same deliveries, now allowed
        await worker.sender.close()
        assert len(receiver.received) == 2
        assert {r.headers["host"] for r in receiver.received} == {
            f"127.0.0.1:{receiver.port}",
            f"localhost:{receiver.port}",
        }
    finally:
        allowed.close()


async def test_the_connection_goes_to_the_address_that_was_checked(
    rt: Runtime, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The name is resolved once, by mailbeacon, and checked; httpx never resolves it again (here it
    could not: the name exists only in the answer given below), so a DNS rebind cannot slip past."""
    answers = {"hooks.example.test": "127.0.0.1", "rebound.example.test": "10.11.12.13"}
    loop = asyncio.get_running_loop()
    real = loop.getaddrinfo

    async def fake_getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in answers:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]
        return await real(host, port, *args, **kwargs)

    monkeypatch.setattr(loop, "getaddrinfo", fake_getaddrinfo)
    s = seed_message(rt)
    hook, secret = add_hook(rt, s, f"http://hooks.example.test:{receiver.port}/in")
    add_events(rt, s, 1)
    worker = WebhookWorker(rt)
    worker.sender.allow_private = True
    assert await worker.round() == 1
    (r,) = receiver.received
    assert r.headers["host"] == f"hooks.example.test:{receiver.port}" and r.path == "/in"
    r.verified(secret)
    rt.store.update_webhook(hook.id, url=f"http://rebound.example.test:{receiver.port}/in")
    worker.sender.allow_private = False
    add_events(rt, s, 1, start=5)
    assert await worker.round() == 1
    await worker.sender.close()
    assert len(receiver.received) == 1
    (latest, _) = rt.store.deliveries(hook.id)
    assert latest.last_error is not None and "10.11.12.13 (private)" in latest.last_error


async def test_redirects_slow_receivers_and_unreachable_names_are_failed_attempts_with_the_reason(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = asyncio.get_running_loop()
    real = loop.getaddrinfo

    async def resolver(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "no-such-host.invalid":  # answered here: no query leaves the machine
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return await real(host, port, *args, **kwargs)

    monkeypatch.setattr(loop, "getaddrinfo", resolver)
    rt = make_runtime(tmp_path, database_url, webhook_allow_private=True, webhook_timeout=0.3)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, never listening: the connection is refused
    try:
        with Receiver([302]) as moved, Receiver(pause=1.5) as slow:
            s = seed_message(rt)
            hooks = [
                add_hook(rt, s, moved.url)[0],
                add_hook(rt, s, slow.url)[0],
                add_hook(rt, s, "http://no-such-host.invalid/x")[0],
                add_hook(rt, s, f"http://127.0.0.1:{closed.getsockname()[1]}/x")[0],
            ]
            add_events(rt, s, 1)
            worker = WebhookWorker(rt)
            assert await worker.round() == 4
            await worker.sender.close()
            assert [r.path for r in moved.received] == ["/hooks/mailbeacon"]  # /elsewhere was not asked
        errors = [rt.store.deliveries(h.id)[0].last_error or "" for h in hooks]
        assert errors[0] == "the receiver answered 302 (redirects are not followed)"
        assert errors[1] == "no answer from 127.0.0.1 within 0.3 s"
        assert errors[2] == "cannot resolve no-such-host.invalid: Name or service not known"
        assert errors[3].startswith("cannot connect to 127.0.0.1 (127.0.0.1)")
        assert all(rt.store.deliveries(h.id)[0].state == "pending" for h in hooks)  # each is tried again
    finally:
        closed.close()
        rt.close()


async def test_an_endpoint_failing_for_24_hours_is_disabled_and_the_api_says_why(rt: Runtime, tmp_path: Path) -> None:
    s = seed_message(rt)
    with Receiver(default=500) as receiver:
        hook, _ = add_hook(rt, s, receiver.url)
        add_events(rt, s, 1)
        worker = WebhookWorker(rt, rnd=lambda: 0.99)
        first = rt.clock()
        while True:
            assert await worker.round() == 1
            (d,) = rt.store.deliveries(hook.id)
            if d.state != "pending":
                break
            assert d.next_attempt_at is not None
            clock_of(rt).set(d.next_attempt_at)
        await worker.sender.close()
    assert d.state == "failed" and d.last_status == 500 and d.attempts == len(receiver.received) >= 8
    assert d.last_attempt_at == first + GIVE_UP_AFTER
    disabled = rt.store.webhook(hook.id)
    assert not disabled.enabled and disabled.disabled_reason is not None
    assert "every delivery failed for 24 hours" in disabled.disabled_reason and "500" in disabled.disabled_reason
    add_events(rt, s, 1, start=5)  # a disabled endpoint gets nothing new
    worker = WebhookWorker(rt)
    assert await worker.round() == 0
    await worker.sender.close()
    rt.store.add_api_token(s.user.id, "mbt_hooks", "t", rt.clock())
    intake = Intake(rt.store, tmp_path / "journal", interval=0.01)
    intake.start(asyncio.get_running_loop())
    transport = httpx.ASGITransport(app=create_app(rt, intake, Pipeline(rt)))
    auth = {"Authorization": "Bearer mbt_hooks"}
    async with httpx.AsyncClient(transport=transport, base_url="http://t.example.test", headers=auth) as api:
        shown = (await api.get(f"/api/v1/webhooks/{hook.id}")).json()
        assert shown["enabled"] is False and shown["disabled_reason"] == disabled.disabled_reason
        log = (await api.get(f"/api/v1/webhooks/{hook.id}/deliveries")).json()["items"]
        assert [(x["state"], x["last_status"], x["attempts"]) for x in log] == [("failed", 500, d.attempts)]
        again = (await api.patch(f"/api/v1/webhooks/{hook.id}", json={"enabled": True})).json()
        assert again["enabled"] is True and again["disabled_reason"] is None and again["failing_since"] is None
    await intake.stop()
    assert rt.store.fan_out(rt.clock()) == 1  # enabled again, it resumes where it stopped


async def test_a_success_meanwhile_keeps_the_endpoint_enabled_when_an_old_event_gives_up(rt: Runtime) -> None:
    s = seed_message(rt)
    (old,) = add_events(rt, s, 1)
    refused = f"evt_{old.id}"
    with Receiver(decide=lambda r: 500 if r.webhook_id == refused else 200) as receiver:
        hook, _ = add_hook(rt, s, receiver.url)
        with rt.store.tx() as c:  # the endpoint was made before the event: it is its to send
            c.exec_driver_sql(f"UPDATE webhooks SET after_event_id = 0 WHERE id = {hook.id}")
        worker = WebhookWorker(rt)
        assert await worker.round() == 1
        assert rt.store.webhook(hook.id).failing_since == rt.clock()
        clock_of(rt).advance(3600 * 10)
        add_events(rt, s, 1, start=5)  # accepted: the failing spell ends
        assert await worker.round() == 2  # the new one delivered, the old one failed again
        while (d := rt.store.deliveries(hook.id)[-1]).state == "pending":
            assert d.next_attempt_at is not None
            clock_of(rt).set(d.next_attempt_at)
            assert await worker.round() == 1
        await worker.sender.close()
    after = rt.store.webhook(hook.id)
    assert d.state == "failed" and after.enabled and after.disabled_reason is None
    assert after.failing_since is not None and after.failing_since > d.created_at


@pytest.mark.postgres
async def test_two_nodes_on_postgresql_deliver_each_event_exactly_once(tmp_path: Path, pg_url: str) -> None:
    nodes = [make_runtime(tmp_path, pg_url, webhook_allow_private=True) for _ in (1, 2)]  # one credentials key
    a, b = nodes
    try:
        with Receiver() as receiver:
            s = seed_message(a)
            add_hook(a, s, receiver.url)
            add_hook(a, s, receiver.url + "?second")
            events = add_events(a, s, 30)
            workers = [WebhookWorker(n) for n in nodes]
            for _ in range(10):
                done = await asyncio.gather(*(w.round() for w in workers))
                if not any(done) and len(receiver.received) >= 60:
                    break
            for w in workers:
                await w.sender.close()
            got = receiver.received
        pairs = [(r.path, r.webhook_id) for r in got]
        assert len(pairs) == 60 and len(set(pairs)) == 60  # every event to each endpoint, once
        assert {w for _, w in pairs} == {f"evt_{e.id}" for e in events}
        assert sum(w.state.delivered for w in workers) == 60
    finally:
        for n in nodes:
            n.close()


async def test_the_worker_survives_a_failing_round_and_is_restarted_if_its_task_ends(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    worker = WebhookWorker(rt)
    calls = {"n": 0}

    async def broken_round() -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("a bug in a round")
        if calls["n"] == 2:
            raise asyncio.CancelledError  # the task itself ends
        return 0

    monkeypatch.setattr(worker, "round", broken_round)
    stop = asyncio.Event()
    worker.start(stop, restart_after=0.01, pause=0.01, idle=0.01)
    for _ in range(500):
        if worker.state.restarts and worker.running and calls["n"] > 3:
            break
        await asyncio.sleep(0.01)
    assert worker.state.restarts == 1 and worker.running
    health = worker.health(rt.clock())
    assert health["running"] is True and health["restarts"] == 1
    stop.set()
    assert worker.task is not None
    await asyncio.wait_for(worker.task, 5)
    assert json.dumps(worker.health(rt.clock()))  # what /healthz shows is JSON
