"""`mailbeacon serve` as a real process (issue 9): bodies limited while streaming on the real
HTTP servers, malformed chunked bodies, private files, signing keys encrypted at rest, a port
already in use."""

from __future__ import annotations

import base64
import os
import select
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from conftest import Run, make_settings
from mailbeacon.credentials import SEALED
from mailbeacon.errors import ConfigError
from mailbeacon.model import HitKind
from mailbeacon.runtime import Runtime
from mailbeacon.store import open_store
from mailbeacon.store.schema import secret_keys
from mailbeacon.tokens import generate_key
from seeding import open_token, seed_message
from serving import ServeProcess
from test_serve import BOB

SERVERS = ["granian", "uvicorn"]


@pytest.fixture
def seeded(tmp_path: Path, clock: object) -> Iterator[tuple[str, Runtime]]:
    db = f"sqlite:///{tmp_path / 'serve.db'}"
    rt = Runtime.open(make_settings(tmp_path, db), clock=clock)  # type: ignore[arg-type]
    yield db, rt
    rt.close()


def raw_request(port: int, head: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(head)
    return sock


def read_status(sock: socket.socket) -> int | None:
    """The status code of the response, or None if the server closed without one."""
    data = b""
    try:
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    if not data.startswith(b"HTTP/1."):
        return None
    return int(data.split(b" ", 2)[1])


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.parametrize("http_server", SERVERS)
def test_an_endless_chunked_body_is_refused_while_it_streams(
    tmp_path: Path, seeded: tuple[str, Runtime], http_server: str
) -> None:
    db, _ = seeded
    server = ServeProcess(tmp_path, db, http_server)
    server.start()
    try:
        assert server.proc is not None
        before = rss_kib(server.proc.pid)
        sock = raw_request(
            server.port,
            b"POST /api/v1/self-view HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n",
        )
        chunk = b"10000\r\n" + b" " * 0x10000 + b"\r\n"
        sent = 0
        status = None
        while sent < 200 * 1024 * 1024:  # the probe sent 500 MB; the answer must come long before
            readable, writable, _ = select.select([sock], [sock], [], 30)
            if readable:
                status = read_status(sock)
                break
            if not writable:
                break
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                status = read_status(sock)
                break
            sent += len(chunk)
        sock.close()
        assert status == 413, (status, sent)
        assert sent < 20 * 1024 * 1024, sent  # kernel buffers hold a few MB; the app read 64 KB
        assert rss_kib(server.proc.pid) - before < 50 * 1024
        # a declared length over the limit is answered without reading anything
        sock = raw_request(
            server.port, b"POST /api/v1/self-view HTTP/1.1\r\nHost: x\r\nContent-Length: 524288000\r\n\r\n{}"
        )
        assert read_status(sock) == 413
        sock.close()
    finally:
        server.stop()


@pytest.mark.parametrize("http_server", SERVERS)
@pytest.mark.parametrize(
    "body",
    [
        b"zz\r\n{}\r\n0\r\n\r\n",  # not a hex size
        b"5\r\n{}\r\n0\r\n\r\n",  # size larger than the data, then garbage
        b"2\r\n{}",  # cut off
        b"ffffffffffffffffffff\r\n{}\r\n",  # a size beyond 64 bits
        b"-2\r\n{}\r\n0\r\n\r\n",
    ],
    ids=["not-hex", "short", "cut-off", "huge-size", "negative"],
)
def test_a_malformed_chunked_body_is_not_a_500(
    tmp_path: Path, seeded: tuple[str, Runtime], http_server: str, body: bytes
) -> None:
    db, _ = seeded
    server = ServeProcess(tmp_path, db, http_server)
    server.start()
    try:
        sock = raw_request(
            server.port,
            b"POST /api/v1/self-view HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body,
        )
        sock.shutdown(socket.SHUT_WR)
        status = read_status(sock)
        sock.close()
        assert status is None or 400 <= status < 500, status
        assert httpx.get(f"{server.base}/healthz").status_code == 200  # and the server is fine
        assert "Traceback" not in server.log.read_text()
    finally:
        server.stop()


def private(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) & 0o077 == 0


def test_every_file_serve_writes_is_private_even_with_umask_000(tmp_path: Path) -> None:
    db_path = tmp_path / "db" / "mailbeacon.db"
    server = ServeProcess(tmp_path, f"sqlite:///{db_path}", "granian")
    server.env.pop("MAILBEACON_DATA_DIR")  # the default: beside the database
    server.umask = 0
    server.start()
    try:
        rt = Runtime.open(make_settings(tmp_path, f"sqlite:///{db_path}", data_dir=str(db_path) + ".data"))
        s = seed_message(rt)
        for _ in range(5):
            assert httpx.get(f"{server.base}/o/{open_token(rt, s, BOB)}").status_code == 200
        rt.close()
        written = [p for p in tmp_path.joinpath("db").rglob("*")]
        names = {p.name for p in written}
        assert {"mailbeacon.db", "mailbeacon.db-wal", "mailbeacon.db-shm", "credentials.key", "journal"} <= names
        assert any(n.startswith("hits-") for n in names), names  # a journal segment
        assert [str(p) for p in written if not private(p)] == []
        assert private(tmp_path / "db")
    finally:
        server.stop()


def test_files_an_older_version_left_readable_are_tightened(tmp_path: Path) -> None:
    db_path = tmp_path / "old.db"
    open_store(f"sqlite:///{db_path}", migrate=True).close()
    data = tmp_path / "old.db.data"
    data.mkdir()
    (data / "credentials.key").write_text(base64.urlsafe_b64encode(os.urandom(32)).decode())
    for p in (db_path, data / "credentials.key"):
        os.chmod(p, 0o644)
    os.chmod(data, 0o755)
    rt = Runtime.open(make_settings(tmp_path, f"sqlite:///{db_path}", data_dir=str(data)))
    rt.store.set_meta("probe", "x")  # a write: the -wal and -shm exist now
    assert private(db_path) and private(data) and private(data / "credentials.key")
    assert private(db_path.with_name("old.db-wal")) and private(db_path.with_name("old.db-shm"))
    rt.close()


def test_signing_keys_are_encrypted_at_rest_and_old_clear_keys_are_migrated(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'keys.db'}"
    store = open_store(db, migrate=True)
    old_key = generate_key()
    store.add_signing_key(old_key, datetime.now(UTC), kid=1)  # as versions before issue 9 stored it
    settings = make_settings(tmp_path, db)
    rt = Runtime.open(settings)
    token = rt.keyring.sign(HitKind.OPEN, 1, 2, 3)
    new_kid = rt.add_signing_key()
    rt.close()
    with store.engine.connect() as c:
        stored = {r.kid: bytes(r.key) for r in c.execute(secret_keys.select())}
    assert set(stored) == {1, new_kid}
    assert all(v.startswith(SEALED) and old_key not in v for v in stored.values())
    rt = Runtime.open(settings)  # the same keys come back, so old tokens keep verifying
    assert rt.keyring.verify(token).recipient_id == 3
    assert rt.keyring.current == new_kid  # the new key signs
    rt.close()
    # without the credentials key, the database alone is no use for forging
    (tmp_path / "data" / "credentials.key").unlink()
    with pytest.raises(ConfigError, match="the credentials key is missing"):
        Runtime.open(settings)
    assert not (tmp_path / "data" / "credentials.key").exists()  # no new key replaces the lost one
    store.close()


def test_a_port_in_use_is_one_sentence(tmp_path: Path) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        env = {
            **os.environ,
            "MAILBEACON_DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}",
            "MAILBEACON_SMTP": "off",
            "COLUMNS": "200",
        }
        for args in (["--http", f"127.0.0.1:{port}"], ["--http", "127.0.0.1:0", "--smtp", f"127.0.0.1:{port}"]):
            r = subprocess.run(
                [sys.executable, "-m", "mailbeacon", "serve", *args],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            setting = "smtp" if "--smtp" in args else "http"
            assert r.returncode == 2, r.stderr
            assert "Traceback" not in r.stderr + r.stdout
            assert r.stderr.strip() == (
                f"Error: port {port} on 127.0.0.1 is already in use (setting {setting}): stop the program "
                f"listening there or choose another port with --{setting} HOST:PORT."
            )
            assert r.stdout == ""  # checked first: no database made, no welcome (shown once) lost
            assert not (tmp_path / "p.db").exists()


def test_the_copies_send_dry_run_writes_are_private(cli: Run, tmp_path: Path) -> None:
    assert cli("workspace", "add", "acme", "--domain", "acme.test")[0] == 0
    assert cli("user", "add", "alice@acme.test", "--workspace", "acme", "--password-stdin", stdin="pw\n")[0] == 0
    path = tmp_path / "hello.eml"
    path.write_bytes(b"From: alice@acme.test\r\nTo: bob@client.test\r\nSubject: Hi\r\n\r\nhttps://shop.test/\r\n")
    old = os.umask(0)
    try:
        code, _, err = cli("send", str(path), "--from", "alice@acme.test", "--dry-run")
    finally:
        os.umask(old)
    assert code == 0, err
    [written] = tmp_path.glob("hello.*.eml")
    assert private(written)
