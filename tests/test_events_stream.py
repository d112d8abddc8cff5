"""The live stream and the event list over real HTTP on loopback (the running `mailbeacon serve`):
what is told after a person's open, nothing for a scanner or a colleague, resuming without loss
or duplicates, scoping per user and workspace, the session cookie of a signed-in browser.

A proof that something is *not* told is the next event: the stream is in order, so when the
event of what came after arrives first, the earlier thing told nothing.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import httpx
import pytest

from api_world import World, start_world
from conftest import need_binary
from mailbeacon.model import Reply, ReplyKind
from mailbeacon.pipeline import Pipeline
from mailbeacon.web.principal import session_cookie
from seeding import PASSWORD, click_token, open_token
from test_pipeline import CHROME

PERSON = {"user-agent": CHROME, "accept": "image/avif,image/webp,*/*", "accept-language": "en-GB,en;q=0.9"}
SCANNER = {"user-agent": "python-requests/2.32.3", "accept": "*/*"}
#: how long a test waits for something that must come (a failure bound, never a measured time)
PATIENCE = 30.0


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    # hits come from loopback: X-Forwarded-For gives each client of a test its own address
    yield from start_world(tmp_path_factory.mktemp("stream"), stream_keepalive=0.2, trusted_proxies="127.0.0.1")


@dataclass
class Sse:
    """A stream read on a thread: its events (and keep-alive comments) in a queue."""

    response: httpx.Response
    events: queue.Queue[dict[str, Any]] = field(default_factory=queue.Queue)
    comments: queue.Queue[str] = field(default_factory=queue.Queue)
    ended: threading.Event = field(default_factory=threading.Event)

    def next(self) -> dict[str, Any]:
        try:
            return self.events.get(timeout=PATIENCE)
        except queue.Empty:
            raise AssertionError(f"no event within {PATIENCE} s") from None


class Streams:
    def __init__(self, w: World) -> None:
        self.w = w
        self.clients: list[httpx.Client] = []

    def open(self, who: str | None = None, path: str = "/api/v1/events/stream", **kw: Any) -> Sse:
        client = self.w.client(who)
        self.clients.append(client)
        started: queue.Queue[Sse | BaseException] = queue.Queue()

        def read() -> None:
            try:
                with client.stream("GET", path, **kw) as r:
                    sse = Sse(r)
                    started.put(sse)
                    fields: dict[str, str] = {}
                    for line in r.iter_lines():
                        if line.startswith(":"):
                            sse.comments.put(line)
                        elif line:
                            name, _, value = line.partition(":")
                            fields[name] = value.removeprefix(" ")
                        elif fields:
                            sse.events.put({**fields, "json": json.loads(fields["data"])})
                            fields = {}
                    sse.ended.set()
            except httpx.HTTPError as exc:  # closed by the test
                started.put(exc)

        threading.Thread(target=read, daemon=True).start()
        got = started.get(timeout=PATIENCE)
        assert isinstance(got, Sse), got
        assert got.response.status_code == 200, got.response.read()
        assert got.response.headers["content-type"].startswith("text/event-stream")
        return got

    def close(self) -> None:
        for c in self.clients:
            c.close()


@pytest.fixture
def streams(world: World) -> Iterator[Streams]:
    s = Streams(world)
    yield s
    s.close()


def pixel(w: World, who: str, address: str, headers: dict[str, str], ip: str) -> None:
    token = open_token(w.rt, w.messages[who], address)
    r = httpx.get(f"{w.url}/o/{token}.gif", headers={**headers, "x-forwarded-for": ip})
    assert r.status_code == 200


def reply(w: World, who: str, sender: str, n: str) -> None:
    rfc = w.messages[who].message.rfc_message_id
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, w.messages[who].user.email, "Re: Proposal"
    msg["Message-ID"], msg["In-Reply-To"], msg["References"] = f"<{n}@client.example>", rfc, rfc
    msg.set_content("Sounds good.")
    with w.client(who) as c:
        r = c.post("/api/v1/inbound", content=msg.as_bytes())
        assert r.status_code in (200, 201), r.text


def test_a_persons_open_is_streamed_a_scanners_hit_is_not(world: World, streams: Streams) -> None:
    w = world
    sse = streams.open("alice")
    pixel(w, "alice", "bob@client.example", SCANNER, "40.107.1.2")  # a library from a Microsoft network
    pixel(w, "alice", "bob@client.example", PERSON, "81.2.69.160")
    e = sse.next()  # the first event since the stream opened: the scanner's hit (stored first) told nothing
    assert e["event"] == "open" and int(e["id"]) > 0
    body = e["json"]
    assert body["type"] == "open" and body["data"]["event_id"] == f"evt_{e['id']}"
    assert body["data"]["recipient"] == "bob@client.example" and body["data"]["provisional"] is True
    assert body["data"]["text"].startswith("bob@client.example opened “Proposal”")
    (hit,) = [sv.hit for sv in w.rt.store.hits_with_verdicts() if sv.hit.id == body["data"]["hit_id"]]
    assert hit.user_agent == CHROME and hit.ip == "81.2.69.160"
    assert sse.comments.get(timeout=PATIENCE) == ": keep-alive"  # the idle stream is kept alive


def test_resume_after_a_disconnect_with_last_event_id_loses_and_repeats_nothing(world: World, streams: Streams) -> None:
    w = world
    sse = streams.open("alice")
    reply(w, "alice", "bob@client.example", "resume-1")
    first = sse.next()
    assert first["event"] == "reply"
    streams.close()  # the connection drops; meanwhile more happens
    token = click_token(w.rt, w.messages["alice"], "bob@client.example", 0)
    assert httpx.get(f"{w.url}/c/{token}", headers={**PERSON, "x-forwarded-for": "81.2.69.161"}).status_code == 302
    with w.client("alice") as a:
        # the click is told once the pipeline has decided it (asynchronously); the reply only after that
        deadline = time.monotonic() + 60
        while "click" not in [
            x["type"] for x in a.get("/api/v1/events", params={"after": first["id"]}).json()["items"]
        ]:
            assert time.monotonic() < deadline, "the click was never told"
            time.sleep(0.1)
        reply(w, "alice", "bob@client.example", "resume-2")
        told = a.get("/api/v1/events", params={"after": first["id"]}).json()["items"]
    kinds = [x["type"] for x in told]  # all written by the time the reply was answered
    assert kinds[-2:] == ["click", "reply"] and set(kinds) <= {"open_inferred", "click", "reply"}
    again = streams.open("alice", headers={"Last-Event-ID": first["id"]})
    got = [again.next() for _ in told]
    assert [int(g["id"]) for g in got] == [x["id"] for x in told] and [g["event"] for g in got] == kinds
    assert [g["json"] for g in got] == [{k: v for k, v in x.items() if k != "id"} for x in told]
    # an EventSource that cannot set the header gives ?after=; a reconnect's header wins over it
    via_query = streams.open("alice", params={"after": first["id"]})
    assert via_query.next()["id"] == str(told[0]["id"])
    header_wins = streams.open("alice", params={"after": 0}, headers={"Last-Event-ID": str(told[-2]["id"])})
    assert header_wins.next()["id"] == str(told[-1]["id"])


def test_a_colleagues_reply_makes_no_reply_event_a_clients_does(world: World, streams: Streams) -> None:
    w = world
    sse = streams.open("alice")
    reply(w, "alice", "carol@acme.test", "colleague-1")  # a member of the workspace answers in the thread
    reply(w, "alice", "bob@client.example", "client-1")
    e = sse.next()
    assert e["event"] == "reply" and e["json"]["data"]["from_address"] == "bob@client.example"
    assert e["json"]["data"]["text"] == "bob@client.example replied to “Proposal”"


def test_events_are_scoped_to_the_user_and_sealed_between_workspaces(world: World, streams: Streams) -> None:
    w = world
    a_ws = w.rt.store.workspace("a").id
    with w.client("alice") as alice, w.client("carol") as carol, w.client("bert") as bert:
        start = w.rt.store.last_event_id()
        bert_sse = streams.open("bert", params={"after": 0})  # every event there is, as far as bert may see
        carol_sse = streams.open("carol", params={"after": start})
        admin_sse = streams.open("alice", params={"after": start, "scope": "workspace"})
        reply(w, "carol", "dan@client.example", "scoped-1")  # carol's mail (workspace A)
        reply(w, "bert", "erin@client.example", "scoped-2")  # bert's (workspace B)
        assert carol_sse.next()["json"]["data"]["recipient"] == "dan@client.example"
        assert admin_sse.next()["json"]["data"]["recipient"] == "dan@client.example"
        seen_by_bert = bert_sse.next()["json"]
        assert seen_by_bert["data"]["recipient"] == "erin@client.example"  # nothing of A came before it
        listed = bert.get("/api/v1/events", params={"after": 0, "limit": 200}).json()["items"]
        assert {x["data"]["recipient"] for x in listed} == {"erin@client.example"}
        assert all(e.workspace_id == a_ws for e in w.rt.store.events_after(a_ws, 0, limit=1000))
        mine = alice.get("/api/v1/events", params={"after": start}).json()["items"]
        everyone = alice.get("/api/v1/events", params={"after": start, "scope": "workspace"}).json()["items"]
        assert mine == [] and everyone and {x["data"]["sender"] for x in everyone} == {"carol@acme.test"}
        r = carol.get("/api/v1/events", params={"scope": "workspace"})
        assert r.status_code == 403 and r.json()["code"] == "forbidden"
        r = carol.get("/api/v1/events/stream", params={"scope": "workspace"})
        assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"


def test_events_another_node_writes_arrive_too(world: World, streams: Streams) -> None:
    """Written by another process on the same database (this test's, like a second `serve`): no
    in-process wake-up reaches the server, its poll of the newest id does."""
    w = world
    sse = streams.open("alice")
    m = w.messages["alice"]
    r = m.recipients[0]
    auto = Reply(m.message.id, r.id, "<other-node@client.example>", ReplyKind.AUTO_REPLY, r.address, w.rt.clock())
    assert Pipeline(w.rt).record_replies([auto])
    e = sse.next()
    assert e["event"] == "auto_reply" and e["json"]["data"]["from_address"] == r.address


def test_a_signed_in_browsers_session_cookie_opens_the_stream(world: World, streams: Streams) -> None:
    """What the dashboard's `new EventSource("/api/v1/events/stream")` sends: the session cookie."""
    w = world
    session = session_cookie(w.rt.keyring, w.device, w.rt.clock())
    sse = streams.open(None, cookies={"mb_session": session})
    reply(w, "alice", "bob@client.example", "cookie-1")
    assert sse.next()["json"]["data"]["text"] == "bob@client.example replied to “Proposal”"


def test_bad_cursors_and_missing_credentials_are_one_sentence_not_a_stream(world: World) -> None:
    w = world
    r = httpx.get(f"{w.url}/api/v1/events/stream")
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
    with w.client("alice") as a:
        for bad in (b"abc", b"-1", b"1" * 30, "\u0663".encode()):
            r = a.get("/api/v1/events/stream", headers={b"Last-Event-ID": bad})
            assert r.status_code in (400, 422), (bad, r.text)
            assert r.headers["content-type"] == "application/problem+json"
        r = a.get("/api/v1/events/stream", params={"after": "x"})
        assert r.status_code == 422 and r.json()["code"] == "invalid_request"
        r = a.get("/api/v1/events", params={"limit": 0})
        assert r.status_code == 422


def test_a_graceful_stop_ends_open_streams(tmp_path: Any) -> None:
    """`serve` ends its streams before it stops: a SIGTERM is not held up by a client that listens."""
    gen = start_world(tmp_path)
    w = next(gen)
    s = Streams(w)
    sse = s.open("alice")
    assert w.server is not None
    assert w.server.stop() == 0
    assert sse.ended.wait(PATIENCE)  # the server ended the response; the client did not cut it
    with pytest.raises(StopIteration):
        next(gen)
    assert "uncleanly" not in w.server.log.read_text()
    s.close()


@pytest.mark.chromium
def test_a_browser_signed_in_at_signin_gets_events_through_eventsource(world: World) -> None:
    """What the dashboard's toasts do: sign in with the form, then `new EventSource(...)` on the same
    origin with nothing but the session cookie, and read `data.text` (Chromium, through Playwright)."""
    from playwright.sync_api import sync_playwright

    need_binary("chromium", "chromium")
    w = world
    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-sync", "--no-first-run"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=args)
        page = browser.new_context().new_page()
        page.goto(f"{w.url}/signin")
        page.fill("input[name=email]", "alice@acme.test")
        page.fill("input[name=password]", PASSWORD)
        page.click("form button")
        page.wait_for_load_state()
        page.goto(f"{w.url}/healthz")  # a same-origin page (the sign-in page's CSP allows no connections)
        page.evaluate(
            """() => { window.told = []; window.opened = false;
                       const es = new EventSource('/api/v1/events/stream');
                       es.onopen = () => { window.opened = true; };
                       es.addEventListener('reply', m => window.told.push(JSON.parse(m.data).data.text)); }"""
        )
        page.wait_for_function("window.opened", timeout=PATIENCE * 1000)
        reply(w, "alice", "bob@client.example", "browser-1")
        page.wait_for_function("window.told.length > 0", timeout=PATIENCE * 1000)
        assert page.evaluate("window.told") == ["bob@client.example replied to “Proposal”"]
        browser.close()
