"""The mailbox watcher against a real Dovecot on loopback.

Tracked mail is recorded through the real store; real corpus replies, auto-replies and bounces,
adapted to refer to it (a `References:` header in front of the unchanged bytes, or the original
Message-ID a bounce carries), are APPENDed to the mailbox. The watcher must count each once,
across watcher restarts, Dovecot restarts and mail delivered while Dovecot is down.
"""

from __future__ import annotations

import asyncio
import imaplib
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete

from conftest import CORPUS, FakeClock, need, need_binary
from mailbeacon.errors import AuthError, UpstreamTemporary
from mailbeacon.imap import ImapClient, WatchOptions, backoff_delay, check_mailbox, parse_url, start_watchers
from mailbeacon.imap.protocol import encode_folder
from mailbeacon.pipeline import Pipeline
from mailbeacon.runtime import Runtime
from mailbeacon.stats import Counts
from mailbeacon.store import schema
from seeding import Seeded, seed_account, seed_message

pytestmark = pytest.mark.dovecot

USER, PASSWORD = "alice@acme.test", 's3cret ü"x'
EML = CORPUS / "eml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serving(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        return ") Z " not in Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False


class Dovecot:
    """A throw-away Dovecot (config from docs/peers.md B2), stopped by its own PID."""

    def __init__(self, root: Path, binary: str, *, idle: bool = True) -> None:
        self.root = root
        self.binary = binary
        self.port = free_port()
        for d in ("run", "state", "mail"):
            (root / d).mkdir(parents=True, exist_ok=True)
        root.chmod(0o755)
        for parent in root.parents:  # the auth process must traverse every directory above
            if parent == Path("/"):
                break
            parent.chmod(parent.stat().st_mode | 0o011)
        subprocess.run(["chown", "nobody:nogroup", str(root / "mail")], check=True)
        (root / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
        self.conf = root / "dovecot.conf"
        self.conf.write_text(
            f"""protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u/Maildir
first_valid_uid = 1
# IDLE notices new mail by inotify, else by polling this often (inotify may be exhausted on CI)
mailbox_idle_check_interval = 1 secs
# the watchers, their reconnects and the tests' own sessions all come from 127.0.0.1 (default 10)
mail_max_userip_connections = 200
{"" if idle else "# a server without IDLE (the watcher must poll)" + chr(10) + "imap_capability = IMAP4rev1 LITERAL+ SASL-IR LOGIN-REFERRALS ID ENABLE SORT UIDPLUS NAMESPACE CHILDREN"}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={root}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service stats {{
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""
        )
        self.pid: int | None = None

    def start(self) -> None:
        """Start the server and return once a login works (not only once the port answers: under
        load the auth process may still be starting, or an old one may still be on its way out)."""
        pidfile = self.root / "run" / "master.pid"
        pidfile.unlink(missing_ok=True)
        subprocess.run([self.binary, "-c", str(self.conf)], check=True, timeout=30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.pid is None and pidfile.exists() and pidfile.read_text().strip():
                self.pid = int(pidfile.read_text().strip())
            if self.pid is not None and self._logs_in():
                return
            time.sleep(0.1)
        raise RuntimeError(
            f"dovecot did not let {USER} log in on {self.port}: {(self.root / 'dovecot.log').read_text()[-2000:]}"
        )

    def _logs_in(self) -> bool:
        try:
            with imaplib.IMAP4("127.0.0.1", self.port, timeout=5) as m:
                m.authenticate("PLAIN", lambda _: f"\0{USER}\0{PASSWORD}".encode())
                m.logout()
            return True
        except (OSError, imaplib.IMAP4.error):
            return False

    def _children(self, pid: int) -> list[int]:
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(stat.parent.name))
        return found

    def stop(self) -> None:
        if self.pid is None:
            return
        pid, self.pid = self.pid, None
        children = self._children(pid)  # imap, auth...: a restart must not meet them still running
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            if Path(f"/proc/{pid}/stat").exists() and ") Z " in Path(f"/proc/{pid}/stat").read_text():
                break  # a zombie until its parent reaps it: it no longer serves
            time.sleep(0.05)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(_serving(c) for c in children):
            time.sleep(0.05)
        for c in children:  # one that outlived its master (a loaded machine) would keep the port
            if _serving(c):
                try:
                    os.kill(c, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(_serving(c) for c in children):
            time.sleep(0.05)
        while time.monotonic() < deadline:  # the port must be free before a restart
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) != 0:
                    return
            time.sleep(0.05)

    def deliver(self, raw: bytes) -> None:
        """Deliver into INBOX the way an MTA does with Maildir (a file in `new/`): works while the
        IMAP server is down."""
        maildir = self.root / "mail" / USER / "Maildir"
        for sub in ("tmp", "new", "cur"):
            (maildir / sub).mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns()}.M{os.getpid()}.mbtest"
        tmp = maildir / "tmp" / name
        tmp.write_bytes(raw.replace(b"\r\n", b"\n"))
        subprocess.run(["chown", "-R", "nobody:nogroup", str(self.root / "mail")], check=True)
        tmp.rename(maildir / "new" / name)

    def append(self, raw: bytes, when: datetime, folder: str = "INBOX") -> None:
        conn = imaplib.IMAP4("127.0.0.1", self.port)
        try:
            conn.authenticate("PLAIN", lambda _: f"\0{USER}\0{PASSWORD}".encode())
            if folder != "INBOX":
                conn.create(encode_folder(folder))
            typ, _ = conn.append(encode_folder(folder), "", imaplib.Time2Internaldate(when), raw)
            assert typ == "OK"
        finally:
            conn.logout()

    def flags(self) -> list[bytes]:
        conn = imaplib.IMAP4("127.0.0.1", self.port)
        try:
            conn.authenticate("PLAIN", lambda _: f"\0{USER}\0{PASSWORD}".encode())
            conn.select("INBOX", readonly=True)
            _, data = conn.fetch("1:*", "(FLAGS)")
            return [d for d in data if isinstance(d, bytes)]
        finally:
            conn.logout()


def dovecot_root() -> Path:
    """A directory for one Dovecot outside pytest's temporary tree: pytest makes its own root 0700
    whenever a session starts (another session on the machine included), and Dovecot's auth process
    (user dovecot) must be able to reach the password file."""
    return Path(tempfile.mkdtemp(prefix="mb-dovecot-"))


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    binary = need_binary("dovecot", "dovecot-imapd")
    need(os.geteuid() == 0, "root (Dovecot serves its mail as user nobody)", "run the Dovecot tests as root")
    server = Dovecot(dovecot_root(), binary)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        log = server.root / "dovecot.log"  # shown by pytest when the test failed
        if log.exists():
            print("dovecot.log (last lines):", *log.read_text(errors="replace").splitlines()[-40:], sep="\n")
        shutil.rmtree(server.root, ignore_errors=True)


def adapt(path: str, msgid: str) -> bytes:
    """A corpus message made to refer to the tracked email: `References:` in front, bytes unchanged."""
    raw = (EML / path).read_bytes()
    eol = b"\r\n" if b"\r\n" in raw[:4096] else b"\n"
    return b"References: " + msgid.encode() + eol + raw


def setup_tracked(
    rt: Runtime, clock: FakeClock, dovecot: Dovecot, folders: tuple[str, ...] = ("INBOX",)
) -> tuple[Seeded, int]:
    user = seed_account(rt, "seller@acme.test")
    s = seed_message(rt, ["xxx@hotmail.com", "kijitora@example.net", "userunknown@bouncehammer.jp"], user=user)
    box = rt.store.add_mailbox(
        user.id,
        f"imap://{USER.replace('@', '%40')}@127.0.0.1:{dovecot.port}",
        rt.credentials.encrypt(PASSWORD),
        list(folders),
        clock(),
    )
    return s, box.id


def counts(rt: Runtime, s: Seeded) -> dict[str, Counts]:
    by_id = rt.store.counts([r.id for r in s.recipients])
    return {r.address: by_id.get(r.id, Counts()) for r in s.recipients}


def sendmail_bounce_for(s: Seeded) -> bytes:
    """The Sendmail DSN with its returned original carrying the tracked Message-ID."""
    raw = (EML / "bounces/sisimai-sendmail-01.eml").read_bytes()
    return raw.replace(b"<E1C50F1B-1C83-4820-BC36-AC6FBFBE8568@example.org>", s.message.rfc_message_id.encode())


# -- the client ----------------------------------------------------------------------------------


async def test_client_reads_without_changing_the_mailbox(dovecot: Dovecot, clock: FakeClock) -> None:
    raw = (EML / "replies/talon-hotmail-reply.eml").read_bytes()
    dovecot.append(raw, clock())
    client = await ImapClient.open(parse_url(f"imap://{USER}@127.0.0.1:{dovecot.port}"), PASSWORD, io_timeout=10)
    try:
        assert "IDLE" in client.capabilities
        status = await client.examine("INBOX")
        assert status.exists == 1 and status.uidvalidity > 0
        uids = await client.uid_search("ALL")
        (head,) = await client.fetch(uids, "HEADER]")
        assert head.data.startswith(b"Content-Type: multipart/alternative") and head.data.endswith(b"\r\n\r\n")
        (full,) = await client.fetch(uids, "]<0.100000>")
        assert full.data.replace(b"\r\n", b"\n") == raw.replace(b"\r\n", b"\n")
        assert full.size == len(full.data) and full.internaldate is not None
        (part,) = await client.fetch(uids, "]<0.100>")
        assert len(part.data) == 100
    finally:
        await client.close()
    assert all(b"\\Seen" not in f for f in dovecot.flags())  # BODY.PEEK and EXAMINE


async def test_idle_wakes_up_on_new_mail(dovecot: Dovecot, clock: FakeClock) -> None:
    client = await ImapClient.open(parse_url(f"imap://{USER}@127.0.0.1:{dovecot.port}"), PASSWORD, io_timeout=10)
    try:
        await client.examine("INBOX")
        assert await client.idle(0.2) is False  # nothing happened
        task = asyncio.create_task(client.idle(30))
        await asyncio.sleep(0.2)
        await asyncio.to_thread(dovecot.append, b"Subject: hi\r\n\r\nhello\r\n", clock())
        assert await asyncio.wait_for(task, 20) is True
        await client.command("NOOP")  # still usable after DONE
    finally:
        await client.close()


async def test_login_and_connection_failures_are_typed(dovecot: Dovecot) -> None:
    with pytest.raises(AuthError, match="refused the login"):
        await ImapClient.open(parse_url(f"imap://{USER}@127.0.0.1:{dovecot.port}"), "wrong", io_timeout=10)
    with pytest.raises(UpstreamTemporary, match="cannot reach"):
        await ImapClient.open(parse_url(f"imap://{USER}@127.0.0.1:{free_port()}"), PASSWORD, io_timeout=5)


async def test_a_login_refused_as_unavailable_is_temporary() -> None:
    """`NO [UNAVAILABLE]` (RFC 5530; Dovecot says it while shutting down) is retried with backoff,
    not reported as a wrong password (which waits a whole poll interval)."""

    async def server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] ready\r\n")
        line = await reader.readline()
        writer.write(line.split(b" ", 1)[0] + b" NO [UNAVAILABLE] Temporary authentication failure.\r\n")
        await writer.drain()
        writer.close()

    listener = await asyncio.start_server(server, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        with pytest.raises(UpstreamTemporary, match="cannot log in now"):
            await ImapClient.open(parse_url(f"imap://{USER}@127.0.0.1:{port}"), PASSWORD, io_timeout=5)
    finally:
        listener.close()
        await listener.wait_closed()


def test_urls_and_folder_names() -> None:
    u = parse_url("imaps://alice%40acme.test:pw@mail.acme.test")
    assert (u.scheme, u.host, u.port, u.user, u.password) == ("imaps", "mail.acme.test", 993, "alice@acme.test", "pw")
    assert u.display == "imaps://alice%40acme.test@mail.acme.test:993"
    assert parse_url("imap://bob@h").port == 143
    assert encode_folder("INBOX") == '"INBOX"'
    assert encode_folder("Entwürfe & Co") == '"Entw&APw-rfe &- Co"'  # RFC 3501 modified UTF-7
    assert encode_folder('a"b') == '"a\\"b"'


def test_backoff_grows_and_is_capped() -> None:
    o = WatchOptions(backoff_initial=2, backoff_max=60)
    assert [backoff_delay(n, o, 0.5) for n in range(0, 8)] == [0, 2, 4, 8, 16, 32, 60, 60]
    assert 1.6 <= backoff_delay(1, o, 0.0) <= backoff_delay(1, o, 0.999) <= 2.4


# -- the watcher -----------------------------------------------------------------------------------


async def test_replies_auto_replies_and_bounces_are_counted_once(
    runtime: Runtime, clock: FakeClock, dovecot: Dovecot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mailbeacon")
    s, box = setup_tracked(runtime, clock, dovecot)
    mid = s.message.rfc_message_id
    later = clock() + timedelta(hours=1)
    dovecot.append(adapt("replies/talon-hotmail-reply.eml", mid), later)  # From xxx@hotmail.com
    dovecot.append(adapt("auto-replies/sisimai-rfc3834-01-away.eml", mid), later)  # From kijitora@example.net
    dovecot.append(sendmail_bounce_for(s), later)  # userunknown@bouncehammer.jp
    dovecot.append(adapt("alt/anymail-sample-email.eml", "<not-ours@elsewhere>"), later)  # unrelated

    result = await check_mailbox(Pipeline(runtime), box)
    assert (result.messages, result.recorded) == (4, 3)
    # an operator sees one line per mailbox check, naming the mailbox by id and no address
    (checked,) = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO and "checked" in r.getMessage()]
    assert checked == f"mailbox {box} checked: 4 new message(s), 3 read in full, 3 recorded"
    assert result.fetched == 3  # the unrelated message was judged by its headers alone
    c = counts(runtime, s)
    assert (c["xxx@hotmail.com"].replies, c["xxx@hotmail.com"].opens_inferred) == (1, 1)  # R5
    assert (c["kijitora@example.net"].auto_replies, c["kijitora@example.net"].replies) == (1, 0)
    assert c["userunknown@bouncehammer.jp"].bounces == 1
    kinds = sorted((r.kind.value, r.source, r.mailbox_id) for r in runtime.store.replies(message_id=s.message.id))
    assert kinds == [("auto_reply", "imap", box), ("bounce", "imap", box), ("reply", "imap", box)]
    state = runtime.store.mailbox(box)
    assert state.state == "connected" and state.last_ok_at == clock() and state.last_error is None

    # nothing new: nothing fetched, nothing counted twice
    again = await check_mailbox(Pipeline(runtime), box)
    assert (again.messages, again.recorded) == (0, 0)
    # even with the checkpoints lost, the store keeps each message once
    with runtime.store.engine.begin() as conn:
        conn.execute(delete(schema.mailbox_folders).where(schema.mailbox_folders.c.mailbox_id == box))
    rescan = await check_mailbox(Pipeline(runtime), box)
    assert (rescan.messages, rescan.recorded) == (4, 0)
    assert counts(runtime, s) == c


async def test_restarts_miss_nothing_and_double_nothing(runtime: Runtime, clock: FakeClock, dovecot: Dovecot) -> None:
    s, box = setup_tracked(runtime, clock, dovecot, folders=("INBOX", "Replies"))
    mid = s.message.rfc_message_id
    later = clock() + timedelta(hours=1)
    dovecot.append(adapt("replies/talon-hotmail-reply.eml", mid), later)
    await check_mailbox(Pipeline(runtime), box)

    dovecot.stop()
    # while the server is down, mail still arrives (local delivery) and the watcher finds nothing
    dovecot.deliver(adapt("auto-replies/sisimai-rfc3834-01-away.eml", mid))
    with pytest.raises(UpstreamTemporary):
        await check_mailbox(Pipeline(runtime), box)
    state = runtime.store.mailbox(box)
    assert state.state == "error" and "cannot reach" in (state.last_error or "")

    dovecot.start()
    result = await check_mailbox(Pipeline(runtime), box)  # the folder "Replies" does not exist yet: INBOX still works
    assert result.folders == {"INBOX": 1} and result.recorded == 1
    assert "Replies" in (runtime.store.mailbox(box).last_error or "")
    dovecot.append(sendmail_bounce_for(s), later, folder="Replies")
    result = await check_mailbox(Pipeline(runtime), box)
    assert result.recorded == 1 and result.folders == {"INBOX": 0, "Replies": 1}
    c = counts(runtime, s)
    assert (c["xxx@hotmail.com"].replies, c["kijitora@example.net"].auto_replies) == (1, 1)
    assert c["userunknown@bouncehammer.jp"].bounces == 1
    assert runtime.store.mailbox(box).state == "connected"


async def wait_for(condition: Callable[[], bool], limit: float = 90.0) -> None:
    """Wait for an effect of real I/O (the watcher talking to Dovecot), up to `limit` seconds."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


@pytest.mark.timeout(600)  # seven waits on real I/O, two server restarts: slow on a loaded machine
async def test_running_watchers_idle_reconnect_and_isolate_failures(
    runtime: Runtime, clock: FakeClock, dovecot: Dovecot
) -> None:
    s, box = setup_tracked(runtime, clock, dovecot)
    broken = runtime.store.add_mailbox(
        s.user.id, f"imap://nobody@127.0.0.1:{free_port()}", runtime.credentials.encrypt("x"), ["INBOX"], clock()
    ).id
    mid = s.message.rfc_message_id
    later = clock() + timedelta(hours=1)

    def rc(addr: str) -> Counts:
        return counts(runtime, s)[addr]

    watchers = await start_watchers(
        Pipeline(runtime), poll_interval=30, backoff_initial=0.1, backoff_max=0.5, io_timeout=5
    )
    try:
        await wait_for(lambda: runtime.store.mailbox(box).state == "connected")
        await asyncio.to_thread(dovecot.append, adapt("replies/talon-hotmail-reply.eml", mid), later)
        await wait_for(lambda: rc("xxx@hotmail.com").replies == 1)  # IDLE announced it
        await wait_for(lambda: runtime.store.mailbox(broken).state == "error")
        assert "cannot reach" in (runtime.store.mailbox(broken).last_error or "")

        await asyncio.to_thread(dovecot.stop)
        await asyncio.to_thread(dovecot.deliver, adapt("auto-replies/sisimai-rfc3834-01-away.eml", mid))
        await wait_for(lambda: runtime.store.mailbox(box).state == "error")
        await asyncio.to_thread(dovecot.start)
        await wait_for(lambda: rc("kijitora@example.net").auto_replies == 1)  # reconnected, caught up
        await wait_for(lambda: runtime.store.mailbox(box).state == "connected")
    finally:
        await watchers.stop()
    assert runtime.store.mailbox(box).state == "stopped"

    # stopped: mail keeps arriving; a new watcher picks up exactly where the last one stopped
    dovecot.append(sendmail_bounce_for(s), later)
    watchers = await start_watchers(
        Pipeline(runtime), poll_interval=30, backoff_initial=0.1, backoff_max=0.5, io_timeout=5
    )
    try:
        await wait_for(lambda: rc("userunknown@bouncehammer.jp").bounces == 1)
    finally:
        await watchers.stop()
    c = counts(runtime, s)
    assert (c["xxx@hotmail.com"].replies, c["kijitora@example.net"].auto_replies) == (1, 1)
    assert len(runtime.store.replies(message_id=s.message.id)) == 3


async def test_a_server_without_idle_is_polled(runtime: Runtime, clock: FakeClock, tmp_path: Path) -> None:
    binary = need_binary("dovecot", "dovecot-imapd")
    need(os.geteuid() == 0, "root (Dovecot serves its mail as user nobody)", "run the Dovecot tests as root")
    server = Dovecot(dovecot_root(), binary, idle=False)
    server.start()
    try:
        s, box = setup_tracked(runtime, clock, server)
        client = await ImapClient.open(parse_url(f"imap://{USER}@127.0.0.1:{server.port}"), PASSWORD, io_timeout=10)
        try:
            assert "IDLE" not in client.capabilities
        finally:
            await client.close()
        watchers = await start_watchers(
            Pipeline(runtime), poll_interval=0.5, backoff_initial=0.1, backoff_max=0.5, io_timeout=5
        )
        try:
            await wait_for(lambda: runtime.store.mailbox(box).state == "connected")
            later = clock() + timedelta(hours=1)
            mid = s.message.rfc_message_id
            await asyncio.to_thread(server.append, adapt("replies/talon-hotmail-reply.eml", mid), later)
            await wait_for(lambda: counts(runtime, s)["xxx@hotmail.com"].replies == 1)  # found by polling
        finally:
            await watchers.stop()
    finally:
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)


async def test_server_restarted_mid_batch_nothing_lost_nothing_doubled(
    runtime: Runtime, clock: FakeClock, dovecot: Dovecot
) -> None:
    """Dovecot stops right after the watcher stored its first batch of a longer run of mail (its
    session may still serve a little while it shuts down); mail arrives while it is away; it
    comes back; the watcher resumes after its checkpoint: every reply once."""
    s, box = setup_tracked(runtime, clock, dovecot)
    mid = s.message.rfc_message_id
    later = clock() + timedelta(hours=1)
    raw = adapt("replies/talon-hotmail-reply.eml", mid)

    def reply(n: int) -> bytes:
        return raw.replace(b"<DUB102-W192C6E94759954C4885B92B14C0@phx.gbl>", f"<r{n}@hotmail.test>".encode())

    for n in range(12):
        dovecot.append(reply(n), later)
    store = runtime.store
    real_save = store.save_checkpoint
    saved: list[int] = []

    first_batch = threading.Event()

    def save_and_tell(mailbox_id: int, folder: str, uidvalidity: int, last_uid: int) -> None:
        real_save(mailbox_id, folder, uidvalidity, last_uid)
        saved.append(last_uid)
        first_batch.set()

    store.save_checkpoint = save_and_tell  # type: ignore[method-assign]
    watchers = await start_watchers(
        Pipeline(runtime), poll_interval=30, backoff_initial=0.1, backoff_max=0.5, io_timeout=5, batch=4
    )
    try:
        assert await asyncio.to_thread(first_batch.wait, 30)
        await asyncio.to_thread(dovecot.stop)  # mid-stream: eight messages still to fetch
        await wait_for(lambda: store.mailbox(box).state == "error")
        for n in range(12, 16):
            await asyncio.to_thread(dovecot.deliver, reply(n))
        await asyncio.to_thread(dovecot.start)
        await wait_for(lambda: len(store.replies(message_id=s.message.id)) == 16)
        await wait_for(lambda: store.mailbox(box).state == "connected")
    finally:
        await watchers.stop()
    got = [r.rfc_message_id for r in store.replies(message_id=s.message.id)]
    assert sorted(got) == sorted(f"<r{n}@hotmail.test>" for n in range(16))
    assert counts(runtime, s)["xxx@hotmail.com"].replies == 16
    assert saved[0] == 4 and saved[-1] == 16
