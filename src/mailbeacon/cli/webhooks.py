"""`mailbeacon webhook ...`: a workspace's webhook endpoints, a test event, the delivery log."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer

from ..errors import InvalidInput
from ..model import EventKind
from ..runtime import Runtime
from ..store.deliveries import Delivery
from ..webhooks.sender import new_secret
from ..webhooks.targets import check_url
from ..webhooks.worker import WebhookWorker, sample_event
from .base import app, console, print_json, runtime
from .output import print_rows, when

webhook_app = typer.Typer(help="Webhook endpoints: events sent to your programs, signed.", no_args_is_help=True)
app.add_typer(webhook_app, name="webhook")

KINDS = ", ".join(k.value for k in EventKind)


def _kinds(given: list[str] | None) -> list[str]:
    out = []
    for k in given or []:
        if k not in {e.value for e in EventKind}:
            raise InvalidInput(f"'{k}' is not an event type: use one of {KINDS}")
        out.append(k)
    return out


def _iso(dt: Any) -> str | None:
    return dt.isoformat(timespec="seconds").replace("+00:00", "Z") if dt else None


@webhook_app.command("add")
def webhook_add(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="The receiver: an http(s) URL on a public address.")],
    workspace: Annotated[str, typer.Option("--workspace", "-w", help="Workspace name.")] = "default",
    event: Annotated[
        list[str] | None,
        typer.Option("--event", "-e", help=f"An event type to send (repeatable; default all): {KINDS}."),
    ] = None,
    description: Annotated[str, typer.Option("--description", "-d", help="What it is for.")] = "",
) -> None:
    """Send WORKSPACE's events to URL; prints the signing secret, once."""
    rt = runtime(ctx)
    ws = rt.store.workspace(workspace)
    secret = new_secret()
    hook = rt.store.add_webhook(
        ws.id, check_url(url), _kinds(event), rt.credentials.encrypt(secret), description[:200], rt.clock()
    )
    console.print(
        f"Webhook {hook.id} sends {', '.join(hook.kinds) or 'every event'} of workspace '{ws.name}' to {hook.url}.\n"
        f"Signing secret (shown only now): {secret}\n"
        f"`mailbeacon webhook test {hook.id}` sends a test event now.",
        highlight=False,
        soft_wrap=True,
    )


@webhook_app.command("list")
def webhook_list(
    ctx: typer.Context,
    workspace: Annotated[str | None, typer.Option("--workspace", "-w", help="Only this workspace's.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Webhook endpoints: their events, whether enabled (and why not), since when they fail."""
    rt = runtime(ctx)
    names = {w.id: w.name for w in rt.store.workspaces()}
    hooks = rt.store.webhooks(rt.store.workspace(workspace).id if workspace else None)
    if as_json:
        print_json(
            [
                {
                    "id": h.id,
                    "workspace": names.get(h.workspace_id, str(h.workspace_id)),
                    "url": h.url,
                    "events": list(h.kinds),
                    "description": h.description,
                    "enabled": h.enabled,
                    "disabled_reason": h.disabled_reason,
                    "failing_since": _iso(h.failing_since),
                }
                for h in hooks
            ]
        )
        return
    now = rt.clock()
    print_rows(
        console,
        ["id", "workspace", "url", "events", "state", "failing since"],
        [
            [
                str(h.id),
                names.get(h.workspace_id, str(h.workspace_id)),
                h.url,
                ", ".join(h.kinds) or "all",
                "enabled" if h.enabled else f"disabled: {h.disabled_reason or 'by an admin'}",
                when(h.failing_since, now) or "-",
            ]
            for h in hooks
        ],
        fold=("url", "state"),
    )


@webhook_app.command("remove")
def webhook_remove(ctx: typer.Context, webhook_id: int) -> None:
    """Remove a webhook endpoint and its delivery log."""
    rt = runtime(ctx)
    rt.store.remove_webhook(webhook_id)
    console.print(f"Webhook {webhook_id} removed.")


async def _send_test(rt: Runtime, webhook_id: int) -> Delivery:
    msg_id, body = sample_event(webhook_id, rt.clock())
    delivery = rt.store.add_test_delivery(rt.store.webhook(webhook_id).id, msg_id, body, rt.clock())
    worker = WebhookWorker(rt)
    try:
        return await worker.send_now(delivery.id)
    finally:
        await worker.sender.close()


@webhook_app.command("test")
def webhook_test(ctx: typer.Context, webhook_id: int) -> None:
    """Send a test event to a webhook endpoint now, from here, and say what it answered."""
    rt = runtime(ctx)
    d = asyncio.run(_send_test(rt, webhook_id))
    if d.state == "delivered":
        console.print(f"Webhook {webhook_id}: the test event {d.msg_id} was delivered ({d.last_status}).")
        return
    raise InvalidInput(f"webhook {webhook_id}: the test event was not delivered: {d.last_error}")


@webhook_app.command("deliveries")
def webhook_deliveries(
    ctx: typer.Context,
    webhook_id: int,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many, newest first.")] = 20,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The delivery log of a webhook endpoint: each event, its attempts, the last answer or error."""
    rt = runtime(ctx)
    found = rt.store.deliveries(rt.store.webhook(webhook_id).id, limit=max(1, min(limit, 1000)))
    if as_json:
        print_json(
            [
                {
                    "id": d.id,
                    "msg_id": d.msg_id,
                    "type": d.kind,
                    "state": d.state,
                    "attempts": d.attempts,
                    "last_status": d.last_status,
                    "last_error": d.last_error,
                    "next_attempt_at": _iso(d.next_attempt_at) if d.state == "pending" else None,
                    "created_at": _iso(d.created_at),
                }
                for d in found
            ]
        )
        return
    now = rt.clock()
    print_rows(
        console,
        ["id", "webhook-id", "type", "state", "attempts", "last answer", "next try"],
        [
            [
                str(d.id),
                d.msg_id,
                d.kind,
                d.state,
                str(d.attempts),
                d.last_error or (str(d.last_status) if d.last_status else "-"),
                (when(d.next_attempt_at, now) or "-") if d.state == "pending" else "-",
            ]
            for d in found
        ],
        fold=("last answer",),
    )
