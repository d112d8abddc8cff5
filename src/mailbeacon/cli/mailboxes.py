"""`mailbeacon mailbox ...`: the IMAP mailboxes watched for replies, and their health."""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime
from typing import Annotated, Any

import typer

from ..errors import InvalidInput
from ..imap import check_mailbox, parse_url
from ..pipeline import Pipeline
from .base import app, console, print_json, runtime
from .output import print_rows, when

mailbox_app = typer.Typer(help="IMAP mailboxes watched for replies, auto-replies and bounces.", no_args_is_help=True)
app.add_typer(mailbox_app, name="mailbox")


def _when(dt: datetime | None) -> str:
    return dt.isoformat(timespec="seconds").replace("+00:00", "Z") if dt else "-"


def _read_password(url_password: str, from_stdin: bool) -> str:
    if url_password:
        return url_password
    if from_stdin or not sys.stdin.isatty():
        pw = sys.stdin.readline().rstrip("\r\n")
    else:
        pw = typer.prompt("IMAP password", hide_input=True)
    if not pw:
        raise InvalidInput("no IMAP password given (type it at the prompt or pipe it to --password-stdin)")
    return pw


@mailbox_app.command("add")
def mailbox_add(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The mailbeacon user whose mailbox it is.")],
    imap: Annotated[
        str, typer.Option("--imap", help="imaps://user@host:993, imap://user@host:143 (STARTTLS if offered).")
    ],
    folder: Annotated[
        list[str] | None, typer.Option("--folder", "-f", help="A folder to watch (repeatable; default INBOX).")
    ] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
) -> None:
    """Watch a mailbox of USER for replies (the password is stored encrypted)."""
    rt = runtime(ctx)
    user = rt.store.user(email.strip().lower())
    url = parse_url(imap)
    password = _read_password(url.password, password_stdin)
    box = rt.store.add_mailbox(user.id, url.display, rt.credentials.encrypt(password), folder or ["INBOX"], rt.clock())
    console.print(
        f"Watching mailbox {box.id}: {box.url} ({', '.join(box.folders)}) for {user.email}. "
        "`mailbeacon serve` picks it up within one poll interval; `mailbeacon mailbox check "
        f"{box.id}` tries it now."
    )


@mailbox_app.command("list")
def mailbox_list(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Mailboxes with their state, last successful check, last error and last message seen."""
    rt = runtime(ctx)
    emails = {u.id: u.email for u in rt.store.users()}
    rows: list[dict[str, Any]] = [
        {
            "id": b.id,
            "user": emails.get(b.user_id, str(b.user_id)),
            "url": b.url,
            "folders": list(b.folders),
            "state": b.state,
            "last_ok_at": _when(b.last_ok_at),
            "last_seen_at": _when(b.last_seen_at),
            "last_error": b.last_error,
        }
        for b in rt.store.mailboxes()
    ]
    if as_json:
        print_json(rows)
        return
    now = rt.clock()
    boxes = {b.id: b for b in rt.store.mailboxes()}
    print_rows(
        console,
        ["id", "user", "mailbox", "folders", "state", "last ok", "last seen", "last error"],
        [
            [
                str(r["id"]),
                r["user"],
                r["url"],
                ", ".join(r["folders"]),
                r["state"],
                when(boxes[r["id"]].last_ok_at, now) or "-",
                when(boxes[r["id"]].last_seen_at, now) or "-",
                r["last_error"] or "",
            ]
            for r in rows
        ],
        fold=("mailbox", "last error"),
    )


@mailbox_app.command("check")
def mailbox_check(ctx: typer.Context, mailbox_id: int) -> None:
    """Connect once now and handle everything new (also shows whether the login works)."""
    rt = runtime(ctx)
    result = asyncio.run(check_mailbox(Pipeline(rt), mailbox_id))
    console.print(
        f"Mailbox {mailbox_id}: {result.messages} new message(s), {result.fetched} read in full, "
        f"{result.recorded} recorded ({', '.join(f'{k}: {v}' for k, v in result.folders.items()) or 'no folders'})."
    )


@mailbox_app.command("remove")
def mailbox_remove(ctx: typer.Context, mailbox_id: int) -> None:
    """Stop watching a mailbox (recorded replies stay)."""
    rt = runtime(ctx)
    rt.store.remove_mailbox(mailbox_id)
    console.print(f"Mailbox {mailbox_id} removed.")
