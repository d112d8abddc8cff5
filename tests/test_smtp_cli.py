"""`mailbeacon send` and `mailbeacon user set-upstream`, against a real aiosmtpd upstream."""

from __future__ import annotations

import json
from email.message import EmailMessage
from pathlib import Path

from conftest import Run
from mailbeacon.store import open_store
from test_smtp_proxy import Sink
from test_smtp_proxy import sink as sink  # the upstream fixture


def accounts(cli: Run) -> None:
    assert cli("workspace", "add", "acme", "--domain", "acme.test")[0] == 0
    assert cli("user", "add", "alice@acme.test", "--workspace", "acme", "--password-stdin", stdin="pw\n")[0] == 0


def eml(tmp_path: Path) -> Path:
    m = EmailMessage()
    m["From"] = "alice@acme.test"
    m["To"] = "bob@client.test"
    m["Cc"] = "carol@acme.test"
    m["Subject"] = "Hello"
    m.set_content("<html><body><a href='https://shop.test/'>shop</a></body></html>", subtype="html")
    path = tmp_path / "hello.eml"
    path.write_bytes(bytes(m))
    return path


def test_send_relays_one_copy_per_recipient(cli: Run, sink: tuple[Sink, int], tmp_path: Path) -> None:
    accounts(cli)
    upstream = f"upstream_smtp=smtp://127.0.0.1:{sink[1]}"
    code, out, err = cli("--set", upstream, "send", str(eml(tmp_path)), "--from", "alice@acme.test", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["instrumented"] and report["links"] == 1
    assert [(r["address"], r["relation"], r["code"]) for r in report["recipients"]] == [
        ("bob@client.test", "external", 250),
        ("carol@acme.test", "colleague", 250),
    ]
    assert sorted(d.rcpt_tos[0] for d in sink[0].received) == ["bob@client.test", "carol@acme.test"]
    assert all(b"http://t.example.test/c/" in d.data for d in sink[0].received)


def test_send_reports_refusals_and_dry_run_writes_files(cli: Run, sink: tuple[Sink, int], tmp_path: Path) -> None:
    accounts(cli)
    sink[0].rcpt_replies["bob@client.test"] = "550 5.1.1 no such user"
    upstream = f"upstream_smtp=smtp://127.0.0.1:{sink[1]}"
    code, out, err = cli("--set", upstream, "send", str(eml(tmp_path)), "--from", "alice@acme.test")
    assert code == 1 and "550 5.1.1 no such user" in err
    assert [d.rcpt_tos for d in sink[0].received] == [["carol@acme.test"]]
    code, out, err = cli("send", str(eml(tmp_path)), "--from", "alice@acme.test", "--to", "dave@x.test", "--dry-run")
    assert code == 0, err
    [written] = tmp_path.glob("hello.*.eml")
    assert b"http://t.example.test/o/" in written.read_bytes()
    code, _, err = cli("send", str(eml(tmp_path)), "--from", "alice@acme.test")
    assert code == 2 and "No outgoing server is configured" in err


def test_set_upstream_is_stored_encrypted(cli: Run, sink: tuple[Sink, int], sqlite_url: str, tmp_path: Path) -> None:
    accounts(cli)
    url = f"smtp://alice:app-password@127.0.0.1:{sink[1]}"
    code, out, _ = cli("user", "set-upstream", "alice@acme.test", url)
    assert code == 0 and "app-password" not in out
    store = open_store(sqlite_url)
    stored = store.user("alice@acme.test").upstream_smtp
    assert stored and "app-password" not in stored
    code, _, err = cli("send", str(eml(tmp_path)), "--from", "alice@acme.test")
    assert code == 1
    assert "SMTP AUTH extension is not supported" in err  # it tried to log in: the user's own upstream
    assert cli("user", "set-upstream", "alice@acme.test", "")[0] == 0
    assert store.user("alice@acme.test").upstream_smtp is None
    code, _, err = cli("user", "set-upstream", "alice@acme.test", "http://nope")
    assert code == 2 and "upstream_smtp must look like" in err
    store.close()
