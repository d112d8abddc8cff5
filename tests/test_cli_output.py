"""What the commands print: pending hits, every kind of hit and reply, tracking switched off, the
message id `hits` needs, not-sent messages; 80 columns on a terminal, tab-separated when piped,
local times to the second (JSON keeps ISO 8601 UTC)."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from conftest import Run, make_settings
from mailbeacon.cli import base
from mailbeacon.cli.output import ago, when
from mailbeacon.model import Hit, HitKind, Reply, ReplyKind
from mailbeacon.pipeline import Pipeline
from mailbeacon.runtime import Runtime
from seeding import Seeded, seed_message

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)


def _seed(sqlite_url: str, tmp_path: Path) -> Seeded:
    rt = Runtime.open(make_settings(tmp_path, sqlite_url), migrate=False)
    s = seed_message(rt, ["bob@client.example", "carol@client.example"])
    now = datetime.now(UTC)
    rt.store.insert_hits(
        [
            Hit(
                uid=uuid.uuid4().hex,
                kind=HitKind.OPEN,
                workspace_id=s.workspace.id,
                message_id=s.message.id,
                recipient_id=s.recipients[0].id,
                at=now,
                ip="81.2.69.160",
                user_agent=CHROME,
            )
            for _ in range(2)
        ]
    )
    base_reply: dict[str, Any] = {"message_id": s.message.id, "at": now}
    Pipeline(rt).record_replies(
        [
            Reply(
                recipient_id=s.recipients[0].id,
                kind=ReplyKind.AUTO_REPLY,
                rfc_message_id="<ooo@client.example>",
                from_address="bob@client.example",
                **base_reply,
            ),
            Reply(
                recipient_id=s.recipients[1].id,
                kind=ReplyKind.COLLEAGUE,
                rfc_message_id="<dan@acme.test>",
                from_address="dan@acme.test",
                **base_reply,
            ),
        ],
    )
    outcome = dict(rt.store.message(s.message.id).outcome)
    rt.store.update_message_outcome(
        s.message.id, {**outcome, "relay": {"delivered": ["bob@client.example", "carol@client.example"], "failed": {}}}
    )
    rt.close()
    return s


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Standard output is an 80-column terminal."""
    monkeypatch.setattr(base.console, "_force_terminal", True)
    monkeypatch.setattr(base.console, "_width", 80)
    monkeypatch.setattr(base.console, "_color_system", None)


def test_stats_on_an_80_column_terminal(cli: Run, sqlite_url: str, tmp_path: Path, terminal: None) -> None:
    s = _seed(sqlite_url, tmp_path)
    code, out, err = cli("stats")
    print(out)
    assert code == 0, err
    assert max(len(x) for x in out.splitlines()) <= 80, out
    assert f"id {s.message.id}" in out and s.message.rfc_message_id in out
    assert "2 hits being checked" in out  # not yet settled: said, not shown as zeros only
    assert "auto-reply" in out and "colleague reply" in out
    assert "ope…" not in out and "…" not in out
    assert "NOT SENT" not in out


def test_stats_piped_is_tab_separated_with_every_column(cli: Run, sqlite_url: str, tmp_path: Path) -> None:
    s = _seed(sqlite_url, tmp_path)
    code, out, _ = cli("stats", "--message", str(s.message.id))
    assert code == 0
    lines = out.splitlines()
    header = next(x for x in lines if x.startswith("recipient\t"))
    names = header.split("\t")
    for column in (
        "opens",
        "clicks",
        "replies",
        "auto_replies",
        "bounces",
        "colleague_replies",
        "previews",
        "unknown",
        "pending",
    ):
        assert column in names
    rows = {x.split("\t")[0]: dict(zip(names, x.split("\t"), strict=True)) for x in lines if "@client.example\t" in x}
    assert rows["bob@client.example"]["pending"] == "2" and rows["bob@client.example"]["auto_replies"] == "1"
    assert rows["carol@client.example"]["colleague_replies"] == "1"
    assert "┃" not in out and "│" not in out


def test_stats_json_keeps_utc_and_says_pending_colleagues_and_delivery(
    cli: Run, sqlite_url: str, tmp_path: Path
) -> None:
    s = _seed(sqlite_url, tmp_path)
    code, out, _ = cli("stats", "--json")
    (r,) = json.loads(out)
    assert r["sent_at"].endswith("Z") and r["pending_hits"] == 2
    assert r["delivery"]["state"] == "sent"
    assert [v["colleague_replies"] for v in r["recipients"]] == [0, 1]
    assert r["id"] == s.message.id


