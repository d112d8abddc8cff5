"""`serve`, `migrate`, `config`: running mailbeacon and seeing how it is set up."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import fields
from typing import Annotated, Any

import typer
from rich.table import Table

from ..config import Settings, mask, settings_table
from ..passwords import hash_password, new_api_token, new_password
from ..runtime import Runtime
from ..service import Service
from ..store.migrate import head
from .base import app, console, print_json, state

BOOTSTRAP_WORKSPACE = "default"
BOOTSTRAP_ADMIN = "admin@mailbeacon.local"


def bootstrap(rt: Runtime) -> dict[str, str] | None:
    """On an empty database: a workspace, an admin user and an API token. None if not empty."""
    if not rt.store.is_empty():
        return None
    now = rt.clock()
    ws = rt.store.create_workspace(BOOTSTRAP_WORKSPACE, [], now)
    password = new_password()
    user = rt.store.create_user(ws.id, BOOTSTRAP_ADMIN, hash_password(password), now, is_admin=True)
    token = new_api_token()
    rt.store.add_api_token(user.id, token, "bootstrap", now)
    return {"workspace": ws.name, "email": user.email, "password": password, "token": token}


def _welcome(rt: Runtime, created: dict[str, str]) -> None:
    s = rt.settings
    smtp = s.smtp if s.smtp not in ("", "off") else "off"
    console.print(
        "\n[bold]mailbeacon is set up.[/bold] This is shown once; keep it somewhere safe.\n"
        f"  workspace     {created['workspace']}\n"
        f"  admin user    {created['email']}\n"
        f"  password      {created['password']}\n"
        f"  API token     {created['token']}\n\n"
        f"  HTTP          http://{s.http}   (tracking links use {rt.public_url})\n"
        f"  SMTP proxy    {smtp}   (AUTH PLAIN/LOGIN with a user's email and password)\n"
        f"  upstream SMTP {mask(s.upstream_smtp)}\n\n"
        "Next: add your sender with `mailbeacon user add you@yourdomain --workspace default`,\n"
        "point your mail client's outgoing server at the SMTP proxy, and set upstream_smtp.\n",
        highlight=False,
        soft_wrap=True,
    )


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when available (about twice the requests per second on the hot path)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux and macOS
        return None
    return uvloop.new_event_loop


@app.command()
def serve(
    http: Annotated[str | None, typer.Option(help="host:port for HTTP (tracking and API).")] = None,
    smtp: Annotated[str | None, typer.Option(help="host:port for the SMTP proxy, or 'off'.")] = None,
    public_url: Annotated[str | None, typer.Option(help="Base URL written into tracking links.")] = None,
    upstream_smtp: Annotated[str | None, typer.Option(help="Upstream SMTP URL the proxy relays to.")] = None,
    http_server: Annotated[str | None, typer.Option(help="granian or uvicorn.")] = None,
) -> None:
    """Run everything: tracking endpoints, API, SMTP proxy, mailbox watchers, pipeline."""
    flags = {"http": http, "smtp": smtp, "public_url": public_url, "upstream_smtp": upstream_smtp}
    flags["http_server"] = http_server
    rt = state.runtime({k: v for k, v in flags.items() if v is not None})
    logging.basicConfig(level=rt.settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if rt.settings.log_level != "debug":  # aiosmtpd logs every SMTP command at INFO
        logging.getLogger("mail.log").setLevel(logging.WARNING)
    created = bootstrap(rt)
    if created:
        _welcome(rt, created)
    else:
        console.print(f"mailbeacon serving HTTP on {rt.settings.http}, SMTP proxy on {rt.settings.smtp}")
    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(Service(rt).run_until_signalled())
    finally:
        rt.close()


@app.command()
def migrate() -> None:
    """Bring the database schema up to date (serve does this on start too)."""
    settings = state.settings()
    from ..store import open_store

    store = open_store(settings.database_url)
    try:
        applied = store.migrate()
    finally:
        store.close()
    if applied:
        console.print(f"Applied migrations: {', '.join(applied)}. Schema is at {head()}.")
    else:
        console.print(f"Schema is up to date ({head()}).")


def _shown(settings: Settings, name: str) -> Any:
    info = {i.name: i for i in settings_table()}[name]
    value = getattr(settings, name)
    if info.secret:
        return mask(value)
    if isinstance(value, tuple):
        return ",".join(value)
    return value


@app.command()
def config(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Print the effective settings (secrets masked)."""
    settings = state.settings()
    names = [f.name for f in fields(Settings)]
    values = {n: _shown(settings, n) for n in names}
    values["public_url"] = values["public_url"] or f"{settings.effective_public_url} (derived from http)"
    values["data_dir"] = values["data_dir"] or f"{settings.effective_data_dir} (derived)"
    if as_json:
        print_json(values)
        return
    table = Table("setting", "value", "env variable")
    for n in names:
        table.add_row(n, str(values[n]), "MAILBEACON_" + n.upper())
    console.print(table)
