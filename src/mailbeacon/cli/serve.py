"""`serve`, `migrate`, `config`: running mailbeacon and seeing how it is set up."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import fields
from typing import Annotated, Any

import typer
from rich.table import Table

from ..config import Settings, default_config_file, mask
from ..errors import StoreUnavailable
from ..passwords import hash_password, new_api_token, new_password
from ..reachability import public_url_warning
from ..runtime import Runtime
from ..service import Service, ensure_ports
from ..store.migrate import head
from .base import app, console, err, invocation, print_json, program, runtime, settings
from .output import line

log = logging.getLogger("mailbeacon")
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
    prog = program()
    line(
        console,
        "\nmailbeacon is set up. This is shown once; keep it somewhere safe.\n"
        f"  workspace     {created['workspace']}\n"
        f"  admin user    {created['email']}\n"
        f"  password      {created['password']}\n"
        f"  API token     {created['token']}\n\n"
        f"  data          {s.effective_data_dir}  (database {s.effective_database_url})\n"
        f"  HTTP          http://{s.http}   (tracking links use {rt.public_url})\n"
        f"  API docs      {rt.public_url}/api/v1/docs\n"
        f"  dashboard     {rt.public_url}/signin   (the admin user's email and password)\n"
        f"  SMTP proxy    {smtp}   (AUTH PLAIN/LOGIN with a user's email and password)\n"
        f"  upstream SMTP {mask(s.upstream_smtp)}\n\n"
        f"Next: add your sender with `{prog} user add you@yourdomain --workspace {created['workspace']}`\n"
        "and point your mail client's outgoing server at the SMTP proxy.\n"
        f"The workspace has no domain yet, so replies from colleagues (R6) cannot be recognised: set it with\n"
        f"  {prog} workspace set {created['workspace']} --domain yourdomain.com\n",
    )


def _hints(rt: Runtime) -> None:
    """What still stops mail from going out or being counted right; said at every start."""
    prog = program()
    if not rt.settings.upstream_smtp:
        config_file = default_config_file()
        line(
            console,
            "upstream_smtp is not set: the proxy relays only for users with their own upstream. Set it with one of\n"
            f"  {prog} user set-upstream you@yourdomain smtp+starttls://you:PASSWORD@smtp.yourdomain:587\n"
            "  MAILBEACON_UPSTREAM_SMTP=smtp+starttls://user:PASSWORD@smtp.example.com:587 make run\n"
            f'  upstream_smtp = "smtp+starttls://user:PASSWORD@smtp.example.com:587" in {config_file}\n'
            '  make run ARGS="--set upstream_smtp=smtp+starttls://user:PASSWORD@smtp.example.com:587"',
        )
    warning = public_url_warning(rt.public_url)
    if warning and rt.settings.smtp in ("", "off"):  # else the SMTP proxy's log says it
        log.warning("%s", warning)


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when available (about twice the requests per second on the hot path)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux and macOS
        return None
    return uvloop.new_event_loop


@app.command()
def serve(
    ctx: typer.Context,
    http: Annotated[str | None, typer.Option(help="host:port for HTTP (tracking and API).")] = None,
    smtp: Annotated[str | None, typer.Option(help="host:port for the SMTP proxy, or 'off'.")] = None,
    public_url: Annotated[str | None, typer.Option(help="Base URL written into tracking links.")] = None,
    upstream_smtp: Annotated[str | None, typer.Option(help="Upstream SMTP URL the proxy relays to.")] = None,
    http_server: Annotated[str | None, typer.Option(help="granian or uvicorn.")] = None,
) -> None:
    """Run everything: tracking endpoints, API, SMTP proxy, mailbox watchers, pipeline."""
    flags = {"http": http, "smtp": smtp, "public_url": public_url, "upstream_smtp": upstream_smtp}
    flags["http_server"] = http_server
    overrides = {k: v for k, v in flags.items() if v is not None}
    ensure_ports(invocation(ctx).settings(**overrides))  # before a database is made or the welcome shown
    rt = runtime(ctx, overrides, node=True)
    logging.basicConfig(level=rt.settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if rt.settings.log_level != "debug":  # aiosmtpd logs every SMTP command at INFO
        logging.getLogger("mail.log").setLevel(logging.WARNING)
    try:
        created = bootstrap(rt)
    except StoreUnavailable as exc:
        created = None
        console.print(f"[yellow]{exc}[/yellow]: tracking links answer from this node's copies meanwhile")
    if created:
        _welcome(rt, created)
    else:
        line(
            console,
            f"mailbeacon serving HTTP on {rt.settings.http}, SMTP proxy on {rt.settings.smtp}\n"
            f"  API docs {rt.public_url}/api/v1/docs, dashboard sign-in {rt.public_url}/signin",
        )
    _hints(rt)
    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(Service(rt).run_until_signalled())
    finally:
        rt.close()


@app.command()
def migrate(ctx: typer.Context) -> None:
    """Bring the database schema up to date (serve does this on start too)."""
    from ..store import open_store

    url = settings(ctx).effective_database_url
    store = open_store(url)
    try:
        if store.revision() is None:
            err.print(f"mailbeacon: creating a new database at {url}.", highlight=False, soft_wrap=True)
        applied = store.migrate()
    finally:
        store.close()
    if applied:
        console.print(f"Applied migrations: {', '.join(applied)}. Schema is at {head()}.")
    else:
        console.print(f"Schema is up to date ({head()}).")


def _shown(current: Settings, name: str) -> Any:
    value = current.shown(name)  # secrets masked
    if isinstance(value, tuple):
        return ",".join(value)
    return value


@app.command()
def config(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Print the effective settings (secrets masked)."""
    effective = settings(ctx)
    names = [f.name for f in fields(Settings)]
    values = {n: _shown(effective, n) for n in names}
    values["public_url"] = values["public_url"] or f"{effective.effective_public_url} (derived from http)"
    values["data_dir"] = values["data_dir"] or f"{effective.effective_data_dir} (derived)"
    values["database_url"] = values["database_url"] or f"{effective.effective_database_url} (derived from data_dir)"
    if as_json:
        print_json(values)
        return
    table = Table("setting", "value", "env variable")
    for n in names:
        table.add_row(n, str(values[n]), "MAILBEACON_" + n.upper())
    console.print(table)
