"""Administration: workspaces, users and their addresses, API tokens, paired devices, keys."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from rich.table import Table

from ..addresses import normalise
from ..devices import device_secret
from ..errors import InvalidInput
from ..passwords import hash_password, new_api_token, new_password
from ..tokens import generate_key
from ..web.tracking import DEVICE_COOKIE, DEVICE_COOKIE_PURPOSE
from .base import app, console, print_json, state

workspace_app = typer.Typer(help="Workspaces: a team, its domains and tracking switches.", no_args_is_help=True)
user_app = typer.Typer(help="Users: senders, their addresses and passwords.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
device_app = typer.Typer(help="Paired devices (their pixel loads are the sender's own).", no_args_is_help=True)
keys_app = typer.Typer(help="Token signing keys.", no_args_is_help=True)
app.add_typer(workspace_app, name="workspace")
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
app.add_typer(device_app, name="device")
app.add_typer(keys_app, name="keys")

TRACK_KEYS = ("track_opens", "track_clicks", "track_replies")


def _password(from_stdin: bool) -> tuple[str, bool]:
    """(password, generated?)"""
    if from_stdin:
        pw = sys.stdin.readline().rstrip("\r\n")
        if not pw:
            raise InvalidInput("no password on standard input")
        return pw, False
    return new_password(), True


def _switches(opens: bool | None, clicks: bool | None, replies: bool | None) -> dict[str, bool]:
    return {k: v for k, v in zip(TRACK_KEYS, (opens, clicks, replies), strict=True) if v is not None}


# -- workspaces -------------------------------------------------------------------------------


@workspace_app.command("add")
def workspace_add(
    name: str,
    domain: Annotated[
        list[str] | None, typer.Option("--domain", "-d", help="A domain of the team (repeatable).")
    ] = None,
) -> None:
    """Create a workspace."""
    rt = state.runtime()
    ws = rt.store.create_workspace(name, domain or [], rt.clock())
    console.print(f"Created workspace '{ws.name}' (domains: {', '.join(ws.domains) or 'none'}).")


@workspace_app.command("list")
def workspace_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List workspaces."""
    rt = state.runtime()
    rows: list[dict[str, Any]] = [
        {"id": w.id, "name": w.name, "domains": list(w.domains), "settings": dict(w.settings)}
        for w in rt.store.workspaces()
    ]
    if as_json:
        print_json(rows)
        return
    table = Table("id", "name", "domains", "settings")
    for r in rows:
        table.add_row(str(r["id"]), r["name"], ", ".join(r["domains"]), str(r["settings"] or ""))
    console.print(table)


@workspace_app.command("set")
def workspace_set(
    name: str,
    domain: Annotated[list[str] | None, typer.Option("--domain", "-d", help="Replace the domains.")] = None,
    track_opens: Annotated[bool | None, typer.Option("--track-opens/--no-track-opens")] = None,
    track_clicks: Annotated[bool | None, typer.Option("--track-clicks/--no-track-clicks")] = None,
    track_replies: Annotated[bool | None, typer.Option("--track-replies/--no-track-replies")] = None,
) -> None:
    """Change a workspace's domains or tracking switches."""
    rt = state.runtime()
    ws = rt.store.workspace(name)
    settings = {**ws.settings, **_switches(track_opens, track_clicks, track_replies)}
    ws = rt.store.update_workspace(ws.id, domains=domain, settings=settings)
    console.print(f"Workspace '{ws.name}': domains {', '.join(ws.domains) or 'none'}, settings {dict(ws.settings)}.")


# -- users ------------------------------------------------------------------------------------


