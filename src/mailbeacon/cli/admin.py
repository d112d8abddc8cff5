"""Administration: workspaces, users and their addresses, API tokens, paired devices, keys."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from ..addresses import normalise
from ..devices import PAIRING_CODE_LIFETIME, device_secret, new_pairing_code
from ..errors import InvalidInput
from ..passwords import hash_password, new_api_token, new_password
from ..web.tracking import DEVICE_COOKIE, DEVICE_COOKIE_PURPOSE
from .base import app, console, err, print_json, program, runtime
from .output import line, print_rows, switches_text, when

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
    ctx: typer.Context,
    name: str,
    domain: Annotated[
        list[str] | None, typer.Option("--domain", "-d", help="A domain of the team (repeatable).")
    ] = None,
) -> None:
    """Create a workspace."""
    rt = runtime(ctx)
    ws = rt.store.create_workspace(name, domain or [], rt.clock())
    console.print(f"Created workspace '{ws.name}' (domains: {', '.join(ws.domains) or 'none'}).")


@workspace_app.command("list")
def workspace_list(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List workspaces."""
    rt = runtime(ctx)
    rows: list[dict[str, Any]] = [
        {"id": w.id, "name": w.name, "domains": list(w.domains), "settings": dict(w.settings)}
        for w in rt.store.workspaces()
    ]
    if as_json:
        print_json(rows)
        return
    print_rows(
        console,
        ["id", "name", "domains", "tracking"],
        [
            [str(r["id"]), r["name"], ", ".join(r["domains"]) or "-", switches_text(r["settings"]) or "default"]
            for r in rows
        ],
        fold=("domains",),
    )


@workspace_app.command("set")
def workspace_set(
    ctx: typer.Context,
    name: str,
    domain: Annotated[list[str] | None, typer.Option("--domain", "-d", help="Replace the domains.")] = None,
    track_opens: Annotated[bool | None, typer.Option("--track-opens/--no-track-opens")] = None,
    track_clicks: Annotated[bool | None, typer.Option("--track-clicks/--no-track-clicks")] = None,
    track_replies: Annotated[bool | None, typer.Option("--track-replies/--no-track-replies")] = None,
) -> None:
    """Change a workspace's domains or tracking switches."""
    rt = runtime(ctx)
    ws = rt.store.workspace(name)
    settings = {**ws.settings, **_switches(track_opens, track_clicks, track_replies)}
    ws = rt.store.update_workspace(ws.id, domains=domain, settings=settings)
    line(
        console,
        f"Workspace '{ws.name}': domains {', '.join(ws.domains) or 'none'}; "
        f"tracking {switches_text(ws.settings) or 'as the server defaults'}.",
    )


# -- users ------------------------------------------------------------------------------------


