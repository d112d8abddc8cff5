"""The settings page (`/app/settings`): tracking switches (R8), the workspace and its members,
paired devices, watched mailboxes and API keys, one section each.

It reads through the REST API's context (`Ctx`: the signed-in person's scoped view), so that it
sees exactly what `/api/v1` shows them; the changes are in settings_forms.py. An admin sees the
workspace's switches, domains and members with their controls; a member sees them without.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ...model import ApiKey, Device, User, Workspace
from ...store.mailboxes import Mailbox
from ..rest.deps import Ctx, context
from .render import page, principal_of, runtime_of, signed_in

KINDS = ("opens", "clicks", "replies")
#: the event types a webhook can receive, as the page names them
EVENT_WORDS = {
    "open": "Opens",
    "click": "Clicks",
    "reply": "Replies",
    "auto_reply": "Auto-replies",
    "bounce": "Bounces",
    "open_inferred": "Inferred opens",
}
NOUNS = {"opens": "Opens", "clicks": "Clicks", "replies": "Replies"}


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a change says on the page: a sentence, and what to show once (a new key, a pairing code)."""

    notice: str
    shown: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Switch:
    """One R8 switch as the page shows it."""

    kind: str
    noun: str
    server: bool  # the server default
    workspace: bool | None  # None: the server default applies
    user: bool | None  # None: the workspace decides

    @property
    def workspace_on(self) -> bool:
        return self.server if self.workspace is None else self.workspace

    @property
    def effective(self) -> bool:
        return self.workspace_on and self.user is not False


def switches(server: dict[str, bool], workspace: Workspace, user: User) -> list[Switch]:
    def flag(settings: Any, kind: str) -> bool | None:
        value = settings.get(f"track_{kind}")
        return value if isinstance(value, bool) else None

    return [Switch(k, NOUNS[k], server[k], flag(workspace.settings, k), flag(user.settings, k)) for k in KINDS]


BROWSERS = (("Edg/", "Edge"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"), ("Safari/", "Safari"))
SYSTEMS = (("Android", "Android"), ("iPhone", "iPhone"), ("iPad", "iPad"), ("Windows", "Windows"),
           ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"), ("Linux", "Linux"))  # fmt: skip


def device_name(d: Device) -> str:
    """A dashboard sign-in is named by its browser's user agent: say it as "Chrome on Linux"."""
    if d.kind != "dashboard" or "/" not in d.name:
        return d.name
    browser = next((name for token, name in BROWSERS if token in d.name), "A browser")
    system = next((name for token, name in SYSTEMS if token in d.name), "")
    return f"{browser} on {system}" if system else browser


def _load(ctx: Ctx, server: dict[str, bool]) -> dict[str, Any]:
    me = ctx.view.member(ctx.principal.user.id)
    ws = ctx.view.workspace()
    devices: list[Device] = ctx.view.devices(me.id)
    keys: list[ApiKey] = ctx.view.api_keys(me.id)
    boxes: list[Mailbox] = ctx.view.mailboxes()
    members = ctx.view.members() if ctx.principal.is_admin else []
    owners = {u.id: u.email for u in members} or {me.id: me.email}
    return {
        "workspace": ws,
        "tracking_url": ws.settings.get("tracking_url", ""),
        "switches": switches(server, ws, me),
        "members": members,
        "admins": sum(1 for u in members if u.is_admin),
        "devices": [d for d in devices if d.revoked_at is None],
        "device_names": {d.public_id: device_name(d) for d in devices},
        "this_device": ctx.principal.device_id,
        "keys": keys,
        "mailboxes": boxes,
        "owners": owners,
        "webhooks": ctx.hooks.view.all(),
        "event_words": EVENT_WORDS,
    }


async def render_settings(
    request: Request, *, status: int = 200, outcome: Outcome | None = None, error: str | None = None
) -> Response:
    """The settings page, with the outcome of a change (or its error) at the top."""
    rt = runtime_of(request)
    s = rt.settings
    server = {"opens": s.track_opens, "clicks": s.track_clicks, "replies": s.track_replies}
    ctx = context(request)
    data = await asyncio.to_thread(_load, ctx, server)
    principal = principal_of(request)
    return page(
        request,
        "settings.html",
        status=status,
        notice=outcome.notice if outcome else None,
        shown=outcome.shown if outcome else {},
        error=error,
        me_id=principal.user.id if principal else 0,
        **data,
    )


@signed_in
async def settings_page(request: Request) -> Response:
    return await render_settings(request)


ROUTES: list[BaseRoute] = [Route("/app/settings", settings_page, methods=["GET"])]
