"""How the commands print: tables that fit 80 columns on a terminal, tab-separated lines when piped,
times in local time to the second with "3 min ago". JSON output (`--json`) keeps ISO 8601 UTC."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, tzinfo

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table


def parse_time(value: str | datetime | None) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def ago(seconds: float) -> str:
    """A rough age: 'just now', '3 min ago', '2 h ago', '5 days ago' (or 'in 3 min' for the future)."""
    future = seconds < 0
    s = abs(seconds)
    if s < 45:
        return "just now"
    if s < 3600:
        text = f"{round(s / 60)} min"
    elif s < 86400:
        text = f"{round(s / 3600)} h"
    else:
        days = round(s / 86400)
        text = f"{days} day" + ("s" if days != 1 else "")
    return f"in {text}" if future else f"{text} ago"


def when(value: str | datetime | None, now: datetime, *, tz: tzinfo | None = None, relative: bool = True) -> str:
    """Local time to the second, with how long ago when it is within a week: '2026-03-02 10:00:05 (3 min ago)'."""
    at = parse_time(value)
    if at is None:
        return ""
    local = at.astimezone(tz)
    text = local.strftime("%Y-%m-%d %H:%M:%S")
    age = (now - at).total_seconds()
    if relative and -86400 < age < 7 * 86400:
        text += f" ({ago(age)})"
    return text


def plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def switches_text(values: Mapping[str, object]) -> str:
    """{'track_opens': False} → 'opens off' (workspace and user tracking switches)."""
    parts = []
    for key, value in values.items():
        name = key.removeprefix("track_")
        parts.append(f"{name} {'on' if value else 'off'}" if isinstance(value, bool) else f"{name} {value}")
    return ", ".join(parts)


def print_rows(
    console: Console,
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    title: str | None = None,
    fold: Sequence[str] = (),
) -> None:
    """A table on a terminal (columns in `fold` wrap, so it fits 80 columns); tab-separated lines otherwise."""
    if not console.is_terminal:
        out = [title] if title else []
        out.append("\t".join(h.replace(" ", "_") for h in headers))
        out.extend("\t".join(cell.replace("\t", " ").replace("\n", " ") for cell in row) for row in rows)
        console.file.write("\n".join(out) + "\n")
        return
    table = Table(title=escape(title) if title else None, title_justify="left", expand=False, box=box.SIMPLE_HEAD)
    for h in headers:
        table.add_column(h, overflow="fold", no_wrap=h not in fold)
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    console.print(table)


def line(console: Console, text: str) -> None:
    """One line of text, never read as markup, wrapped on a terminal."""
    if console.is_terminal:
        console.print(escape(text), highlight=False)
    else:
        console.file.write(text + "\n")
