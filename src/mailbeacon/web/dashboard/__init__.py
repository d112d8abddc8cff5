"""The dashboard: server-rendered pages for people (Jinja2 templates, a little htmx, no build step).

Every page is behind the dashboard sign-in (signin_page.py): a request without a session is sent
to `/signin?next=...`. Pages read through the signed-in person's scoped store view, like the API,
so an admin sees the workspace and a member their own mail. Static files (our CSS and JavaScript,
vendored libraries with their licences) are served from `/app/static/`; the Content-Security-Policy
allows only this server's own scripts, styles and connections, no inline script.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from .charts import ROUTES as CHART_ROUTES
from .pages import ROUTES as PAGE_ROUTES
from .render import STATIC, page, signed_in
from .settings import ROUTES as SETTINGS_ROUTES
from .settings_forms import ROUTES as SETTINGS_FORM_ROUTES
from .settings_webhooks import ROUTES as WEBHOOK_ROUTES


@signed_in
async def not_found(request: Request) -> Response:
    """Any other page under /app: the dashboard's own 404 page, not a bare one."""
    return page(request, "not_found.html", status=404, what="This page")


ROUTES: list[BaseRoute] = [
    *PAGE_ROUTES,
    *SETTINGS_ROUTES,
    *SETTINGS_FORM_ROUTES,
    *WEBHOOK_ROUTES,
    *CHART_ROUTES,
    Mount("/app/static", StaticFiles(directory=STATIC), name="dashboard-static"),
    # last: only what nothing above answered (a form posted to no such page too: 404, not 405)
    Route("/app/{rest:path}", not_found, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
]
