"""`mailbeacon mailbox add/list/check/remove`."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from io import StringIO
from pathlib import Path

import pytest

from mailbeacon.cli import main
from mailbeacon.cli.base import state
from test_imap import PASSWORD, USER, Dovecot
from test_imap import dovecot as dovecot  # the Dovecot fixture

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Run]:
    monkeypatch.setenv("MAILBEACON_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("MAILBEACON_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "250")

    def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
        state.overrides.clear()
        state.config = None
        if state._runtime is not None:
            state._runtime.close()
        state._runtime = None
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", StringIO(stdin))
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    yield run
    if state._runtime is not None:
        state._runtime.close()
        state._runtime = None


def test_mailbox_add_list_check_remove(cli: Run, dovecot: Dovecot) -> None:
    assert cli("workspace", "add", "acme", "--domain", "acme.test")[0] == 0
    assert cli("user", "add", "seller@acme.test", "--workspace", "acme", "--password-stdin", stdin="pw\n")[0] == 0
    url = f"imap://{USER.replace('@', '%40')}@127.0.0.1:{dovecot.port}"
    code, out, err = cli("mailbox", "add", "seller@acme.test", "--imap", url, "--password-stdin", stdin=PASSWORD + "\n")
    assert code == 0, err
    assert "Watching mailbox 1" in out and PASSWORD not in out

    code, out, _ = cli("mailbox", "list", "--json")
    (row,) = json.loads(out)
    assert (row["user"], row["state"], row["folders"], row["last_error"]) == (
        "seller@acme.test",
        "new",
        ["INBOX"],
        None,
    )
    assert row["url"] == url  # stored without the password

    code, out, err = cli("mailbox", "check", "1")
    assert code == 0, err
    assert "0 new message(s)" in out
    code, out, _ = cli("mailbox", "list")
    assert "connected" in out and "seller@acme.test" in out

    assert cli("mailbox", "remove", "1")[0] == 0
    assert json.loads(cli("mailbox", "list", "--json")[1]) == []


def test_mailbox_errors_are_one_sentence(cli: Run) -> None:
    assert cli("workspace", "add", "acme")[0] == 0
    assert cli("user", "add", "seller@acme.test", "--workspace", "acme", "--password-stdin", stdin="pw\n")[0] == 0
    code, _, err = cli("mailbox", "add", "seller@acme.test", "--imap", "http://x", "--password-stdin", stdin="p\n")
    assert code != 0 and "not a mailbox URL" in err and "Traceback" not in err
    code, _, err = cli("mailbox", "check", "42")
    assert code != 0 and "no mailbox 42" in err
