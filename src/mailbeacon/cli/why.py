"""`mailbeacon why MESSAGE [RECIPIENT]`: the troubleshooting answer, per recipient (R10)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from ..diagnose import Answer, Line, Status, diagnose
from ..model import Message
from ..runtime import Runtime
from .base import app, console, print_json, runtime
from .report import _find

_MARKS = {Status.OK: ("✓", "green"), Status.PROBLEM: ("✗", "red"), Status.UNKNOWN: ("?", "yellow")}
_PLAIN = {Status.OK: "[ok]", Status.PROBLEM: "[problem]", Status.UNKNOWN: "[unknown]"}


def answers(rt: Runtime, message: Message, recipient: str | None) -> list[Answer]:
    store = rt.store
    rcpts = [store.recipient_of(message.id, recipient)] if recipient else store.recipients(message.id)
    now = rt.clock()
    window = rt.settings.settle_window
    return [diagnose(store.why_facts(message, r, public_url=rt.public_url, settle_window=window), now) for r in rcpts]


@app.command()
def why(
    ctx: typer.Context,
    message: Annotated[str, typer.Argument(help="Message-ID or numeric id (see `stats`).")],
    recipient: Annotated[str | None, typer.Argument(help="One recipient's address; default: every one.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Why an email shows these numbers: the troubleshooting checklist for each recipient."""
    rt = runtime(ctx)
    (msg, *_) = _find(rt, message, 1)
    result = answers(rt, msg, recipient)
    if as_json:
        print_json([a.as_json() for a in result])
        return
    if not result:
        console.print(f"Message {msg.id} has no recipients.")
        return
    terminal = console.is_terminal
    for i, a in enumerate(result):
        if terminal:
            _rich(a, first=i == 0)
        else:
            console.file.write(_plain(a, first=i == 0))


def _title(a: Answer) -> str:
    return f"{a.recipient} - {a.subject or '(no subject)'} (message {a.message_id})"


def _rich(a: Answer, *, first: bool) -> None:
    if not first:
        console.print()
    console.print(Text(_title(a), style="bold"))
    console.print(Text(a.summary))
    for heading, lines in (("What explains it", a.notes), ("Checklist", a.checklist)):
        if not lines:
            continue
        console.print(Text(heading, style="bold underline"))
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True)
        grid.add_column(no_wrap=True, justify="right", style="dim")
        grid.add_column(ratio=1)
        for line in lines:
            mark, colour = _MARKS[line.status]
            body = Text(line.text)
            if line.todo:
                body.append("\n→ " + line.todo, style="italic")
            grid.add_row(Text(mark, style=f"bold {colour}"), f"{line.item}." if line.item else "", body)
        console.print(grid)


def _plain_line(line: Line) -> str:
    head = f"{_PLAIN[line.status]} " + (f"{line.item}. " if line.item else "")
    out = head + line.text + "\n"
    if line.todo:
        out += "    -> " + line.todo + "\n"
    return out


def _plain(a: Answer, *, first: bool) -> str:
    out = "" if first else "\n"
    out += _title(a) + "\n" + a.summary + "\n"
    for heading, lines in (("What explains it:", a.notes), ("Checklist:", a.checklist)):
        if lines:
            out += heading + "\n" + "".join(_plain_line(line) for line in lines)
    return out
