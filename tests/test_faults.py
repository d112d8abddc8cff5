"""Faults, each on loopback against real `mailbeacon serve` processes: the database cut away
(through a TCP proxy this test controls, never the shared server) with restarts during the
outage, and `kill -9` under mixed load. What was answered is kept, exactly once; a click
always lands (R1)."""

from __future__ import annotations

import email
import random
import re
import signal
import smtplib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from email.policy import compat32
from pathlib import Path

import httpx
import pytest
from aiosmtpd.controller import Controller

from conftest import CORPUS, make_settings
from mailbeacon.model import HitKind
from mailbeacon.runtime import Runtime
from mailbeacon.store import LinkBook, Store, open_store
from mailbeacon.web.tracking import GIF
from netproxy import TcpProxy
from seeding import PASSWORD, seed_account
from serving import ServeProcess, free_port
from test_smtp_proxy import Sink

PUBLIC = "http://t.example.test"
TOKEN = re.compile(re.escape(PUBLIC) + r"/([oc])/([A-Za-z0-9_-]+)")
#: links of every shape: a query string, an anchor, non-ASCII, a long one (no token carries them)
LINKS = (
    "https://shop.example/offer?utm_source=mail&id=42",
    "https://example.org/caf%C3%A9#menu",
    "https://example.com/" + "very-long-path/" * 40 + "end",
    "http://example.net/plain",
)
NEWSLETTER = (
    (CORPUS / "html/mailgun-action.html")
    .read_text()
    .replace("</body>", "".join(f'<p><a href="{u}">link {i}</a></p>' for i, u in enumerate(LINKS)) + "</body>")
)
#: how long the database stays away under load (the issue's 30 s: the writer's backoff reaches
#: its 5 s cap, the connection pool is emptied and refilled; longer outages take the same path)
OUTAGE_SECONDS = 30.0
#: the credentials key every node of a deployment shares: the signing keys in the database are
#: encrypted with it (docs/security.md)
CREDENTIALS_KEY = "q0Rz1vWm3qCzX2Xb4S9cQ5l4y7n0p3e6t1u8w2r5a9E"


@pytest.fixture
def sink() -> Iterator[tuple[Sink, int]]:
    handler = Sink()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


