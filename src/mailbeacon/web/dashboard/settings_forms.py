"""The changes of the settings page: plain form posts, each checked against the session's CSRF token.

Every change goes through the REST API's own route function with the API's own request model,
so the dashboard and `/api/v1` validate alike and obey the same rules (members cannot change the
workspace, the last admin stays admin, a user's switch can only narrow the workspace's). The
answer is the settings page again, saying in words what happened or what was wrong.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ...errors import MailbeaconError, NotFound
from ..problems import status_of
from ..rest import accounts, mailboxes, workspace
from ..rest.deps import Ctx, context
from ..rest.mail_models import MailboxIn
from ..rest.models import ApiKeyIn, DeviceIn, MemberIn, Switches, WorkspaceIn
from .render import form_csrf_ok, page, signed_in
from .settings import KINDS, NOUNS, Outcome, render_settings

Change = Callable[[Ctx, FormData, dict[str, Any]], Awaitable[Outcome]]

#: what to say when a field does not match the API's schema
HINTS = {
    "domains": "a domain looks like acme.example (one per line)",
    "tracking_url": "give an address like https://t.acme.example, or leave it empty for the server's own",
    "imap": "give the mailbox as imaps://user@imap.example.com:993 or imap://user@host:143",
    "password": "give the mailbox's password",
    "folders": "give folder names separated by commas, e.g. INBOX, Sent",
    "name": "give a name of at most 200 characters",
    "role": "choose admin or member",
    "url": "give the receiver's address, e.g. https://crm.example.com/hooks/mailbeacon",
    "events": "choose among the event types listed",
    "description": "give a description of at most 200 characters",
}
MAX_ID = 2**63 - 1
DEVICE_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")
REFUSED = "This form did not come with this session's security token. Reload the page and try again."


def validation_sentence(exc: ValidationError) -> str:
    """One sentence for people from the first field that did not match."""
    where = exc.errors()[0]["loc"] if exc.errors() else ()
    name = next((str(p) for p in where if str(p) in HINTS), "")
    if name:
        return f"{name.replace('_', ' ').capitalize()}: {HINTS[name]}."
    return "Some of what was entered is not valid: check the form and try again."


def _field(form: FormData, name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


def change(handler: Change) -> Callable[[Request], Awaitable[Response]]:
    """A POST of the settings page: refused (403) without the session's CSRF token."""

    @signed_in
    async def post(request: Request) -> Response:
        form = await request.form()
        if not form_csrf_ok(request, form):
            return page(request, "settings_refused.html", status=403, reason=REFUSED)
        params = dict(request.path_params)
        try:
            if any(isinstance(v, int) and v > MAX_ID for v in params.values()):
                raise NotFound("there is no such item (it may have been removed already)")
            outcome = await handler(context(request), form, params)
        except ValidationError as exc:
            return await render_settings(request, status=400, error=validation_sentence(exc))
        except MailbeaconError as exc:
            return await render_settings(request, status=status_of(exc)[0], error=_sentence(str(exc)))
        return await render_settings(request, outcome=outcome)

    post.__name__ = handler.__name__
    return post


def _sentence(text: str) -> str:
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?", ")")) else text + "."


# -- tracking switches ----------------------------------------------------------------------


async def workspace_tracking(ctx: Ctx, form: FormData, _: dict[str, Any]) -> Outcome:
    """The workspace's switches: on, off, or the server's default."""
    values = {"on": True, "off": False, "default": None}
    chosen = {f"track_{k}": values.get(_field(form, f"track_{k}")) for k in KINDS}
    await workspace.update_workspace(ctx, WorkspaceIn(tracking=Switches(**chosen)))
    return Outcome("The workspace's tracking switches are saved.")


async def my_tracking(ctx: Ctx, form: FormData, _: dict[str, Any]) -> Outcome:
    """The signed-in person's own switches: off, or as the workspace says."""
    chosen = {f"track_{k}": False if _field(form, f"track_{k}") == "off" else None for k in KINDS}
    await workspace.update_my_tracking(ctx, Switches(**chosen))
    off = [NOUNS[k].lower() for k in KINDS if chosen[f"track_{k}"] is False]
    return Outcome("Your tracking switches are saved" + (f": {', '.join(off)} off." if off else "."))


# -- the workspace and its members ----------------------------------------------------------


