"""The dashboard's pages for reading: the sent list (here), a message (message_page.py), follow up
(follow_up_page.py). Other pages (settings, charts) join `ROUTES` in `__init__.py`."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ...stats import Counts, glance, last_activity
from ...store import MessageFilter
from .follow_up_page import ROUTES as FOLLOW_UP_ROUTES
from .message_page import ROUTES as MESSAGE_ROUTES
from .render import page, principal_of, signed_in, view

PAGE_SIZE = 25
#: the "Show" choices of the sent list: value -> (label, the filter it sets)
SHOW: dict[str, tuple[str, dict[str, bool]]] = {
    "": ("All emails", {}),
    "opened": ("Opened", {"opened": True}),
    "unopened": ("Not opened", {"opened": False}),
    "clicked": ("Clicked", {"clicked": True}),
    "replied": ("Replied", {"replied": True}),
    "bounced": ("Bounced", {"bounced": True}),
    "machines": ("Only machines so far", {"machines": True}),
}


@dataclass(frozen=True, slots=True)
class SentQuery:
    """The sent list's search and filters, read leniently from the query string (odd values are dropped)."""

    q: str = ""
    show: str = ""
    sender: str = ""
    since: date | None = None
    until: date | None = None
    before: int | None = None

    @classmethod
    def read(cls, request: Request, *, admin: bool) -> SentQuery:
        p = request.query_params
        raw_before = p.get("before", "")
        show = p.get("show", "")
        return cls(
            q=p.get("q", "").replace("\x00", "").strip()[:200],
            show=show if show in SHOW else "",
            sender=p.get("sender", "").strip()[:320] if admin else "",
            since=_day(p.get("since", "")),
            until=_day(p.get("until", "")),
            before=int(raw_before) if raw_before.isdigit() and len(raw_before) < 19 else None,
        )

    def message_filter(self) -> MessageFilter:
        until = datetime.combine(self.until, datetime.min.time(), UTC) + timedelta(days=1) if self.until else None
        return MessageFilter(
            q=self.q or None,
            sender=self.sender or None,
            since=datetime.combine(self.since, datetime.min.time(), UTC) if self.since else None,
            until=until,
            **SHOW[self.show][1],
        )

    def link(self, **changes: Any) -> str:
        """The sent list's address with these filters (and `changes`): pages keep the filters."""
        values = {
            "q": self.q,
            "show": self.show,
            "sender": self.sender,
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
            "before": self.before or "",
        }
        values.update(changes)
        query = urlencode({k: v for k, v in values.items() if v})
        return "/app" + (f"?{query}" if query else "")

    @property
    def filtered(self) -> bool:
        return bool(self.q or self.show or self.sender or self.since or self.until)


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip()) if len(text.strip()) == 10 else None
    except ValueError:
        return None


@signed_in
async def sent(request: Request) -> Response:
    """The sent list: newest first, each recipient's state at a glance, a page at a time (three queries)."""
    p = principal_of(request)
    admin = p is not None and p.is_admin
    query = SentQuery.read(request, admin=admin)

    def load() -> dict[str, Any]:
        v = view(request)
        got = v.message_page(query.message_filter(), before_id=query.before, limit=PAGE_SIZE)
        rows = []
        for m in got.messages:
            recipients = []
            for r in got.recipients.get(m.id, []):
                c = got.counts.get(r.id, Counts())
                code, label = glance(c)
                recipients.append({"address": r.address, "state": code, "label": label, "last": last_activity(c)})
            rows.append({"message": m, "recipients": recipients})
        more = query.link(before=got.messages[-1].id) if got.more and got.messages else None
        senders = [u.email for u in v.members()] if admin else []
        return {"rows": rows, "more": more, "senders": senders}

    return page(request, "sent.html", query=query, show_choices=SHOW, **await asyncio.to_thread(load))


async def home(request: Request) -> Response:
    return RedirectResponse("/app", status_code=307)


ROUTES: list[BaseRoute] = [
    Route("/", home, methods=["GET"]),
    Route("/app", sent, methods=["GET"]),
    *MESSAGE_ROUTES,
    *FOLLOW_UP_ROUTES,
]