def _until(condition: Callable[[], bool], seconds: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {seconds} s")
        time.sleep(0.05)


def _message(n: int, to: str = "bob@client.example") -> EmailMessage:
    m = EmailMessage()
    m["From"] = "Alice <alice@acme.test>"
    m["To"] = to
    m["Subject"] = f"Newsletter {n}"
    m["Message-ID"] = f"<load-{n}@acme.test>"
    m.set_content("Our news, in HTML.")
    m.add_alternative(NEWSLETTER, subtype="html")
    return m


def _send(port: int, n: int, to: str = "bob@client.example") -> int:
    """Submit one message through the SMTP proxy; the reply code (0: connection lost)."""
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
            smtp.login("alice@acme.test", PASSWORD)
            smtp.send_message(_message(n, to))
            return 250
    except smtplib.SMTPResponseException as exc:
        return exc.smtp_code
    except (smtplib.SMTPException, OSError):
        return 0


def _start(node: ServeProcess, smtp_port: int | None = None) -> None:
    """Start a node; with an SMTP port, until the SMTP proxy listens too (it starts after HTTP)."""
    node.start()
    if smtp_port is not None:
        _until(lambda: _listening(smtp_port), what="the SMTP proxy listening")


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def _accounts(url: str, tmp_path: Path) -> Runtime:
    rt = Runtime.open(make_settings(tmp_path / "setup", url, credentials_key=CREDENTIALS_KEY))
    if rt.store.is_empty():
        seed_account(rt)
    return rt


def _tokens(data: bytes) -> list[tuple[str, str]]:
    """(kind, token) of every tracking URL in a delivered copy, in its decoded parts."""
    found: list[tuple[str, str]] = []
    for part in email.message_from_bytes(data, policy=compat32).walk():
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            found += TOKEN.findall(payload.decode("latin-1"))
    return found


@pytest.mark.postgres
@pytest.mark.swaks
def test_every_link_redirects_with_the_database_down_after_restarts_on_every_node(
    tmp_path: Path, pg_url: str, sink: tuple[Sink, int]
) -> None:
    """Node A instruments a newsletter; node B never saw it but mirrors links. The database goes
    away, both nodes restart (cold caches): every link of the email lands on both, forged and
    edited tokens never redirect, and every click is stored once the database is back."""
    proxy = TcpProxy("127.0.0.1", 5432)
    rt = _accounts(pg_url, tmp_path)
    smtp_port = free_port()
    db = proxy.url(pg_url)
    a = ServeProcess(
        tmp_path / "a",
        db,
        "granian",
        ready="/o/x.gif",
        smtp=f"127.0.0.1:{smtp_port}",
        upstream_smtp=f"smtp://127.0.0.1:{sink[1]}",
        credentials_key=CREDENTIALS_KEY,
    )
    b = ServeProcess(tmp_path / "b", db, "granian", ready="/o/x.gif", credentials_key=CREDENTIALS_KEY)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _start(a, smtp_port)
    assert _send(smtp_port, 1) == 250
    (delivery,) = sink[0].received
    tokens = _tokens(delivery.data)
    clicks = [t for kind, t in tokens if kind == "c"]
    claims = [rt.keyring.verify(t) for t in clicks]
    originals = rt.store.link_urls(claims[0].message_id)
    targets = {t: originals[c.link] for t, c in zip(clicks, claims, strict=True) if c.link is not None}
    assert set(LINKS) <= set(targets.values()) and all(u in NEWSLETTER for u in targets.values())
    b.start()  # B's first mirror copies the new message's links
    book = LinkBook(tmp_path / "b" / "data" / "links.db")
    _until(lambda: all(book.get(c.message_id, c.link) for c in claims if c.link is not None), what="B mirrors")
    book.close()

    proxy.down()
    a.stop(signal.SIGKILL)
    b.stop()
    _start(a, smtp_port)  # both start without the database: keys and links from their own data_dir
    b.start()
    answered = 0
    for node in (a, b):
        with httpx.Client(base_url=node.base, timeout=10) as client:
            for token, url in targets.items():
                r = client.get(f"/c/{token}")
                assert r.status_code == 302 and r.headers["location"] == url, (node.base, r.status_code)
                answered += 1
            edited = next(iter(targets))[:-2] + ("AA" if not next(iter(targets)).endswith("AA") else "BB")
            assert client.get(f"/c/{edited}").status_code == 404
            assert client.get("/c/" + "A" * 24).status_code == 404
            _until(lambda c=client: c.get("/healthz").status_code == 503, what="healthz tells")  # type: ignore[misc]
    proxy.up()
    _until(lambda: rt.store.count_hits() == answered, what="every click stored")
    assert a.stop() == 0 and b.stop() == 0
    hits = [sv.hit for sv in rt.store.hits_with_verdicts(limit=10_000)]
    assert len(hits) == answered and len({h.uid for h in hits}) == answered
    assert all(h.kind is HitKind.CLICK for h in hits)
    rt.close()
    proxy.down()


@pytest.mark.postgres
@pytest.mark.swaks
def test_postgres_cut_under_load_pixels_and_clicks_answer_smtp_defers_nothing_lost(
    tmp_path: Path, pg_url: str, sink: tuple[Sink, int]
) -> None:
    proxy = TcpProxy("127.0.0.1", 5432)
    rt = _accounts(pg_url, tmp_path)
    smtp_port = free_port()
    node = ServeProcess(
        tmp_path,
        proxy.url(pg_url),
        "granian",
        ready="/o/x.gif",
        smtp=f"127.0.0.1:{smtp_port}",
        upstream_smtp=f"smtp://127.0.0.1:{sink[1]}",
        credentials_key=CREDENTIALS_KEY,
    )
    _start(node, smtp_port)
    assert _send(smtp_port, 0) == 250
    tokens = _tokens(sink[0].received[0].data)
    pixel = next(t for kind, t in tokens if kind == "o")
    click = next(t for kind, t in tokens if kind == "c" and rt.keyring.verify(t).kind is HitKind.CLICK)
    answered: list[str] = []
    smtp_codes: dict[int, int] = {}
    problems: list[str] = []
    stop = threading.Event()

    def hits() -> None:
        n = 0
        with httpx.Client(base_url=node.base, timeout=10) as client:
            while not stop.is_set():
                n += 1
                ua = f"load/{n}"
                path = f"/o/{pixel}.gif" if n % 3 else f"/c/{click}"
                r = client.get(path, headers={"User-Agent": ua})
                if r.status_code == 302 or (r.status_code == 200 and r.content == GIF):
                    answered.append(ua)
                else:
                    problems.append(f"{path} {r.status_code}")
                time.sleep(0.005)

    def mail() -> None:
        n = 1
        while not stop.is_set():
            smtp_codes[n] = _send(smtp_port, n)
            n += 1
            time.sleep(0.1)

    workers = [threading.Thread(target=hits), threading.Thread(target=mail)]
    for w in workers:
        w.start()
    time.sleep(1.0)
    proxy.down()
    down_from = len(smtp_codes)
    time.sleep(OUTAGE_SECONDS)
    during = dict(list(smtp_codes.items())[down_from + 1 :])  # sent wholly within the outage
    proxy.up()
    time.sleep(2.0)
    stop.set()
    for w in workers:
        w.join(60)
    assert not problems, problems[:5]  # every pixel and click answered, all along
    assert during and all(400 <= code < 500 for code in during.values()), during
    _until(lambda: rt.store.count_hits() == len(answered), seconds=60, what="every answered hit stored")
    assert node.stop() == 0
    stored = [sv.hit.user_agent for sv in rt.store.hits_with_verdicts(limit=100_000)]
    assert sorted(stored) == sorted(answered)  # each answered hit once, nothing else
    accepted = {n for n, code in smtp_codes.items() if code == 250} | {0}
    recorded = {m.rfc_message_id for m in rt.store.messages(limit=10_000)}
    assert {f"<load-{n}@acme.test>" for n in accepted} <= recorded
    delivered = [d.message()["Message-ID"] for d in sink[0].received]
    assert sorted(delivered) == sorted(f"<load-{n}@acme.test>" for n in accepted)  # none accepted and dropped
    rt.close()
    proxy.down()


def _reply(rfc_message_id: str, n: int) -> bytes:
    raw = (CORPUS / "eml/replies/talon-hotmail-reply.eml").read_bytes()
    raw = raw.replace(b"<DUB102-W192C6E94759954C4885B92B14C0@phx.gbl>", f"<reply-{n}@client.example>".encode())
    raw = raw.replace(b"From: Alexey Q <xxx@hotmail.com>", b"From: Bob <bob@client.example>")
    return b"In-Reply-To: " + rfc_message_id.encode() + b"\n" + raw


@pytest.mark.swaks
def test_kill_9_under_mixed_load_round_after_round(tmp_path: Path, sqlite_url: str, sink: tuple[Sink, int]) -> None:
    """Pixels, clicks, SMTP sends and inbound replies at once; `kill -9` at a random moment; start
    again; four rounds. Every answered hit and every accepted message or reply is there, once."""
    rng = random.Random(12)
    rt = _accounts(sqlite_url, tmp_path)
    smtp_port = free_port()
    node = ServeProcess(
        tmp_path,
        sqlite_url,
        "granian",
        smtp=f"127.0.0.1:{smtp_port}",
        upstream_smtp=f"smtp://127.0.0.1:{sink[1]}",
        credentials_key=CREDENTIALS_KEY,
    )
    _start(node, smtp_port)
    assert _send(smtp_port, 0) == 250
    first = rt.store.messages(limit=1)[0]
    tokens = _tokens(sink[0].received[0].data)
    pixel = next(t for kind, t in tokens if kind == "o")
    click = next(t for kind, t in tokens if kind == "c" and rt.keyring.verify(t).kind is HitKind.CLICK)
    auth = httpx.BasicAuth("alice@acme.test", PASSWORD)
    answered: list[str] = []
    accepted_mail: list[int] = [0]
    accepted_replies: list[int] = []
    problems: list[str] = []
    counter = iter(range(1, 1_000_000))
    for _round in range(4):
        stop = threading.Event()

        def hits(stop: threading.Event) -> None:
            with httpx.Client(base_url=node.base, timeout=5) as client:
                while not stop.is_set():
                    ua = f"load/{next(counter)}"
                    path = f"/o/{pixel}.gif" if len(ua) % 2 else f"/c/{click}"
                    try:
                        r = client.get(path, headers={"User-Agent": ua})
                    except httpx.HTTPError:
                        return  # killed: this request was not answered
                    if r.status_code in (200, 302):
                        answered.append(ua)
                    else:
                        problems.append(f"{path} {r.status_code}")

        def mail(stop: threading.Event) -> None:
            while not stop.is_set():
                n = next(counter)
                code = _send(smtp_port, n)
                if code == 250:
                    accepted_mail.append(n)
                elif code != 0:  # 0: the connection died with the process
                    problems.append(f"SMTP {code}")  # e.g. a 451 from a lock timeout

        def replies(stop: threading.Event) -> None:
            with httpx.Client(base_url=node.base, timeout=10, auth=auth) as client:
                while not stop.is_set():
                    n = next(counter)
                    try:
                        r = client.post("/api/v1/inbound", content=_reply(first.rfc_message_id, n))
                    except httpx.HTTPError:
                        return
                    if r.status_code in (200, 201):
                        accepted_replies.append(n)
                    else:  # never a 503 from a lock timeout
                        problems.append(f"inbound {r.status_code}: {r.text}")

        workers = [threading.Thread(target=f, args=(stop,)) for f in (hits, hits, mail, replies)]
        for w in workers:
            w.start()
        time.sleep(rng.uniform(0.5, 2.0))
        node.stop(signal.SIGKILL)
        stop.set()
        for w in workers:
            w.join(60)
        _start(node, smtp_port)  # replays what the killed process left in its journal
        _check_once(sqlite_url, answered, accepted_mail, accepted_replies, first.id)
    assert node.stop() == 0
    assert not problems, problems[:5]
    assert len(answered) > 100 and len(accepted_mail) > 4 and accepted_replies
    rt.close()


def _check_once(url: str, answered: list[str], mail: list[int], replies: list[int], first: int) -> None:
    store = open_store(url)
    try:
        _until(lambda: store.count_hits() >= len(answered), what="the journal replayed")
        _check_stored(store, answered, mail, replies, first)
    finally:
        store.close()


def _check_stored(store: Store, answered: list[str], mail: list[int], replies: list[int], first: int) -> None:
    stored: dict[str, int] = {}
    for sv in store.hits_with_verdicts(limit=1_000_000):
        stored[sv.hit.user_agent] = stored.get(sv.hit.user_agent, 0) + 1
    assert all(n == 1 for n in stored.values()), "a hit stored twice"
    assert set(answered) <= set(stored), "an answered hit lost"
    recorded: dict[str, int] = {}
    for m in store.messages(limit=100_000):
        recorded[m.rfc_message_id] = recorded.get(m.rfc_message_id, 0) + 1
    assert all(recorded.get(f"<load-{n}@acme.test>") == 1 for n in mail), "an accepted message lost or doubled"
    got = [r.rfc_message_id for r in store.replies(message_id=first)]
    assert len(got) == len(set(got)), "a reply stored twice"
    assert {f"<reply-{n}@client.example>" for n in replies} <= set(got), "an accepted reply lost"
