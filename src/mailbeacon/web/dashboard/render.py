"""Rendering a dashboard page: the Jinja2 environment, the signed-in person, the security headers.

`page(request, "sent.html", **context)` renders a template that extends `base.html`; every page
gets `me` (the signed-in user), `csrf` (the session's CSRF token, for forms and htmx requests),
`path` (for the navigation) and the filters below. `signed_in(handler)` wraps a page handler:
without a dashboard session the browser is sent to the sign-in form and comes back afterwards.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ...runtime import Runtime
from ..principal import SESSION_COOKIE, Principal, csrf_ok, csrf_token, view_of
from ..rest.docs import SECURITY_HEADERS

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent.parent / "static" / "dashboard"

Handler = Callable[[Request], Awaitable[Response]]


def when(value: datetime | None, now: datetime | None = None) -> str:
    """A time as people read it in a list: "10:42" today, "3 Dec 10:42" this year, else with the year (UTC)."""
    if value is None:
        return "—"
    value = value.astimezone(UTC)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    if value.date() == now.date():
        return value.strftime("%H:%M")
    if value.year == now.year:
        return f"{value.day} {value.strftime('%b %H:%M')}"
    return f"{value.day} {value.strftime('%b %Y %H:%M')}"


def iso(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value is not None else ""


ENV = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
ENV.filters["when"] = when
ENV.filters["iso"] = iso


def runtime_of(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def principal_of(request: Request) -> Principal | None:
    """The signed-in person of a dashboard request (a session; API keys and devices do not open pages)."""
    p: Principal | None = request.scope.get("state", {}).get("principal")
    return p if p is not None and p.via == "session" else None


def view(request: Request) -> Any:
    """The signed-in person's store view (a `WorkspaceView`)."""
    p = principal_of(request)
    if p is None:
        raise RuntimeError("view() outside a signed-in page")
    return view_of(runtime_of(request), p)


def form_csrf_ok(request: Request, form: FormData) -> bool:
    """Whether a posted dashboard form carries the session's CSRF token (its `csrf` field)."""
    given = form.get("csrf", "")
    session = request.cookies.get(SESSION_COOKIE, "")
    return csrf_ok(runtime_of(request).keyring, session, given if isinstance(given, str) else "")


def signed_in(handler: Handler) -> Handler:
    """Run `handler` for a signed-in person; send anyone else to the sign-in form (and back after)."""

    @functools.wraps(handler)
    async def page_or_signin(request: Request) -> Response:
        if principal_of(request) is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/signin?next={quote(target, safe='/')}", status_code=303)
        return await handler(request)

    return page_or_signin


def page(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """Render `template` for the signed-in person of `request`."""
    p = principal_of(request)
    rt = runtime_of(request)
    session = request.cookies.get(SESSION_COOKIE, "")
    html = ENV.get_template(template).render(
        me=p.user if p is not None else None,
        is_admin=p.is_admin if p is not None else False,
        csrf=csrf_token(rt.keyring, session) if p is not None and session else "",
        path=request.url.path,
        now=rt.clock(),
        **context,
    )
    headers = dict(SECURITY_HEADERS)
    headers["cache-control"] = "no-store"
    return HTMLResponse(html, status_code=status, headers=headers)
