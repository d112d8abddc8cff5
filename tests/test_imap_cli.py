"""`mailbeacon mailbox add/list/check/remove`."""

from __future__ import annotations

import json

from conftest import Run
from test_imap import PASSWORD, USER, Dovecot
from test_imap import dovecot as dovecot  # the Dovecot fixture


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