@user_app.command("add")
def user_add(
    email: str,
    workspace: Annotated[str, typer.Option("--workspace", "-w", help="Workspace name.")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
    admin: Annotated[bool, typer.Option("--admin", help="Can see every message of the workspace.")] = False,
) -> None:
    """Create a user (a sender). Prints a generated password unless --password-stdin."""
    rt = state.runtime()
    address = normalise(email)
    ws = rt.store.workspace(workspace)
    pw, generated = _password(password_stdin)
    user = rt.store.create_user(ws.id, address, hash_password(pw), rt.clock(), is_admin=admin)
    console.print(f"Created user {user.email} in workspace '{ws.name}'.")
    if generated:
        console.print(f"Password (shown once): {pw}", highlight=False)


@user_app.command("list")
def user_list(
    workspace: Annotated[str | None, typer.Option("--workspace", "-w")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List users and their addresses."""
    rt = state.runtime()
    ws_id = rt.store.workspace(workspace).id if workspace else None
    rows: list[dict[str, Any]] = [
        {
            "email": u.email,
            "workspace_id": u.workspace_id,
            "addresses": list(u.addresses),
            "admin": u.is_admin,
            "settings": dict(u.settings),
        }
        for u in rt.store.users(ws_id)
    ]
    if as_json:
        print_json(rows)
        return
    table = Table("email", "workspace", "addresses", "admin", "settings")
    for r in rows:
        table.add_row(
            r["email"], str(r["workspace_id"]), ", ".join(r["addresses"]), str(r["admin"]), str(r["settings"] or "")
        )
    console.print(table)


@user_app.command("add-address")
def user_add_address(email: str, address: str) -> None:
    """Give a user another sending address (an identity)."""
    rt = state.runtime()
    user = rt.store.user(normalise(email))
    rt.store.add_address(user.id, normalise(address))
    console.print(f"{normalise(address)} now belongs to {user.email}.")


@user_app.command("set-password")
def user_set_password(
    email: str,
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
) -> None:
    """Set a user's password (generated and printed unless --password-stdin)."""
    rt = state.runtime()
    user = rt.store.user(normalise(email))
    pw, generated = _password(password_stdin)
    rt.store.update_user(user.id, password_hash=hash_password(pw))
    console.print(f"Password of {user.email} changed." + (f" New password: {pw}" if generated else ""), highlight=False)


@user_app.command("set")
def user_set(
    email: str,
    track_opens: Annotated[bool | None, typer.Option("--track-opens/--no-track-opens")] = None,
    track_clicks: Annotated[bool | None, typer.Option("--track-clicks/--no-track-clicks")] = None,
    track_replies: Annotated[bool | None, typer.Option("--track-replies/--no-track-replies")] = None,
) -> None:
    """Change a user's tracking switches (a user can switch off what the workspace allows)."""
    rt = state.runtime()
    user = rt.store.user(normalise(email))
    settings = {**user.settings, **_switches(track_opens, track_clicks, track_replies)}
    rt.store.update_user(user.id, settings=settings)
    console.print(f"{user.email}: {settings}")


# -- tokens, devices, keys --------------------------------------------------------------------


@token_app.command("add")
def token_add(email: str, name: Annotated[str, typer.Option(help="What the token is for.")] = "cli") -> None:
    """Create an API token for a user (printed once)."""
    rt = state.runtime()
    user = rt.store.user(normalise(email))
    token = new_api_token()
    rt.store.add_api_token(user.id, token, name, rt.clock())
    console.print(f"API token for {user.email} (shown once): {token}", highlight=False)


@device_app.command("add")
def device_add(
    email: str,
    kind: Annotated[str, typer.Option(help="extension, dashboard or other")] = "other",
    name: Annotated[str, typer.Option()] = "",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Pair a device with a user by hand; prints its id, beacon secret and cookie."""
    rt = state.runtime()
    if kind not in ("extension", "dashboard", "other"):
        raise InvalidInput("kind must be extension, dashboard or other")
    user = rt.store.user(normalise(email))
    dev = rt.store.add_device(user.id, kind, name or kind, rt.clock())
    out = {
        "device_id": dev.public_id,
        "secret": device_secret(rt.keyring, dev.public_id),
        "cookie": f"{DEVICE_COOKIE}={rt.keyring.sign_value(DEVICE_COOKIE_PURPOSE, dev.public_id)}",
    }
    if as_json:
        print_json(out)
    else:
        for k, v in out.items():
            console.print(f"{k}: {v}", highlight=False)


@device_app.command("list")
def device_list(email: str) -> None:
    """List a user's paired devices."""
    rt = state.runtime()
    user = rt.store.user(normalise(email))
    table = Table("device", "kind", "name", "paired", "last seen")
    for d in rt.store.devices(user.id):
        table.add_row(d.public_id, d.kind, d.name, d.created_at.isoformat(), str(d.last_seen_at or ""))
    console.print(table)


@device_app.command("revoke")
def device_revoke(device_id: str) -> None:
    """Unpair a device."""
    rt = state.runtime()
    rt.store.revoke_device(device_id, rt.clock())
    console.print(f"Device {device_id} revoked.")


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Add a new signing key; it signs new tokens from the next start, old keys keep verifying."""
    rt = state.runtime()
    if rt.settings.secret_keys:
        raise InvalidInput("secret_keys is set in the configuration: add the new key there instead")
    kid = rt.store.add_signing_key(generate_key(), rt.clock())
    console.print(f"Added signing key {kid}. Restart `mailbeacon serve` to sign with it.")
