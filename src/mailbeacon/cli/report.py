"""`stats`, `hits`, `reclassify`: what happened to tracked messages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Column, Table

from ..errors import InvalidInput, NotFound
from ..reclassify import run_reclassify
from ..reports import hits_report, message_report
from .base import app, console, print_json, state


@app.command()
def stats(
    message: Annotated[str | None, typer.Option("--message", "-m", help="Message-ID (or numeric id).")] = None,
    limit: Annotated[int, typer.Option(help="How many recent messages.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Opens, clicks and replies per message and recipient (settled verdicts)."""
    rt = state.runtime()
    if message:
        if message.isdigit():
            msgs = [rt.store.message(int(message))]
        else:
            mid = message if message.startswith("<") else f"<{message}>"
            msgs = rt.store.messages(rfc_message_id=mid, limit=limit)
            if not msgs:
                raise NotFound(f"no tracked message with Message-ID {mid}")
    else:
        msgs = rt.store.messages(limit=limit)
    reports = [message_report(rt.store, m) for m in msgs]
    if as_json:
        print_json(reports)
        return
    if not reports:
        console.print("No tracked messages yet.")
        return
    for r in reports:
        console.print(f"[bold]{r['subject'] or '(no subject)'}[/bold]  {r['message_id']}  sent {r['sent_at']}")
        width = max((len(v["address"]) for v in r["recipients"]), default=9)
        table = Table(
            Column("recipient", no_wrap=True, min_width=width),
            "opens",
            "inferred",
            "machine",
            "self",
            "clicks",
            "scanner clicks",
            "replies",
            "first open",
        )
        for v in r["recipients"]:
            table.add_row(
                v["address"],
                str(v["opens"]),
                str(v["opens_inferred"]),
                str(v["opens_machine"]),
                str(v["opens_self"]),
                str(v["clicks"]),
                str(v["clicks_scanner"]),
                str(v["replies"]),
                v["first_open_at"] or "",
            )
        console.print(table)


@app.command()
def hits(
    message: Annotated[int, typer.Option("--message", "-m", help="Numeric message id (see `stats`).")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Every hit of a message with its verdict and reasons."""
    rt = state.runtime()
    rows = hits_report(rt.store, rt.store.message(message).id)
    if as_json:
        print_json(rows)
        return
    table = Table("at", "recipient", "kind", "verdict", "why")
    for h in rows:
        verdict = (h["verdict"] or "pending") + ("" if h["settled"] else " (provisional)")
        table.add_row(h["at"], h["recipient"] or "", h["kind"], verdict, "; ".join(r["text"] for r in h["reasons"]))
    console.print(table)


@app.command()
def reclassify(
    since: Annotated[str | None, typer.Option(help="Only hits at or after this time (ISO 8601).")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Re-run the current rules over stored raw hits and rebuild the counters."""
    when = None
    if since:
        try:
            when = datetime.fromisoformat(since.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput(f"--since '{since}' is not an ISO 8601 time such as 2026-03-01T00:00:00Z") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
    rt = state.runtime()
    result = run_reclassify(rt, when)
    if as_json:
        print_json(result)
    else:
        console.print(
            f"Reclassified {result.get('hits', 0)} hits ({result.get('changed', 0)} changed) "
            f"of {result.get('recipients', 0)} recipients; counters rebuilt."
        )
