"""/api/v1/events: the outbox as the caller sees it — a page (JSON) and the live stream (SSE).

Both are scoped like every route: a member gets the events of their own mail; so does an admin,
unless they ask for `scope=workspace`. An event of the list is exactly what the stream sends as
`data:` (`events.payload`), with its `id`: the cursor of both (`after`, `Last-Event-ID`).

The stream is not in the OpenAPI document (a response that never ends has no schema to check);
docs/api.md and docs/webhooks.md describe it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette import EventSourceResponse, ServerSentEvent

from ...errors import InvalidInput
from ...events import payload
from ...model import EventKind
from .deps import Ctx, CtxDep, HubDep

router = APIRouter(tags=["events"])

#: events read from the store at a time by a stream catching up
PAGE = 100
MAX_ID = 2**63 - 1

Scope = Literal["own", "workspace"]
ScopeQ = Annotated[
    Scope,
    Query(description="`own`: the events of your own mail; `workspace`: the whole workspace's (admins only)"),
]
After = Annotated[int | None, Query(ge=0, le=MAX_ID, description="only events with a larger id")]


class EventData(BaseModel):
    """What every event says (kinds add fields: `count`, `link`, `url`, `from`, `corrects` ...)."""

    model_config = ConfigDict(extra="allow")

    event_id: str = Field(description="`evt_<id>`")
    message_id: int
    rfc_message_id: str
    subject: str
    sender: str
    recipient_id: int | None
    recipient: str | None
    provisional: bool = Field(description="told at a provisional verdict; a `correction` follows if it does not count")
    text: str = Field(description="one sentence for a notification")


class EventOut(BaseModel):
    id: int = Field(description="the event's position in the outbox: `after` and the stream's Last-Event-ID")
    type: EventKind
    timestamp: datetime
    data: EventData


class EventPageOut(BaseModel):
    items: list[EventOut]
    last_id: int = Field(description="the id of the last event here (else `after`): pass it as `after` for more")


def _scope(ctx: Ctx, scope: Scope) -> bool:
    """Whether the whole workspace is asked for (admins only)."""
    if scope == "workspace":
        ctx.require_admin()
        return True
    return False


@router.get("/api/v1/events", response_model=EventPageOut)
async def list_events(
    ctx: CtxDep,
    after: After = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    scope: ScopeQ = "own",
) -> EventPageOut:
    """Events oldest first, after the event `after` (from the first without it)."""
    workspace = _scope(ctx, scope)
    start = after or 0
    page = await asyncio.to_thread(ctx.view.events, start, limit=limit, workspace=workspace)
    items = [EventOut.model_validate({"id": e.id, **payload(e, about)}) for e, about in page]
    return EventPageOut(items=items, last_id=items[-1].id if items else start)


def _cursor(last_event_id: str | None, after: int | None) -> int | None:
    """Where a stream resumes: the Last-Event-ID header (an EventSource's reconnect), else `after`."""
    if last_event_id is None or not last_event_id.strip():
        return after
    value = last_event_id.strip()
    if not (value.isascii() and value.isdigit() and len(value) <= 19) or int(value) > MAX_ID:
        raise InvalidInput("Last-Event-ID must be the id of an event this stream sent (a whole number)")
    return int(value)


@router.get("/api/v1/events/stream", include_in_schema=False)
async def stream_events(
    ctx: CtxDep,
    hub: HubDep,
    after: After = None,
    scope: ScopeQ = "own",
    last_event_id: Annotated[str | None, Header(max_length=40)] = None,
) -> EventSourceResponse:
    """Server-Sent Events: `id:` the event id, `event:` its kind, `data:` its JSON. Resumes after
    Last-Event-ID (or `after`); without either, from now on."""
    workspace = _scope(ctx, scope)
    start = _cursor(last_event_id, after)
    if start is None:
        start = await asyncio.to_thread(ctx.view.newest_event_id)
    view = ctx.view

    async def messages() -> AsyncIterator[ServerSentEvent]:
        cursor = start
        hub.opened()
        try:
            while True:
                ticket = hub.ticket()
                page = await asyncio.to_thread(view.events, cursor, limit=PAGE, workspace=workspace)
                for e, about in page:
                    assert e.id is not None
                    yield ServerSentEvent(data=json.dumps(payload(e, about)), event=e.kind.value, id=str(e.id))
                    cursor = e.id
                if len(page) == PAGE:
                    continue
                if not await hub.wait(ticket):
                    return
        finally:
            hub.done()

    return EventSourceResponse(
        messages(),
        ping=hub.keepalive,
        ping_message_factory=lambda: ServerSentEvent(comment="keep-alive"),
        send_timeout=30,
    )
