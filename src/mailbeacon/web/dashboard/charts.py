"""The charts page (`/app/charts`) and its numbers (`/app/charts/data`, JSON).

The page shows every number as a table, so that it reads without JavaScript, with a screen
reader and at phone width; `charts.js` draws the same numbers with uPlot (vendored) from the
JSON route. Both come from the signed-in person's scoped view (an admin: the workspace; a
member: their own mail) through the pure `trends` module.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, time, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ...store import WorkspaceView
from ...trends import activity, days_between, first_open_histogram, rates
from ..rest.docs import SECURITY_HEADERS
from .render import page, principal_of, runtime_of, signed_in, view

WINDOWS = (7, 30, 90)
DEFAULT_WINDOW = 30


def window_of(request: Request) -> int:
    raw = request.query_params.get("days", "")
    return int(raw) if raw.isdigit() and int(raw) in WINDOWS else DEFAULT_WINDOW


def chart_numbers(v: WorkspaceView, senders: dict[int, str], now: datetime, days: int) -> dict[str, Any]:
    """Everything the charts show for the `days` days up to today (UTC)."""
    until = datetime.combine(now.date() + timedelta(days=1), time(), tzinfo=now.tzinfo)
    since = until - timedelta(days=days)
    day_list = days_between(since, until - timedelta(microseconds=1))
    sent = v.sent_recipients(since=since, until=until)
    return {
        "days": days,
        "since": day_list[0],
        "until": day_list[-1],
        "activity": activity(day_list, v.hit_days(since=since, until=until), sent),
        "first_open": first_open_histogram(sent),
        "rates": rates(sent, senders, workspace="Whole workspace" if len(senders) > 1 else "All your emails"),
    }


def _numbers(request: Request) -> dict[str, Any]:
    p = principal_of(request)
    assert p is not None
    v = view(request)
    members = v.members() if p.is_admin else [p.user]
    senders = {u.id: u.email for u in members}
    return chart_numbers(v, senders, runtime_of(request).clock(), window_of(request))


def _active_days(a: dict[str, Any]) -> list[dict[str, Any]]:
    """The activity table's rows: the days something happened."""
    keys = [k for k in a if k != "days"]
    rows = []
    for i, day in enumerate(a["days"]):
        row = {k: a[k][i] for k in keys}
        if any(row.values()):
            rows.append({"day": day, **row})
    return rows


@signed_in
async def charts_page(request: Request) -> Response:
    numbers = await asyncio.to_thread(_numbers, request)
    return page(
        request,
        "charts.html",
        n=numbers,
        active=_active_days(numbers["activity"]),
        windows=WINDOWS,
        window=numbers["days"],
        buckets=list(zip(numbers["first_open"]["buckets"], numbers["first_open"]["counts"], strict=True)),
    )


async def charts_data(request: Request) -> Response:
    """The charts' numbers as JSON (same origin: the page's `connect-src 'self'`)."""
    headers = {**SECURITY_HEADERS, "cache-control": "no-store"}
    if principal_of(request) is None:
        body = {"title": "Sign in first", "status": 401, "detail": "sign in to the dashboard to see its charts"}
        return Response(json.dumps(body), status_code=401, media_type="application/problem+json", headers=headers)
    numbers = await asyncio.to_thread(_numbers, request)
    return Response(json.dumps(numbers), media_type="application/json", headers=headers)


ROUTES: list[BaseRoute] = [
    Route("/app/charts", charts_page, methods=["GET"]),
    Route("/app/charts/data", charts_data, methods=["GET"]),
]