def test_tracking_switched_off_is_said_in_words(cli: Run, tmp_path: Path) -> None:
    cli("workspace", "add", "acme", "--domain", "acme.test")
    cli("user", "add", "alice@acme.test", "--workspace", "acme")
    cli("user", "set", "alice@acme.test", "--no-track-opens")
    eml = tmp_path / "m.eml"
    eml.write_bytes(b"From: alice@acme.test\r\nTo: bob@client.example\r\nSubject: Hi\r\n\r\n<p>Hi</p>\r\n")
    assert cli("send", str(eml), "--from", "alice@acme.test", "--dry-run")[0] == 0
    code, out, _ = cli("stats")
    assert "Open tracking was off in the sender's preferences." in out


def test_a_message_not_sent_is_not_listed_as_sent(cli: Run, tmp_path: Path) -> None:
    cli("workspace", "add", "acme", "--domain", "acme.test")
    cli("user", "add", "alice@acme.test", "--workspace", "acme")
    eml = tmp_path / "m.eml"
    eml.write_bytes(b"From: alice@acme.test\r\nTo: bob@client.example\r\nSubject: Dry\r\n\r\n<p>Hi</p>\r\n")
    code, out, err = cli("send", str(eml), "--from", "alice@acme.test", "--dry-run")
    assert code == 0 and "not sent (dry run)" in out
    assert "Warning: Tracking links use http://t.example.test: it is a local name" in err
    code, _, err = cli("send", str(eml), "--from", "alice@acme.test")  # no upstream configured
    assert code == 2 and "No outgoing server" in err
    code, out, _ = cli("stats", "--json")
    states = [(r["delivery"]["state"], r["delivery"]["text"]) for r in json.loads(out)]
    assert states[1] == ("not_sent", "not sent (dry run)")
    assert states[0][0] == "not_sent" and "No outgoing server" in states[0][1]
    code, out, _ = cli("stats")
    assert out.count("NOT SENT") == 2 and " sent " not in out


def test_user_and_workspace_lists_are_tables(cli: Run) -> None:
    cli("workspace", "add", "acme", "--domain", "acme.test")
    cli("user", "add", "alice@acme.test", "--workspace", "acme")
    cli("user", "add", "bob@acme.test", "--workspace", "acme")
    cli("workspace", "set", "acme", "--no-track-clicks")
    code, ws, _ = cli("workspace", "list")
    code, users, _ = cli("user", "list")
    for out in (ws, users):
        assert "{" not in out and "'" not in out
    assert "acme\tacme.test\tclicks off" in ws
    assert "alice@acme.test\tacme\talice@acme.test\tyes" in users  # the first user of a workspace is its admin
    assert "bob@acme.test\tacme\tbob@acme.test\tno" in users


def test_local_times_to_the_second_with_age() -> None:
    now = datetime(2026, 3, 2, 9, 3, 0, 123456, tzinfo=UTC)
    cet = timezone(timedelta(hours=1))
    assert when("2026-03-02T09:00:00.654321Z", now, tz=cet) == "2026-03-02 10:00:00 (3 min ago)"
    assert when(now - timedelta(days=30), now, tz=UTC) == "2026-01-31 09:03:00"
    assert when(None, now) == ""
    assert when("2026-03-02T09:00:00Z", now, tz=cet, relative=False) == "2026-03-02 10:00:00"
    assert [ago(s) for s in (10, 180, 7200, 86400 * 2, -300)] == [
        "just now",
        "3 min ago",
        "2 h ago",
        "2 days ago",
        "in 5 min",
    ]


def test_hits_on_an_80_column_terminal_and_piped(
    cli: Run, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mailbeacon.pipeline import Pipeline

    s = _seed(sqlite_url, tmp_path)
    rt = Runtime.open(make_settings(tmp_path, sqlite_url), migrate=False)
    assert Pipeline(rt).run_once() == 2  # classified, not settled yet
    rt.close()
    code, out, _ = cli("hits", "--message", s.message.rfc_message_id)
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split("\t") == ["at", "recipient", "kind", "verdict", "why"]
    assert len(rows) == 2 and all("(being checked)" in r and r.split("\t")[4] for r in rows)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", r.split("\t")[0]) for r in rows)  # local, to the second
    monkeypatch.setattr(base.console, "_force_terminal", True)
    monkeypatch.setattr(base.console, "_width", 80)
    code, out, _ = cli("hits", "--message", str(s.message.id))
    assert code == 0 and max(len(x.rstrip()) for x in out.splitlines()) <= 80
    assert out.count("bob@client.example") == 2 and re.search(r"\d\d:\d\d:\d\d \(", out)  # local time with its age
