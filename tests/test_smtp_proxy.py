"""End to end: real swaks → the proxy → a real aiosmtpd server as the upstream, on loopback."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import email
import re
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage, Message
from email.policy import compat32
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from conftest import CORPUS, need_binary
from mailbeacon.errors import ConfigError
from mailbeacon.model import HitKind
from mailbeacon.passwords import hash_password
from mailbeacon.runtime import Runtime
from mailbeacon.smtp import SmtpProxy, Upstream, start_smtp_proxy

pytestmark = pytest.mark.swaks
PUBLIC = "http://t.example.test"
TOKEN = re.compile(re.escape(PUBLIC) + r"/([oc])/([A-Za-z0-9_-]+)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclasses.dataclass
class Delivery:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    def message(self) -> Message:
        return email.message_from_bytes(self.data, policy=compat32)


class Sink:
    """A real SMTP server standing in for the upstream; can be told to refuse."""

    def __init__(self) -> None:
        self.received: list[Delivery] = []
        self.rcpt_replies: dict[str, str] = {}
        self.data_replies: dict[str, list[str]] = {}

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = self.rcpt_replies.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        for rcpt in envelope.rcpt_tos:
            queue = self.data_replies.get(rcpt.lower())
            if queue:
                return queue.pop(0)
        assert envelope.mail_from is not None and envelope.original_content is not None
        self.received.append(Delivery(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 2.0.0 queued"

    def to(self, address: str) -> list[Delivery]:
        return [d for d in self.received if d.rcpt_tos == [address]]


@pytest.fixture
def sink() -> Iterator[tuple[Sink, int]]:
    handler = Sink()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


def make_runtime(runtime: Runtime, **settings: Any) -> Runtime:
    rt = dataclasses.replace(runtime, settings=dataclasses.replace(runtime.settings, **settings))
    now = rt.clock()
    if rt.store.is_empty():
        ws = rt.store.create_workspace("acme", ["acme.test"], now)
        rt.store.create_user(ws.id, "alice@acme.test", hash_password("s3cret"), now)
    return rt


@pytest.fixture
async def proxy(runtime: Runtime, sink: tuple[Sink, int]) -> AsyncIterator[tuple[SmtpProxy, Runtime]]:
    rt = make_runtime(runtime, smtp="127.0.0.1:0", upstream_smtp=f"smtp://127.0.0.1:{sink[1]}")
    p = await start_smtp_proxy(rt)
    yield p, rt
    await p.stop()


def login(password: str, user: str = "alice@acme.test") -> tuple[str, ...]:
    """swaks arguments for AUTH LOGIN."""
    return ("--auth", "LOGIN", "--auth-user", user, "--auth-password", password)


async def swaks(port: int, *args: str, auth: bool = True, server: str = "127.0.0.1") -> tuple[int, str]:
    binary = need_binary("swaks", "swaks")
    cmd = [binary, "--server", server, "--port", str(port), "--timeout", "30"]
    if auth:
        cmd += ["--auth", "PLAIN", "--auth-user", "alice@acme.test", "--auth-password", "s3cret"]
    proc = await asyncio.create_subprocess_exec(
        *cmd, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode("utf-8", "replace")


def write_message(tmp_path: Path, html: str, name: str = "msg.eml", **headers: str) -> Path:
    m = EmailMessage()
    m["From"] = "Alice <alice@acme.test>"
    m["Subject"] = "Offer"
    for k, v in headers.items():
        m[k.replace("_", "-")] = v
    m.set_content("See https://shop.test/")
    m.add_alternative(html, subtype="html")
    path = tmp_path / name
    path.write_bytes(m.as_bytes(policy=m.policy.clone(linesep="\r\n")))
    return path


def html_part(msg: Message) -> str:
    for part in msg.walk():
        if part.get_content_type() == "text/html":
            data = part.get_payload(decode=True)
            assert isinstance(data, bytes)
            return data.decode(part.get_content_charset() or "utf-8")
    raise AssertionError("no HTML part")


async def test_three_recipients_three_copies(
    proxy: tuple[SmtpProxy, Runtime], sink: tuple[Sink, int], tmp_path: Path
) -> None:
    p, rt = proxy
    html = (CORPUS / "html/konsav-general.html").read_text("utf-8")
    path = write_message(tmp_path, html, To="bob@client.test, carol@acme.test", Bcc="dave@other.test")
    rc, out = await swaks(
        p.port,
        "--from",
        "alice@acme.test",
        "--to",
        "bob@client.test,carol@acme.test,dave@other.test",
        "--data",
        f"@{path}",
    )
    assert rc == 0, out
    assert re.search(r"<-  250 2\.0\.0 Delivered to 3 recipient", out)
    got = sink[0].received
    assert sorted(d.rcpt_tos[0] for d in got) == ["bob@client.test", "carol@acme.test", "dave@other.test"]
    assert all(len(d.rcpt_tos) == 1 and d.mail_from == "alice@acme.test" for d in got)
    visible = [
        [(k, v) for k, v in d.message().items() if k.lower() not in ("received", "x-peer", "x-mailfrom", "x-rcptto")]
        for d in got
    ]
    assert visible[0] == visible[1] == visible[2]
    assert all(k.lower() != "bcc" for k, _ in visible[0])
    [message] = rt.store.messages()
    assert message.source == "smtp" and message.links == 9 and message.rfc_message_id in dict(visible[0]).values()
    # the submitting client's address: evidence of the sender's own network (rule sender_network)
    assert rt.store.message_info(message.id).sender_networks == {"127.0.0.1"}
    tokens = [set(TOKEN.findall(html_part(d.message()))) for d in got]
    assert not tokens[0] & tokens[1] and not tokens[1] & tokens[2]
    for d, found in zip(got, tokens, strict=True):
        rcpt = next(r for r in rt.store.recipients(message.id) if r.address == d.rcpt_tos[0])
        claims = [rt.keyring.verify(t) for _, t in found]
        assert {c.recipient_id for c in claims} == {rcpt.id}
        assert sorted(c.link for c in claims if c.kind is HitKind.CLICK and c.link is not None) == list(range(9))
        assert max(len(line) for line in d.data.split(b"\r\n")) <= 998


async def test_long_lines_from_real_mail_are_accepted(
    proxy: tuple[SmtpProxy, Runtime], sink: tuple[Sink, int], tmp_path: Path
) -> None:
    p, _ = proxy
    raw = (CORPUS / "eml/encoding/talon-reply-quotations-share-block.eml").read_bytes()
    raw = re.sub(rb"(?m)^From:.*\r?\n(?:[ \t].*\r?\n)*", b"From: alice@acme.test\r\n", raw, count=1)
    assert max(len(line) for line in raw.splitlines()) > 1000
    path = tmp_path / "long.eml"
    path.write_bytes(raw)
    rc, out = await swaks(p.port, "--from", "alice@acme.test", "--to", "bob@client.test", "--data", f"@{path}")
    assert rc == 0, out
    [d] = sink[0].received
    assert max(len(line) for line in d.data.split(b"\r\n")) <= 998
    assert TOKEN.search(html_part(d.message()))


async def test_upstream_down_is_a_temporary_failure(runtime: Runtime, tmp_path: Path) -> None:
    rt = make_runtime(runtime, smtp="127.0.0.1:0", upstream_smtp=f"smtp://127.0.0.1:{free_port()}")
    p = await start_smtp_proxy(rt)
    try:
        path = write_message(tmp_path, "<p><a href='https://x.test/'>x</a></p>", To="bob@client.test")
        rc, out = await swaks(p.port, "--from", "alice@acme.test", "--to", "bob@client.test", "--data", f"@{path}")
    finally:
        await p.stop()
    assert rc != 0
    assert re.search(r"<\*\* +451 4\.4\.1 The outgoing server 127\.0\.0\.1:\d+ cannot be reached", out), out
    assert rt.store.messages() == []  # nothing accepted, nothing recorded: the client retries


async def test_no_upstream_configured(runtime: Runtime, tmp_path: Path) -> None:
    rt = make_runtime(runtime, smtp="127.0.0.1:0", upstream_smtp="")
    p = await start_smtp_proxy(rt)
    try:
        path = write_message(tmp_path, "<p>x</p>", To="bob@client.test")
        rc, out = await swaks(p.port, "--from", "alice@acme.test", "--to", "bob@client.test", "--data", f"@{path}")
    finally:
        await p.stop()
    assert rc != 0 and "451 4.3.5 No outgoing server is configured" in out and "upstream_smtp" in out


async def test_refused_recipient_is_refused_with_the_upstream_text(
    proxy: tuple[SmtpProxy, Runtime], sink: tuple[Sink, int], tmp_path: Path
) -> None:
    p, rt = proxy
    sink[0].rcpt_replies["nobody@client.test"] = "550 5.1.1 <nobody@client.test>: Recipient address rejected"
    path = write_message(tmp_path, "<p><a href='https://x.test/'>x</a></p>", To="bob@client.test, nobody@client.test")
    rc, out = await swaks(
        p.port, "--from", "alice@acme.test", "--to", "bob@client.test,nobody@client.test", "--data", f"@{path}"
    )
    assert "550 5.1.1 <nobody@client.test>: Recipient address rejected" in out
    assert "Delivered to 1 recipient" in out
    assert [d.rcpt_tos for d in sink[0].received] == [["bob@client.test"]]
    [message] = rt.store.messages()
    assert [r.address for r in rt.store.recipients(message.id)] == ["bob@client.test"]


async def test_permanent_data_refusal_is_passed_through(
    proxy: tuple[SmtpProxy, Runtime], sink: tuple[Sink, int], tmp_path: Path
) -> None:
    p, _ = proxy
    sink[0].data_replies["bob@client.test"] = ["554 5.7.1 Message rejected as spam"]
    path = write_message(tmp_path, "<p>x</p>", To="bob@client.test")
    rc, out = await swaks(p.port, "--from", "alice@acme.test", "--to", "bob@client.test", "--data", f"@{path}")
    assert rc != 0 and "554 5.7.1 Message rejected as spam" in out
    assert sink[0].received == []


async def test_partial_failure_then_retry_sends_each_copy_once(
    proxy: tuple[SmtpProxy, Runtime], sink: tuple[Sink, int], tmp_path: Path
) -> None:
    p, rt = proxy
    sink[0].data_replies["carol@client.test"] = ["452 4.2.2 Mailbox full, try later"]
    path = write_message(tmp_path, "<p><a href='https://x.test/'>x</a></p>", To="bob@client.test, carol@client.test")
    args = ("--from", "alice@acme.test", "--to", "bob@client.test,carol@client.test", "--data", f"@{path}")
    rc, out = await swaks(p.port, *args)
    assert rc != 0 and re.search(r"<\*\* +452 Not delivered to carol@client\.test: 452 4\.2\.2 Mailbox full", out), out
    assert "already delivered to 1" in out
    await p.idle()
    [message] = rt.store.messages()
    assert message.outcome["relay"] == {
        "delivered": ["bob@client.test"],
        "failed": {"carol@client.test": "452 4.2.2 Mailbox full, try later"},
    }
    assert [d.rcpt_tos for d in sink[0].received] == [["bob@client.test"]]
    rc, out = await swaks(p.port, *args)  # the client retries the whole message
    assert rc == 0, out
    assert sorted(d.rcpt_tos[0] for d in sink[0].received) == ["bob@client.test", "carol@client.test"]
    [message] = rt.store.messages()  # one message, the same tokens: the retry is not a new email
    carol = next(r for r in rt.store.recipients(message.id) if r.address == "carol@client.test")
    tokens = TOKEN.findall(html_part(sink[0].to("carol@client.test")[0].message()))
    assert {rt.keyring.verify(t).recipient_id for _, t in tokens} == {carol.id}
    await p.idle()  # the relay result is noted after answering
    assert rt.store.message(message.id).outcome["relay"] == {
        "delivered": ["bob@client.test", "carol@client.test"],
        "failed": {},
    }


async def test_authentication_and_sender_rules(
    proxy: tuple[SmtpProxy, Runtime], sink: tuple[Sink, int], tmp_path: Path
) -> None:
    p, _ = proxy
    path = write_message(tmp_path, "<p>x</p>", To="bob@client.test")
    base = ("--to", "bob@client.test", "--data", f"@{path}")
    rc, out = await swaks(p.port, "--from", "alice@acme.test", *base, auth=False)
    assert rc != 0 and "530 5.7.0 Authentication required" in out
    rc, out = await swaks(p.port, "--from", "alice@acme.test", *base, *login("wrong"), auth=False)
    assert rc != 0 and "535 5.7.8 Authentication failed" in out
    rc, out = await swaks(p.port, "--from", "mallory@acme.test", *base)
    assert rc != 0 and "553 5.7.1 The sender mallory@acme.test is not one of your mailbeacon addresses" in out
    other = write_message(tmp_path, "<p>x</p>", name="other.eml", To="bob@client.test")
    other.write_bytes(other.read_bytes().replace(b"Alice <alice@acme.test>", b"Boss <boss@acme.test>"))
    rc, out = await swaks(p.port, "--from", "alice@acme.test", "--to", "bob@client.test", "--data", f"@{other}")
    assert rc != 0 and "550 5.7.1 The From: address boss@acme.test is not one of your mailbeacon addresses" in out
    rc, out = await swaks(p.port, "--from", "alice@acme.test", *base, *login("s3cret"), auth=False)
    assert rc == 0, out
    assert len(sink[0].received) == 1


async def test_malformed_message_is_relayed_untouched(
    proxy: tuple[SmtpProxy, Runtime], sink: tuple[Sink, int], tmp_path: Path
) -> None:
    p, rt = proxy
    raw = (
        b"From: alice@acme.test\r\nTo: bob@client.test\r\nBcc: secret@x.test\r\n"
        b'Content-Type: multipart/alternative; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\n!!! not base64 at all\r\n"
    )
    path = tmp_path / "bad.eml"
    path.write_bytes(raw)
    rc, out = await swaks(p.port, "--from", "alice@acme.test", "--to", "bob@client.test", "--data", f"@{path}")
    assert rc == 0, out
    [d] = sink[0].received
    assert b"secret@x.test" not in d.data and b"!!! not base64 at all" in d.data and PUBLIC.encode() not in d.data
    [message] = rt.store.messages()
    assert message.outcome["instrumented"] is False


async def test_size_limit(runtime: Runtime, sink: tuple[Sink, int], tmp_path: Path) -> None:
    rt = make_runtime(runtime, smtp="127.0.0.1:0", upstream_smtp=f"smtp://127.0.0.1:{sink[1]}", smtp_max_size=2000)
    p = await start_smtp_proxy(rt)
    try:
        path = write_message(tmp_path, "<p>" + "x" * 5000 + "</p>", To="bob@client.test")
        rc, out = await swaks(p.port, "--from", "alice@acme.test", "--to", "bob@client.test", "--data", f"@{path}")
    finally:
        await p.stop()
    assert rc != 0 and "552" in out and sink[0].received == []


async def test_many_clients_at_once(proxy: tuple[SmtpProxy, Runtime], sink: tuple[Sink, int], tmp_path: Path) -> None:
    p, rt = proxy
    paths = [
        write_message(tmp_path, f"<p><a href='https://x.test/{i}'>x</a></p>", name=f"m{i}.eml", To=f"r{i}@client.test")
        for i in range(6)
    ]
    results = await asyncio.gather(
        *(
            swaks(p.port, "--from", "alice@acme.test", "--to", f"r{i}@client.test", "--data", f"@{path}")
            for i, path in enumerate(paths)
        )
    )
    assert all(rc == 0 for rc, _ in results), [out for _, out in results]
    assert sorted(d.rcpt_tos[0] for d in sink[0].received) == sorted(f"r{i}@client.test" for i in range(6))
    assert len(rt.store.messages()) == 6


async def test_users_own_upstream(proxy: tuple[SmtpProxy, Runtime], sink: tuple[Sink, int], tmp_path: Path) -> None:
    p, rt = proxy
    own = Sink()
    port = free_port()
    controller = Controller(own, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        user = rt.store.user("alice@acme.test")
        rt.store.update_user(user.id, upstream_smtp=rt.credentials.encrypt(f"smtp://127.0.0.1:{port}"))
        path = write_message(tmp_path, "<p>x</p>", To="bob@client.test")
        rc, out = await swaks(p.port, "--from", "alice@acme.test", "--to", "bob@client.test", "--data", f"@{path}")
    finally:
        controller.stop()
    assert rc == 0, out
    assert len(own.received) == 1 and sink[0].received == []


def make_certificate(tmp_path: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


async def test_starttls_required_off_loopback(runtime: Runtime, sink: tuple[Sink, int], tmp_path: Path) -> None:
    upstream = f"smtp://127.0.0.1:{sink[1]}"
    with pytest.raises(ConfigError, match="without TLS"):
        await start_smtp_proxy(make_runtime(runtime, smtp="0.0.0.0:0", upstream_smtp=upstream))
    cert, key = make_certificate(tmp_path)
    rt = make_runtime(runtime, smtp="0.0.0.0:0", upstream_smtp=upstream, smtp_tls_cert=str(cert), smtp_tls_key=str(key))
    p = await start_smtp_proxy(rt)
    try:
        path = write_message(tmp_path, "<p>x</p>", To="bob@client.test")
        args = ("--from", "alice@acme.test", "--to", "bob@client.test", "--data", f"@{path}")
        rc, out = await swaks(p.port, *args)
        assert rc != 0 and "did not advertise authentication" in out  # no AUTH before TLS
        assert "250-STARTTLS" in out
        rc, out = await swaks(p.port, *args, "--tls")
        assert rc == 0, out
    finally:
        await p.stop()
    assert len(sink[0].received) == 1


def test_upstream_urls() -> None:
    assert Upstream.parse("smtp://mx.test") == Upstream("mx.test", 25)
    assert Upstream.parse("smtps://u%40x:p%3Aw@mx.test") == Upstream("mx.test", 465, "u@x", "p:w", tls=True)
    assert Upstream.parse("smtp+starttls://mx.test:2587") == Upstream("mx.test", 2587, starttls=True)
    with pytest.raises(ConfigError):
        Upstream.parse("http://mx.test")


class SlowSink(Sink):
    """Holds the answer to DATA until released (to stop the proxy while a relay is in flight)."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.entered.set()
        while not self.release.is_set():
            await asyncio.sleep(0.01)
        return await super().handle_DATA(server, session, envelope)


