"""The dashboard's pages for reading: the sent list (more pages join it here)."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ...stats import Counts, glance, last_activity
from ...store import MessageFilter
from .render import page, signed_in, view

PAGE_SIZE = 25


def _before(request: Request) -> int | None:
    raw = request.query_params.get("before", "")
    return int(raw) if raw.isdigit() and len(raw) < 19 else None


@signed_in
async def sent(request: Request) -> Response:
    """The sent list: newest first, each recipient's state at a glance, a page at a time."""
    before = _before(request)

    def load() -> dict[str, Any]:
        got = view(request).message_page(MessageFilter(), before_id=before, limit=PAGE_SIZE)
        rows = []
        for m in got.messages:
            recipients = []
            for r in got.recipients.get(m.id, []):
                c = got.counts.get(r.id, Counts())
                code, label = glance(c)
                recipients.append({"address": r.address, "state": code, "label": label, "last": last_activity(c)})
            rows.append({"message": m, "recipients": recipients})
        more = got.messages[-1].id if got.more and got.messages else None
        return {"rows": rows, "more": more}

    return page(request, "sent.html", **await asyncio.to_thread(load))


async def home(request: Request) -> Response:
    return RedirectResponse("/app", status_code=307)


ROUTES: list[BaseRoute] = [
    Route("/", home, methods=["GET"]),
    Route("/app", sent, methods=["GET"]),
]
