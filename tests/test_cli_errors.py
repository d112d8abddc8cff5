"""Every command, given bad input, answers with one sentence on stderr and a non-zero exit — never a
traceback. The commands are enumerated from the Typer app, so a new command is covered by itself."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from mailbeacon.cli.base import app


def _walk(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    subs = getattr(command, "commands", None)
    if subs:
        for name, sub in sorted(subs.items()):
            yield from _walk(sub, (*path, name))
    else:
        yield path, command


COMMANDS = list(_walk(typer.main.get_command(app)))
GROUPS = sorted({path[:-1] for path, _ in COMMANDS if len(path) > 1})


def _is_argument(p: Any) -> bool:
    return type(p).__name__.endswith("Argument")


def _required(cmd: Any) -> list[Any]:
    return [p for p in cmd.params if p.required]


def _numeric(cmd: Any) -> list[Any]:
    return [p for p in cmd.params if getattr(p.get_runtime_param(), "annotation", None) in (int, float)]


def _one_sentence(code: int, out: str, err: str) -> None:
    assert code != 0, (out, err)
    assert "Traceback" not in out + err
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), err
    assert lines[0].rstrip().endswith((".", ")")), lines[0]


def test_every_command_is_enumerated() -> None:
    names = {" ".join(p) for p, _ in COMMANDS}
    assert {"serve", "stats", "hits", "send", "user add", "mailbox check", "config"} <= names
    assert len(names) >= 25


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=" ".join)
def test_unknown_option(cli, path: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    _one_sentence(*cli(*path, "--no-such-option"))


@pytest.mark.parametrize("path", [p for p, c in COMMANDS if _required(c)], ids=" ".join)
def test_missing_argument(cli, path: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli(*path)
    _one_sentence(code, out, err)
    assert "Missing" in err


@pytest.mark.parametrize("path", [p for p, c in COMMANDS if _numeric(c)], ids=" ".join)
def test_bad_option_value(cli, path: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    cmd = dict(COMMANDS)[path]
    args: list[str] = []
    for p in cmd.params:  # fill what is required with plausible text, then break one number
        if p.required and not _is_argument(p) and p not in _numeric(cmd):
            args += [p.opts[0], "x@acme.test"]
    for p in cmd.params:
        if p.required and _is_argument(p) and p not in _numeric(cmd):
            args.append("x@acme.test")
    bad = _numeric(cmd)[0]
    if _is_argument(bad):
        args.append("not-a-number")
    else:
        args += [bad.opts[0], "not-a-number"]
    code, out, err = cli(*path, *args)
    _one_sentence(code, out, err)
    assert "not-a-number" in err or "Invalid value" in err


@pytest.mark.parametrize("group", [(), *GROUPS], ids=lambda g: " ".join(g) or "mailbeacon")
def test_unknown_command(cli, group: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli(*group, "no-such-command")
    _one_sentence(code, out, err)
    assert "No such command" in err


def test_hits_needs_a_message_and_takes_a_message_id(cli, sqlite_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from conftest import make_settings
    from mailbeacon.runtime import Runtime
    from seeding import seed_message

    code, out, err = cli("hits")
    _one_sentence(code, out, err)
    assert "--message" in err
    _one_sentence(*cli("hits", "--message", "<nobody@nowhere>"))
    rt = Runtime.open(make_settings(tmp_path, sqlite_url), migrate=False)
    s = seed_message(rt, ["bob@client.example"])
    rt.close()
    for given in (s.message.rfc_message_id, s.message.rfc_message_id.strip("<>"), str(s.message.id)):
        code, out, err = cli("hits", "--message", given, "--json")
        assert code == 0 and out.startswith("["), (given, err)


def test_real_entry_point_answers_in_one_sentence(tmp_path: Path) -> None:
    """The console script itself (not only `main()`): usage errors and expected errors."""
    exe = Path(sys.executable).with_name("mailbeacon")
    env = {**os.environ, "MAILBEACON_DATA_DIR": str(tmp_path / "data")}
    for args in (["hits"], ["hits", "--message", "<a@b>"], ["nosuch"], ["user", "add"], ["stats", "--limit", "x"]):
        r = subprocess.run([str(exe), *args], env=env, capture_output=True, text=True, check=False)
        lines = [x for x in r.stderr.splitlines() if x.strip() and not x.startswith("mailbeacon: created")]
        assert r.returncode != 0 and "Traceback" not in r.stderr and len(lines) == 1, (args, r.stderr)


@pytest.mark.parametrize(
    "args",
    [
        ("--database-url", "foo://x", "stats"),
        ("--database-url", "postgresql://nobody@127.0.0.1:1/x", "stats"),
        ("--database-url", "sqlite:////proc/no/such/dir/x.db", "user", "list"),
        ("--config", "/no/such/file.toml", "config"),
        ("--set", "settle_window=soon", "config"),
        ("--set", "no_such_setting=1", "config"),
        ("--set", "novalue", "config"),
        ("serve", "--http", "nonsense"),
        ("send", "/no/such/message.eml", "--from", "a@acme.test"),
        ("eval", "/"),
        ("mailbox", "check", "999"),
        ("stats", "--message", "999"),
        ("device", "list", "not-an-address"),
    ],
    ids=" ".join,
)
def test_bad_settings_and_values(cli, args: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    _one_sentence(*cli(*args))