async def workspace_details(ctx: Ctx, form: FormData, _: dict[str, Any]) -> Outcome:
    domains = [d.strip() for d in _field(form, "domains").replace(",", "\n").splitlines() if d.strip()]
    body = WorkspaceIn(domains=domains, tracking_url=_field(form, "tracking_url").strip())
    await workspace.update_workspace(ctx, body)
    return Outcome("The workspace's domains and tracking address are saved.")


async def member_role(ctx: Ctx, form: FormData, params: dict[str, Any]) -> Outcome:
    body = MemberIn(role=_field(form, "role"))  # type: ignore[arg-type]  # the model checks the word
    member = await workspace.update_member(ctx, int(params["user_id"]), body)
    return Outcome(f"{member.email} is now {'an admin' if member.role == 'admin' else 'a member'}.")


# -- paired devices ---------------------------------------------------------------------------


async def pairing_code(ctx: Ctx, form: FormData, _: dict[str, Any]) -> Outcome:
    name = _field(form, "name").strip() or "Browser extension"
    made = await accounts.create_pairing_code(ctx, DeviceIn(kind="extension", name=name))
    return Outcome(
        "A pairing code for the browser extension: enter it in the extension's options within 10 minutes.",
        {"code": made.code, "expires_at": made.expires_at, "name": name},
    )


async def revoke_device(ctx: Ctx, _: FormData, params: dict[str, Any]) -> Outcome:
    device_id = str(params["device_id"])
    if not DEVICE_ID.fullmatch(device_id):
        raise NotFound("there is no such paired device")
    await accounts.revoke_device(ctx, device_id)
    return Outcome("The device is unpaired: its opens are no longer taken for yours.")


# -- mailboxes --------------------------------------------------------------------------------


async def add_mailbox(ctx: Ctx, form: FormData, _: dict[str, Any]) -> Outcome:
    folders = [f.strip() for f in _field(form, "folders").split(",") if f.strip()] or ["INBOX"]
    body = MailboxIn(imap=_field(form, "imap").strip(), password=_field(form, "password"), folders=folders)
    box = await mailboxes.add_mailbox(ctx, body)
    return Outcome(f"Mailbox {box.url} added: it is checked within one poll interval, or test it now.")


async def check_mailbox(ctx: Ctx, _: FormData, params: dict[str, Any]) -> Outcome:
    got = await mailboxes.check_mailbox(ctx, int(params["mailbox_id"]))
    return Outcome(
        f"The mailbox answered: {got.messages} messages looked at, {got.recorded} replies or bounces recorded."
    )


async def remove_mailbox(ctx: Ctx, _: FormData, params: dict[str, Any]) -> Outcome:
    await mailboxes.remove_mailbox(ctx, int(params["mailbox_id"]))
    return Outcome("The mailbox is no longer watched (the replies recorded from it stay).")


# -- API keys ---------------------------------------------------------------------------------


async def create_key(ctx: Ctx, form: FormData, _: dict[str, Any]) -> Outcome:
    made = await accounts.create_key(ctx, ApiKeyIn(name=_field(form, "name").strip() or "api"))
    return Outcome(
        f"API key “{made.name}” created. Copy it now: it is shown only this once.", {"key": made.key, "name": made.name}
    )


async def revoke_key(ctx: Ctx, _: FormData, params: dict[str, Any]) -> Outcome:
    await accounts.revoke_key(ctx, int(params["key_id"]))
    return Outcome("The API key is revoked: requests with it are refused from now on.")


BASE = "/app/settings"
ROUTES: list[BaseRoute] = [
    Route(f"{BASE}/tracking/workspace", change(workspace_tracking), methods=["POST"]),
    Route(f"{BASE}/tracking/me", change(my_tracking), methods=["POST"]),
    Route(f"{BASE}/workspace", change(workspace_details), methods=["POST"]),
    Route(f"{BASE}/members/{{user_id:int}}/role", change(member_role), methods=["POST"]),
    Route(f"{BASE}/devices/pairing-code", change(pairing_code), methods=["POST"]),
    Route(f"{BASE}/devices/{{device_id:str}}/revoke", change(revoke_device), methods=["POST"]),
    Route(f"{BASE}/mailboxes", change(add_mailbox), methods=["POST"]),
    Route(f"{BASE}/mailboxes/{{mailbox_id:int}}/test", change(check_mailbox), methods=["POST"]),
    Route(f"{BASE}/mailboxes/{{mailbox_id:int}}/remove", change(remove_mailbox), methods=["POST"]),
    Route(f"{BASE}/keys", change(create_key), methods=["POST"]),
    Route(f"{BASE}/keys/{{key_id:int}}/revoke", change(revoke_key), methods=["POST"]),
]