async def test_stop_lets_a_relay_in_flight_finish(runtime: Runtime, tmp_path: Path) -> None:
    slow, port = SlowSink(), free_port()
    controller = Controller(slow, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        rt = make_runtime(runtime, smtp="127.0.0.1:0", upstream_smtp=f"smtp://127.0.0.1:{port}")
        p = await start_smtp_proxy(rt)
        path = write_message(tmp_path, "<p>x</p>", To="bob@client.test")
        client = asyncio.create_task(
            swaks(p.port, "--from", "alice@acme.test", "--to", "bob@client.test", "--data", f"@{path}")
        )
        assert await asyncio.to_thread(slow.entered.wait, 30)
        stopping = asyncio.create_task(p.stop())
        await asyncio.sleep(0)
        assert not stopping.done()  # waiting for the relay, not cutting it
        slow.release.set()
        rc, out = await client
        await stopping
    finally:
        controller.stop()
    # the message got its answer; the session may then be closed before swaks' QUIT (rc 6)
    assert "<-  250 2.0.0 Delivered to 1 recipient" in out and rc in (0, 6), out
    assert len(slow.received) == 1


async def test_a_session_survives_the_upstream_closing_an_idle_connection(runtime: Runtime) -> None:
    handler, port = Sink(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    rt = make_runtime(runtime, smtp="127.0.0.1:0", upstream_smtp=f"smtp://127.0.0.1:{port}")
    p = await start_smtp_proxy(rt)
    msg = EmailMessage()
    msg["From"] = "alice@acme.test"
    msg["To"] = "bob@client.test"
    msg.set_content("<p><a href='https://x.test/'>x</a></p>", subtype="html")
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=p.port, start_tls=False)
    try:
        await client.connect()
        await client.login("alice@acme.test", "s3cret")
        await client.send_message(msg)
        # the upstream restarts: the proxy's idle connection to it is gone
        await asyncio.to_thread(controller.stop)
        controller = Controller(handler, hostname="127.0.0.1", port=port)
        await asyncio.to_thread(controller.start)
        await client.send_message(msg)  # same client session, second transaction
        await client.quit()
    finally:
        await p.stop()
        await asyncio.to_thread(controller.stop)
    assert [d.rcpt_tos for d in handler.received] == [["bob@client.test"], ["bob@client.test"]]


class StallingSink(Sink):
    """An upstream that, while `stall` is set, takes longer than the proxy waits to answer MAIL."""

    def __init__(self) -> None:
        super().__init__()
        self.stall = threading.Event()
        self.stalled = 0

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.stall.is_set():
            self.stalled += 1
            await asyncio.sleep(1.5)  # three times what the proxy waits
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 OK"


async def test_a_slow_upstream_is_a_temporary_failure_and_the_retry_sends_once(
    runtime: Runtime, tmp_path: Path
) -> None:
    slow, port = StallingSink(), free_port()
    controller = Controller(slow, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        rt = make_runtime(runtime, smtp="127.0.0.1:0", upstream_smtp=f"smtp://127.0.0.1:{port}", smtp_timeout=0.5)
        p = await start_smtp_proxy(rt)
        path = write_message(
            tmp_path, "<p><a href='https://x.test/'>x</a></p>", To="bob@client.test", Message_ID="<slow-1@acme.test>"
        )
        args = ("--from", "alice@acme.test", "--to", "bob@client.test", "--data", f"@{path}")
        slow.stall.set()
        rc, out = await swaks(p.port, *args)
        assert rc != 0 and re.search(r"<\*\* +4\d\d 4\.\d\.\d", out), out  # temporary: the client keeps it
        assert slow.stalled == 1 and slow.received == [] and rt.store.messages() == []
        slow.stall.clear()  # the upstream is quick again: the client's retry goes through, once
        rc, out = await swaks(p.port, *args)
        assert rc == 0, out
        await p.stop()
    finally:
        controller.stop()
    assert len(slow.to("bob@client.test")) == 1
    assert [m.rfc_message_id for m in rt.store.messages()] == ["<slow-1@acme.test>"]
