"""/api/v1/webhooks: a workspace's webhook endpoints, a test event, the delivery log (admins change them)."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from ...store.deliveries import Delivery
from ...store.webhooks import Webhook
from ...webhooks.targets import check_url
from .deps import CtxDep
from .webhook_models import DeliveryOut, DeliveryPage, WebhookCreated, WebhookIn, WebhookOut, WebhookPatch

router = APIRouter(tags=["webhooks"])
WebhookId = Annotated[int, Path(ge=1, le=2**31)]


def webhook_out(h: Webhook) -> WebhookOut:
    return WebhookOut(
        id=h.id,
        url=h.url,
        events=list(h.kinds),
        description=h.description,
        enabled=h.enabled,
        disabled_reason=h.disabled_reason,
        failing_since=h.failing_since,
        created_at=h.created_at,
    )


def delivery_out(d: Delivery) -> DeliveryOut:
    return DeliveryOut(
        id=d.id,
        webhook_id=d.webhook_id,
        msg_id=d.msg_id,
        event_id=d.event_id,
        type=d.kind,
        state=d.state,  # type: ignore[arg-type]
        attempts=d.attempts,
        next_attempt_at=d.next_attempt_at,
        last_attempt_at=d.last_attempt_at,
        last_status=d.last_status,
        last_error=d.last_error,
        created_at=d.created_at,
        payload=json.loads(d.body),
    )


@router.get("/api/v1/webhooks", response_model=list[WebhookOut])
async def list_webhooks(ctx: CtxDep) -> list[WebhookOut]:
    """The workspace's endpoints (members may read them; admins change them)."""
    return [webhook_out(h) for h in await asyncio.to_thread(ctx.hooks.view.all)]


@router.post("/api/v1/webhooks", response_model=WebhookCreated, status_code=201)
async def add_webhook(ctx: CtxDep, body: WebhookIn) -> WebhookCreated:
    """A new endpoint; it receives the events from now on. The signing secret is in this answer only."""
    ctx.require_admin()
    url = check_url(body.url)
    secret, sealed = ctx.hooks.new_secret()
    hook = await asyncio.to_thread(ctx.hooks.view.add, url, body.events, sealed, body.description, ctx.clock())
    if not body.enabled:
        hook = await asyncio.to_thread(
            ctx.hooks.view.update, hook.id, url=None, kinds=None, description=None, enabled=False
        )
    return WebhookCreated(**webhook_out(hook).model_dump(), secret=secret)


@router.get("/api/v1/webhooks/{webhook_id}", response_model=WebhookOut)
async def get_webhook(ctx: CtxDep, webhook_id: WebhookId) -> WebhookOut:
    return webhook_out(await asyncio.to_thread(ctx.hooks.view.get, webhook_id))


@router.patch("/api/v1/webhooks/{webhook_id}", response_model=WebhookOut)
async def update_webhook(ctx: CtxDep, webhook_id: WebhookId, body: WebhookPatch) -> WebhookOut:
    """Change the URL, the event types, the description; `enabled: true` enables it again."""
    ctx.require_admin()
    url = check_url(body.url) if body.url is not None else None
    hook = await asyncio.to_thread(
        ctx.hooks.view.update,
        webhook_id,
        url=url,
        kinds=body.events,
        description=body.description,
        enabled=body.enabled,
    )
    return webhook_out(hook)


@router.delete("/api/v1/webhooks/{webhook_id}", status_code=204)
async def remove_webhook(ctx: CtxDep, webhook_id: WebhookId) -> Response:
    """Remove the endpoint and its delivery log."""
    ctx.require_admin()
    await asyncio.to_thread(ctx.hooks.view.remove, webhook_id)
    return Response(status_code=204)


@router.post("/api/v1/webhooks/{webhook_id}/test", response_model=DeliveryOut)
async def test_webhook(ctx: CtxDep, webhook_id: WebhookId) -> DeliveryOut:
    """Send a test event now (also to a disabled endpoint) and answer with its delivery: delivered,
    or failed with the reason. Tried once; on a node that sends no webhooks it waits, pending."""
    ctx.require_admin()
    return delivery_out(await ctx.hooks.test(webhook_id))


@router.get("/api/v1/webhooks/{webhook_id}/deliveries", response_model=DeliveryPage)
async def list_deliveries(
    ctx: CtxDep,
    webhook_id: WebhookId,
    cursor: Annotated[
        str | None, Query(pattern=r"^[1-9][0-9]{0,17}$", description="next_cursor of the page before")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> DeliveryPage:
    """The delivery log, newest first: each event's attempts, last status or error, and state."""
    before = int(cursor) if cursor else None
    found = await asyncio.to_thread(ctx.hooks.view.deliveries, webhook_id, before_id=before, limit=limit + 1)
    items = [delivery_out(d) for d in found[:limit]]
    nxt = str(found[limit - 1].id) if len(found) > limit else None
    return DeliveryPage(items=items, next_cursor=nxt)
