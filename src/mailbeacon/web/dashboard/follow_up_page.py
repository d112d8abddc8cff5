"""Follow up (`/app/follow-up`): recipients worth a nudge, and those only machines have touched.

The choice is `follow_up.choose` (pure); the delay is the signed-in person's `follow_up_days`
setting, changed by the small form on the page (a POST with the session's CSRF token).
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ...follow_up import MAX_DAYS, MIN_DAYS, SETTING, choose, days_of, parse_days
from .render import form_csrf_ok, page, principal_of, runtime_of, signed_in, view

#: recipients read from the store for the two lists, at most
CANDIDATES = 500


@signed_in
async def follow_up(request: Request) -> Response:
    return await _page(request)


async def _page(request: Request, *, message: str = "", status: int = 200) -> Response:
    p = principal_of(request)
    assert p is not None  # signed_in

    def load() -> dict[str, Any]:
        v = view(request)
        days = days_of(v.member(p.user.id).settings)
        nudge, machines = choose(v.unanswered(limit=CANDIDATES), runtime_of(request).clock(), days)
        return {"days": days, "nudge": nudge, "machines": machines}

    context = await asyncio.to_thread(load)
    return page(
        request,
        "follow_up.html",
        status=status,
        message=message,
        min_days=MIN_DAYS,
        max_days=MAX_DAYS,
        **context,
    )


@signed_in
async def set_days(request: Request) -> Response:
    """Save the follow-up delay (the signed-in person's own setting)."""
    p = principal_of(request)
    assert p is not None  # signed_in
    form = await request.form()
    if not form_csrf_ok(request, form):
        return await _page(request, message="This form has expired: reload the page and try again.", status=403)
    days = parse_days(str(form.get("days", "")))
    if days is None:
        return await _page(
            request, message=f"Follow-up delay: enter a whole number of days from {MIN_DAYS} to {MAX_DAYS}.", status=400
        )

    def save() -> None:
        v = view(request)
        v.update_member(p.user.id, settings={**v.member(p.user.id).settings, SETTING: days}, role=None)

    await asyncio.to_thread(save)
    return RedirectResponse("/app/follow-up", status_code=303)


ROUTES: list[BaseRoute] = [
    Route("/app/follow-up", follow_up, methods=["GET"]),
    Route("/app/follow-up", set_days, methods=["POST"]),
]
