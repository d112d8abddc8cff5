"""`mailbeacon provider ...`: the email providers whose bounces and complaints a workspace takes in."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from .. import provider_events
from ..replies.providers import PROVIDERS
from .base import app, console, print_json, runtime
from .output import print_rows

provider_app = typer.Typer(
    help="Email providers (Amazon SES, SendGrid, Mailgun, Postmark) whose bounces and complaints come in.",
    no_args_is_help=True,
)
app.add_typer(provider_app, name="provider")
Workspace = Annotated[str, typer.Option("--workspace", "-w", help="Workspace name.")]


def _secret(value: str | None) -> str | None:
    """A secret given as `-` is read from stdin (so that it is not in the process list)."""
    return sys.stdin.readline().strip() if value == "-" else value


@provider_app.command("set")
def provider_set(
    ctx: typer.Context,
    provider: Annotated[str, typer.Argument(help=f"One of {', '.join(PROVIDERS)}.")],
    workspace: Workspace,
    public_key: Annotated[
        str | None, typer.Option("--public-key", help="SendGrid: the signed event webhook's verification key.")
    ] = None,
    signing_key: Annotated[
        str | None, typer.Option("--signing-key", help="Mailgun: the HTTP webhook signing key ('-': from stdin).")
    ] = None,
    username: Annotated[str | None, typer.Option("--username", help="Postmark: the webhook URL's user.")] = None,
    password: Annotated[
        str | None, typer.Option("--password", help="Postmark: its password ('-': from stdin; default: made up).")
    ] = None,
    topic_arn: Annotated[
        list[str] | None, typer.Option("--topic-arn", help="Amazon SES: the SNS topic's ARN (repeatable).")
    ] = None,
    new_url: Annotated[bool, typer.Option("--new-url", help="Make a new webhook URL (the old one stops).")] = False,
) -> None:
    """Take in PROVIDER's bounces and complaints for a workspace; prints the webhook URL the first time."""
    rt = runtime(ctx)
    ws = rt.store.workspace(workspace)
    changes: dict[str, Any] = {
        "public_key": public_key,
        "signing_key": _secret(signing_key),
        "username": username,
        "password": _secret(password),
        "topic_arns": topic_arn,
    }
    done = provider_events.configure(rt, ws.id, provider, changes, new_url=new_url)
    console.print(f"{provider} is set for workspace '{ws.name}'.", highlight=False)
    if done.url:
        console.print("Its webhook URL (shown only now; `--new-url` makes another):", highlight=False)
        console.print(done.url, highlight=False, soft_wrap=True)


@provider_app.command("show")
def provider_show(
    ctx: typer.Context, workspace: Workspace, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """The workspace's providers and what is set for each (secrets only as set or not)."""
    rt = runtime(ctx)
    ws = rt.store.workspace(workspace)
    rows: list[dict[str, Any]] = [
        {
            "provider": h.provider,
            "settings": provider_events.shown(h.provider, cfg),
            "updated_at": h.updated_at.isoformat(),
        }
        for h, cfg in provider_events.configs(rt, ws.id)
    ]
    if as_json:
        print_json(rows)
        return
    print_rows(
        console,
        ["provider", "settings"],
        [[r["provider"], ", ".join(f"{k}: {v}" for k, v in r["settings"].items())] for r in rows],
        fold=("settings",),
    )


@provider_app.command("remove")
def provider_remove(ctx: typer.Context, provider: str, workspace: Workspace) -> None:
    """Stop taking PROVIDER's notifications for the workspace (its webhook URL stops working)."""
    rt = runtime(ctx)
    ws = rt.store.workspace(workspace)
    rt.store.remove_provider_hook(ws.id, provider)
    console.print(f"{provider} removed from workspace '{ws.name}'.", highlight=False)
