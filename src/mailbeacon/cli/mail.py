"""Outgoing mail from the command line: a user's own upstream server, and sending a message."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ..addresses import normalise
from ..config import mask
from ..errors import InvalidInput, MailbeaconError, UpstreamPermanent, UpstreamTemporary
from ..private_files import write_private
from ..runtime import Runtime
from .admin import user_app
from .base import app, console, print_json, runtime, warn_public_url
from .output import line, print_rows


@user_app.command("set-upstream")
def user_set_upstream(
    ctx: typer.Context,
    email: str,
    url: Annotated[str, typer.Argument(help="smtp://, smtp+starttls:// or smtps:// URL; '' for the server's.")],
) -> None:
    """Relay a user's mail through their own account at an SMTP server (stored encrypted)."""
    from ..smtp import Upstream

    rt = runtime(ctx)
    user = rt.store.user(normalise(email))
    if not url:
        rt.store.update_user(user.id, upstream_smtp="")
        console.print(f"{user.email} relays through the server's upstream_smtp again.")
        return
    Upstream.parse(url)  # a clear error now rather than at the first send
    rt.store.update_user(user.id, upstream_smtp=rt.credentials.encrypt(url))
    console.print(f"{user.email} now relays through {mask(url)}.", highlight=False)


@app.command("send")
def send(
    ctx: typer.Context,
    message: Annotated[Path, typer.Argument(help="The message (.eml, RFC 5322); '-' reads standard input.")],
    sender: Annotated[str, typer.Option("--from", help="One of your mailbeacon addresses.")],
    to: Annotated[
        list[str] | None, typer.Option("--to", help="Envelope recipient (repeatable). Default: To, Cc and Bcc.")
    ] = None,
    track: Annotated[str | None, typer.Option("--track", help="off, opens, clicks or all (this email only).")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Record and write the copies as files next to MESSAGE; send nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Instrument a message and send one copy per recipient through the upstream server."""
    from ..instrumentation import instrument
    from ..smtp import relay

    raw = sys.stdin.buffer.read() if str(message) == "-" else _read(message)
    rt = runtime(ctx)
    warn_public_url(rt.public_url)
    result = instrument(rt, raw, sender=sender, recipients=to or None, track=track, source="cli")
    outcome: dict[str, tuple[int, str]] = {}
    if dry_run:
        stem = "stdin" if str(message) == "-" else message.stem
        folder = Path(".") if str(message) == "-" else message.parent
        for copy in result.copies:
            path = folder / f"{stem}.{copy.recipient_id}.eml"
            write_private(path, copy.data)  # each copy carries its recipient's tracking tokens
            outcome[copy.address] = (0, f"written to {path} (not sent)")
        _record(rt, result.message_id, {"dry_run": True, "delivered": [], "failed": {}})
    else:
        try:
            outcome = asyncio.run(relay(rt, result))
        except MailbeaconError as exc:
            not_sent = {c.address: f"{exc}"[:300] for c in result.copies}
            _record(rt, result.message_id, {"delivered": [], "failed": not_sent})
            raise
        _record(
            rt,
            result.message_id,
            {
                "delivered": sorted(a for a, (code, _) in outcome.items() if 200 <= code < 300),
                "failed": {a: f"{code} {text}"[:300] for a, (code, text) in outcome.items() if not 200 <= code < 300},
            },
        )
    rows: list[dict[str, Any]] = [
        {
            "address": c.address,
            "field": c.field.value,
            "relation": c.relation.value,
            "code": outcome[c.address][0],
            "reply": outcome[c.address][1],
        }
        for c in result.copies
    ]
    if as_json:
        print_json(
            {
                "message_id": result.message_id,
                "rfc_message_id": result.rfc_message_id,
                "sent": not dry_run,
                "tracking": {"opens": result.tracking.opens, "clicks": result.tracking.clicks},
                "instrumented": result.instrumented,
                "failure": result.failure,
                "notes": list(result.notes),
                "links": len(result.links),
                "recipients": rows,
            }
        )
    else:
        what = "instrumented" if result.instrumented else f"untouched ({result.failure or ', '.join(result.notes)})"
        verb = "written, not sent (dry run)" if dry_run else "sent"
        line(
            console,
            f"Message {result.message_id} {result.rfc_message_id} {what}, {verb}; {len(result.links)} tracked link(s).",
        )
        print_rows(
            console,
            ["recipient", "field", "relation", "upstream reply"],
            [[r["address"], r["field"], r["relation"], f"{r['code'] or ''} {r['reply']}".strip()] for r in rows],
            fold=("upstream reply",),
        )
    failed = {a: ct for a, ct in outcome.items() if ct[0] >= 300}
    if failed:
        address, (code, text) = next(iter(failed.items()))
        error = UpstreamTemporary if code < 500 else UpstreamPermanent
        raise error(f"not delivered to {len(failed)} recipient(s), e.g. {address}: {code} {text}", code)


def _record(rt: Runtime, message_id: int, relay: dict[str, Any]) -> None:
    """Remember whether the message went out, so that `stats` does not list it as sent when it was not."""
    if not message_id:
        return
    outcome = dict(rt.store.message(message_id).outcome)
    outcome["relay"] = relay
    rt.store.update_message_outcome(message_id, outcome)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
