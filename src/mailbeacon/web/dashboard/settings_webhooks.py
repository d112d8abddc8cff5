"""The webhooks of the settings page: add one (its secret shown once), send a test event, remove,
enable again, and each endpoint's delivery log (`/app/settings/webhooks/{id}`).

Like the other settings, each change is a form post checked against the session's CSRF token
and goes through the REST API's own route function (web/rest/webhooks.py): admins change the
workspace's endpoints, members may look.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ...errors import MailbeaconError, NotFound
from ..problems import status_of
from ..rest import webhooks
from ..rest.deps import Ctx, context
from ..rest.webhook_models import WebhookIn, WebhookPatch
from .render import page, signed_in
from .settings import EVENT_WORDS, Outcome
from .settings_forms import BASE, change

LOG_SIZE = 50


async def add_webhook(ctx: Ctx, form: FormData, _: dict[str, Any]) -> Outcome:
    events = [e for e in form.getlist("events") if isinstance(e, str)]
    url = form.get("url", "")
    description = form.get("description", "")
    body = WebhookIn(
        url=url.strip() if isinstance(url, str) else "",
        events=events,  # type: ignore[arg-type]  # the model checks each word
        description=description.strip() if isinstance(description, str) else "",
    )
    made = await webhooks.add_webhook(ctx, body)
    return Outcome(
        f"Webhook {made.url} added: it receives events from now on. Copy its signing secret now: it is shown only this once.",
        {"secret": made.secret, "hook": made.url},
    )


async def send_test_event(ctx: Ctx, _: FormData, params: dict[str, Any]) -> Outcome:
    d = await webhooks.test_webhook(ctx, int(params["webhook_id"]))
    if d.state == "delivered":
        return Outcome(f"The test event was delivered (the receiver answered HTTP {d.last_status}).")
    if d.state == "pending":
        return Outcome("The test event is queued: this server does not send webhooks itself; another node will.")
    why = d.last_error or (f"the receiver answered HTTP {d.last_status}" if d.last_status else "no answer")
    return Outcome(f"The test event was not delivered: {why}.")


async def enable_webhook(ctx: Ctx, _: FormData, params: dict[str, Any]) -> Outcome:
    hook = await webhooks.update_webhook(ctx, int(params["webhook_id"]), WebhookPatch(enabled=True))
    return Outcome(f"Webhook {hook.url} is enabled again.")


async def remove_webhook(ctx: Ctx, _: FormData, params: dict[str, Any]) -> Outcome:
    await webhooks.remove_webhook(ctx, int(params["webhook_id"]))
    return Outcome("The webhook is removed, with its delivery log.")


@signed_in
async def delivery_log(request: Request) -> Response:
    """One endpoint and its latest deliveries, newest first."""
    ctx = context(request)
    webhook_id = int(request.path_params["webhook_id"])
    try:
        if webhook_id > 2**31:
            raise NotFound(f"no webhook {webhook_id}")
        hook = await webhooks.get_webhook(ctx, webhook_id)
        log = await webhooks.list_deliveries(ctx, webhook_id, cursor=None, limit=LOG_SIZE)
    except MailbeaconError as exc:
        return page(request, "settings_refused.html", status=status_of(exc)[0], reason=_sentence(str(exc)))
    return page(request, "settings_webhook.html", hook=hook, deliveries=log.items, words=EVENT_WORDS)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:].rstrip(".") + "."


ROUTES: list[BaseRoute] = [
    Route(f"{BASE}/webhooks", change(add_webhook), methods=["POST"]),
    Route(f"{BASE}/webhooks/{{webhook_id:int}}", delivery_log, methods=["GET"]),
    Route(f"{BASE}/webhooks/{{webhook_id:int}}/test", change(send_test_event), methods=["POST"]),
    Route(f"{BASE}/webhooks/{{webhook_id:int}}/enable", change(enable_webhook), methods=["POST"]),
    Route(f"{BASE}/webhooks/{{webhook_id:int}}/remove", change(remove_webhook), methods=["POST"]),
]
