"""`stats`, `hits`, `reclassify`: what happened to tracked messages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.padding import Padding

from ..errors import InvalidInput, NotFound
from ..model import Message
from ..pipeline import run_reclassify
from ..reports import hits_report, message_report
from ..runtime import Runtime
from .base import app, console, print_json, runtime
from .output import line, plural, print_rows, when


def _find(rt: Runtime, message: str, limit: int) -> list[Message]:
    """A numeric id (as `stats` shows it) or a Message-ID, with or without angle brackets."""
    if message.isdigit():
        return [rt.store.message(int(message))]
    mid = message.strip()
    mid = mid if mid.startswith("<") else f"<{mid}>"
    msgs = rt.store.messages(rfc_message_id=mid, limit=limit)
    if not msgs:
        raise NotFound(f"no tracked message with Message-ID {mid} (`mailbeacon stats` lists them)")
    return msgs


def _extras(v: dict[str, Any]) -> str:
    """What happened besides the counted numbers, in words (only what is not zero)."""
    hits = v["hits"]
    pending = sum((v.get("provisional_hits") or {}).values())
    parts = []
    if v["opens_inferred"]:
        parts.append("open inferred from a " + ("click" if v["inferred_from"] == "inferred_from_click" else "reply"))
    counted = [
        (v["opens_self"], "own open", None),
        (v["clicks_self"], "own click", None),
        (v["opens_machine"], "machine open", None),
        (v["clicks_scanner"], "scanner click", None),
        (hits["preview"], "link preview", None),
        (hits["unknown"], "unknown hit", None),
        (v["auto_replies"], "auto-reply", "auto-replies"),
        (v["bounces"], "bounce", None),
        (v["colleague_replies"], "colleague reply", "colleague replies"),
        (pending, "hit being checked", "hits being checked"),
    ]
    parts.extend(plural(n, one, many) for n, one, many in counted if n)
    return ", ".join(parts)


_PLAIN_COLUMNS = (
    ("opens", "opens"),
    ("opens_inferred", "inferred"),
    ("opens_self", "self_opens"),
    ("opens_machine", "machine_opens"),
    ("clicks", "clicks"),
    ("clicks_self", "self_clicks"),
    ("clicks_scanner", "scanner_clicks"),
    ("replies", "replies"),
    ("auto_replies", "auto_replies"),
    ("bounces", "bounces"),
    ("colleague_replies", "colleague_replies"),
)


@app.command()
def stats(
    ctx: typer.Context,
    message: Annotated[str | None, typer.Option("--message", "-m", help="Message-ID (or numeric id).")] = None,
    limit: Annotated[int, typer.Option(help="How many recent messages.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (times in ISO 8601 UTC).")] = False,
) -> None:
    """Opens, clicks and replies per message and recipient (settled verdicts; pending hits are said)."""
    rt = runtime(ctx)
    msgs = _find(rt, message, limit) if message else rt.store.messages(limit=limit)
    reports = [message_report(rt.store, m) for m in msgs]
    if as_json:
        print_json(reports)
        return
    if not reports:
        line(console, f"No tracked messages yet (database {rt.settings.effective_database_url}).")
        return
    now = rt.clock()
    settle = round(rt.settings.settle_window)
    for i, r in enumerate(reports):
        if i:
            line(console, "")
        _message_lines(r, now, settle)
        if console.is_terminal:
            print_rows(
                console,
                ["recipient", "opens", "clicks", "replies", "first open"],
                [
                    [v["address"], str(v["opens"]), str(v["clicks"]), str(v["replies"]), when(v["first_open_at"], now)]
                    for v in r["recipients"]
                ],
                fold=("recipient", "first open"),
            )
            for v in r["recipients"]:
                also = _extras(v)
                if also:
                    line(console, f"  {v['address']}: {also}")
            continue
        rows = [
            [
                v["address"],
                *(str(v[key]) for key, _ in _PLAIN_COLUMNS),
                str(v["hits"]["preview"]),
                str(v["hits"]["unknown"]),
                str(sum((v.get("provisional_hits") or {}).values())),
                when(v["first_open_at"], now, relative=False),
            ]
            for v in r["recipients"]
        ]
        headers = ["recipient", *(name for _, name in _PLAIN_COLUMNS), "previews", "unknown", "pending", "first_open"]
        print_rows(console, headers, rows)


def _message_lines(r: dict[str, Any], now: datetime, settle: int) -> None:
    line(console, f"{r['subject'] or '(no subject)'}")
    sent = r["delivery"]
    if sent["state"] == "not_sent":
        line(console, f"  id {r['id']}  {r['message_id']}  recorded {when(r['sent_at'], now)}")
        line(console, f"  NOT SENT{sent['text'].removeprefix('not sent')}")
    else:
        line(console, f"  id {r['id']}  {r['message_id']}  sent {when(r['sent_at'], now)}")
    if sent["state"] == "partly_sent":
        line(console, f"  {sent['text']}")
    if r["untracked"]:
        line(console, f"  {r['untracked']}")
    if r["clipped_by_gmail"]:
        line(
            console,
            f"  {r['html_bytes'] // 1024} KB of HTML: Gmail clips it at 102 KB and hides the rest behind "
            '"View entire message" (the pixel is at the top, so opens still count; links after the cut are hidden)',
        )
    for sentence in r["tracking_off"]:
        line(console, f"  {sentence}")
    if r["pending_hits"]:
        n = plural(r["pending_hits"], "hit", "hits")
        line(console, f"  {n} being checked: counted once settled (within {settle} s)")


@app.command()
def hits(
    ctx: typer.Context,
    message: Annotated[str, typer.Option("--message", "-m", help="Message-ID or numeric id (see `stats`).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (times in ISO 8601 UTC).")] = False,
) -> None:
    """Every hit of a message with its verdict and reasons."""
    rt = runtime(ctx)
    (msg, *_) = _find(rt, message, 1)
    rows = hits_report(rt.store, msg.id)
    if as_json:
        print_json(rows)
        return
    if not rows:
        line(console, f"No hits yet for message {msg.id} {msg.rfc_message_id}.")
        return
    now = rt.clock()
    table = []
    for h in rows:
        verdict = (h["verdict"] or "pending") + ("" if h["settled"] else " (being checked)")
        why = "; ".join(r["text"] for r in h["reasons"])
        table.append([when(h["at"], now, relative=console.is_terminal), h["recipient"] or "", h["kind"], verdict, why])
    if not console.is_terminal:
        print_rows(console, ["at", "recipient", "kind", "verdict", "why"], table)
        return
    for at, recipient, kind, verdict, why in table:  # one hit per block: its reasons get the width
        line(console, f"{at}  {kind}  {recipient}  {verdict}")
        if why:
            console.print(Padding(escape(why), (0, 0, 0, 4)), highlight=False)


@app.command()
def reclassify(
    ctx: typer.Context,
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
    rt = runtime(ctx)
    result = run_reclassify(rt, when)
    if as_json:
        print_json(result)
    else:
        console.print(
            f"Reclassified {result.get('hits', 0)} hits ({result.get('changed', 0)} changed) "
            f"of {result.get('recipients', 0)} recipients; counters rebuilt."
        )