@user_app.command("add")
def user_add(
    ctx: typer.Context,
    email: str,
    workspace: Annotated[str, typer.Option("--workspace", "-w", help="Workspace name.")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
    admin: Annotated[bool, typer.Option("--admin", help="Can see every message of the workspace.")] = False,
) -> None:
    """Create a user (a sender). Prints a generated password unless --password-stdin."""
    rt = runtime(ctx)
    address = normalise(email)
    ws = rt.store.workspace(workspace)
    pw, generated = _password(password_stdin)
    user = rt.store.create_user(ws.id, address, hash_password(pw), rt.clock(), is_admin=admin)
    console.print(f"Created user {user.email} in workspace '{ws.name}'.")
    if not ws.domains:
        line(
            err,
            f"Workspace '{ws.name}' has no domain, so replies from colleagues (R6) cannot be recognised: "
            f"`{program()} workspace set {ws.name} --domain {address.rpartition('@')[2]}` sets it.",
        )
    if generated:
        console.print(f"Password (shown once): {pw}", highlight=False)


@user_app.command("list")
def user_list(
    ctx: typer.Context,
    workspace: Annotated[str | None, typer.Option("--workspace", "-w")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List users and their addresses."""
    rt = runtime(ctx)
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
    names = {w.id: w.name for w in rt.store.workspaces()}
    print_rows(
        console,
        ["email", "workspace", "addresses", "admin", "tracking"],
        [
            [
                r["email"],
                names.get(r["workspace_id"], str(r["workspace_id"])),
                ", ".join(r["addresses"]),
                "yes" if r["admin"] else "no",
                switches_text(r["settings"]) or "default",
            ]
            for r in rows
        ],
        fold=("addresses", "tracking"),
    )


@user_app.command("add-address")
def user_add_address(ctx: typer.Context, email: str, address: str) -> None:
    """Give a user another sending address (an identity)."""
    rt = runtime(ctx)
    user = rt.store.user(normalise(email))
    rt.store.add_address(user.id, normalise(address))
    console.print(f"{normalise(address)} now belongs to {user.email}.")


@user_app.command("set-password")
def user_set_password(
    ctx: typer.Context,
    email: str,
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
) -> None:
    """Set a user's password (generated and printed unless --password-stdin)."""
    rt = runtime(ctx)
    user = rt.store.user(normalise(email))
    pw, generated = _password(password_stdin)
    rt.store.update_user(user.id, password_hash=hash_password(pw))
    console.print(f"Password of {user.email} changed." + (f" New password: {pw}" if generated else ""), highlight=False)


@user_app.command("set")
def user_set(
    ctx: typer.Context,
    email: str,
    track_opens: Annotated[bool | None, typer.Option("--track-opens/--no-track-opens")] = None,
    track_clicks: Annotated[bool | None, typer.Option("--track-clicks/--no-track-clicks")] = None,
    track_replies: Annotated[bool | None, typer.Option("--track-replies/--no-track-replies")] = None,
) -> None:
    """Change a user's tracking switches (a user can switch off what the workspace allows)."""
    rt = runtime(ctx)
    user = rt.store.user(normalise(email))
    settings = {**user.settings, **_switches(track_opens, track_clicks, track_replies)}
    rt.store.update_user(user.id, settings=settings)
    line(console, f"{user.email}: tracking {switches_text(settings) or 'as the workspace allows'}.")


# -- tokens, devices, keys --------------------------------------------------------------------


@token_app.command("add")
def token_add(
    ctx: typer.Context, email: str, name: Annotated[str, typer.Option(help="What the token is for.")] = "cli"
) -> None:
    """Create an API token for a user (printed once)."""
    rt = runtime(ctx)
    user = rt.store.user(normalise(email))
    token = new_api_token()
    key = rt.store.add_api_token(user.id, token, name, rt.clock())
    console.print(f"API token {key.id} for {user.email} (shown once): {token}", highlight=False)


@token_app.command("list")
def token_list(ctx: typer.Context, email: str) -> None:
    """List a user's API tokens (names and times; the tokens themselves are stored hashed)."""
    rt = runtime(ctx)
    user = rt.store.user(normalise(email))
    now = rt.clock()
    print_rows(
        console,
        ["id", "name", "created", "last used"],
        [[str(k.id), k.name, when(k.created_at, now), when(k.last_used_at, now)] for k in rt.store.api_tokens(user.id)],
        fold=("name",),
    )


@token_app.command("revoke")
def token_revoke(ctx: typer.Context, email: str, token_id: int) -> None:
    """Revoke one of a user's API tokens (by the id `token list` shows); refused from the next request."""
    rt = runtime(ctx)
    user = rt.store.user(normalise(email))
    rt.store.revoke_api_token(user.id, token_id)
    console.print(f"API token {token_id} of {user.email} revoked.")


@device_app.command("add")
def device_add(
    ctx: typer.Context,
    email: str,
    kind: Annotated[str, typer.Option(help="extension, dashboard or other")] = "other",
    name: Annotated[str, typer.Option()] = "",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Pair a device with a user by hand; prints its id, beacon secret and cookie."""
    rt = runtime(ctx)
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


@device_app.command("pair-code")
def device_pair_code(
    ctx: typer.Context,
    email: str,
    kind: Annotated[str, typer.Option(help="extension, dashboard or other")] = "extension",
    name: Annotated[str, typer.Option(help="The device's name (the device may send its own).")] = "",
) -> None:
    """Make a one-time pairing code (valid 10 minutes) to type into the browser extension."""
    rt = runtime(ctx)
    if kind not in ("extension", "dashboard", "other"):
        raise InvalidInput("kind must be extension, dashboard or other")
    user = rt.store.user(normalise(email))
    code = new_pairing_code()
    now = rt.clock()
    rt.store.add_pairing_code(user.id, code, kind, name or kind, now, now + PAIRING_CODE_LIFETIME)
    minutes = int(PAIRING_CODE_LIFETIME.total_seconds() // 60)
    console.print(
        f"One-time pairing code for {user.email}, valid {minutes} minutes, for the extension's options page: {code}",
        highlight=False,
    )


@device_app.command("list")
def device_list(ctx: typer.Context, email: str) -> None:
    """List a user's paired devices."""
    rt = runtime(ctx)
    user = rt.store.user(normalise(email))
    now = rt.clock()
    print_rows(
        console,
        ["device", "kind", "name", "paired", "last seen", "sites"],
        [
            [
                d.public_id,
                d.kind,
                d.name,
                when(d.created_at, now),
                when(d.last_seen_at, now),
                "not reported" if d.sites is None else ", ".join(d.sites) or "none",
            ]
            for d in rt.store.devices(user.id)
        ],
        fold=("name", "sites"),
    )


@device_app.command("revoke")
def device_revoke(ctx: typer.Context, device_id: str) -> None:
    """Unpair a device."""
    rt = runtime(ctx)
    rt.store.revoke_device(device_id, rt.clock())
    console.print(f"Device {device_id} revoked.")


@keys_app.command("rotate")
def keys_rotate(ctx: typer.Context) -> None:
    """Add a new signing key; it signs new tokens from the next start, old keys keep verifying."""
    rt = runtime(ctx)
    if rt.settings.secret_keys:
        raise InvalidInput("secret_keys is set in the configuration: add the new key there instead")
    kid = rt.add_signing_key()
    console.print(f"Added signing key {kid}. Restart `mailbeacon serve` to sign with it.")
