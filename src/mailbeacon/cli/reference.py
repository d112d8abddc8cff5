"""The command reference table for docs/cli.md, generated from the Typer app (a test keeps it current)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import typer

from .base import app


def _walk(command: Any, path: list[str]) -> Iterator[tuple[list[str], Any]]:
    subs = getattr(command, "commands", None)
    if subs:
        for name, sub in sorted(subs.items()):
            yield from _walk(sub, [*path, name])
    else:
        yield path, command


def commands_markdown() -> str:
    lines = ["| command | options | what it does |", "|---|---|---|"]
    for path, cmd in _walk(typer.main.get_command(app), []):
        params = [p for p in cmd.params if p.name != "help"]
        args = [p.name.upper() for p in params if type(p).__name__.endswith("Argument")]
        opts = sorted(
            o for p in params if not type(p).__name__.endswith("Argument") for o in p.opts if o.startswith("--")
        )
        usage = " ".join(["mailbeacon", *path, *args])
        first = (cmd.help or "").strip().splitlines()[0].replace("|", "\\|")
        lines.append(f"| `{usage}` | {' '.join(f'`{o}`' for o in opts)} | {first} |")
    return "\n".join(lines) + "\n"
