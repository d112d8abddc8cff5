"""`create_app(runtime, intake, pipeline)`: the whole HTTP surface.

The tracking endpoints (`/o/`, `/c/`) are raw ASGI in front (see tracking.py); every other
path goes to the REST API app (web/rest/, FastAPI), behind the edge that resolves the caller's
principal (principal.py). A few routes are plain Starlette routes inside it (`ROUTES`): the
health check and the dashboard's sign-in form.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from ..devices import SeenBeacons
from ..intake import Intake
from ..pipeline import Pipeline
from ..provider_events import Fetcher, ProviderIntake
from ..runtime import Runtime
from . import api, dashboard, signin_page
from .body import JSON_LIMIT, BodyLimit
from .principal import PrincipalEdge
from .problems import PROBLEM_TYPE, problem_body
from .providers import WEBHOOK_LIMIT, WEBHOOK_PATH, https_fetch
from .rest import build_api
from .stream import StreamHub
from .tracking import ClientAddress, TrackingApp

if TYPE_CHECKING:
    from ..webhooks.worker import WebhookWorker

log = logging.getLogger("mailbeacon.web")

ROUTES = [
    Route("/healthz", api.healthz, methods=["GET"]),
    Route("/signin", signin_page.signin_form, methods=["GET"]),
    Route("/signin", signin_page.signin, methods=["POST"]),
    Route("/signout", signin_page.signout, methods=["POST"]),
    *dashboard.ROUTES,
]


def _client_of(resolver: ClientAddress) -> Callable[[dict[str, Any]], str]:
    """The client's IP of a request: the socket peer, or X-Forwarded-For from a trusted proxy."""

    def client(scope: dict[str, Any]) -> str:
        peer = str(scope["client"][0]) if scope.get("client") else ""
        forwarded = next((v for k, v in scope["headers"] if k == b"x-forwarded-for"), None)
        return resolver.resolve(peer, forwarded.decode("latin-1") if forwarded is not None else None)

    return client


async def _disconnected(request: Request, exc: Exception) -> Response:
    """The body ended early or was malformed (the HTTP server reports that as a disconnect)."""
    detail = "the request body was cut off or malformed"
    return Response(problem_body(400, "invalid_input", "Invalid input", detail), 400, media_type=PROBLEM_TYPE)


def create_app(
    runtime: Runtime,
    intake: Intake,
    pipeline: Pipeline,
    hub: StreamHub | None = None,
    *,
    fetcher: Fetcher = https_fetch,
    webhooks: WebhookWorker | None = None,
) -> TrackingApp:
    """Hits are recorded through `intake`; inbound mail through `pipeline`, whose health `/healthz` reports;
    live streams wait on `hub` (`serve` closes it before stopping); `fetcher` gets Amazon SNS's
    certificates and subscription confirmations; `webhooks`: this node's delivery worker (test
    events are sent through it), if it runs one.

    Every API route reads its body within its limit while it streams (body.py)."""
    api_app = build_api(runtime, intake, ROUTES)
    api_app.state.hub = hub or stream_hub(runtime)
    api_app.add_exception_handler(ClientDisconnect, _disconnected)
    api_app.state.pipeline = pipeline
    api_app.state.webhooks = webhooks
    api_app.state.beacons = SeenBeacons()
    api_app.state.providers = ProviderIntake(pipeline, fetcher)
    api_app.state.client_address = resolver = ClientAddress(runtime.settings.trusted_proxies)
    mail_limit = runtime.settings.smtp_max_size

    def limit_for(path: str) -> tuple[int, str]:
        if path == "/api/v1/inbound":
            return mail_limit, "smtp_max_size"
        if path == "/api/v1/messages":  # the message in base64 inside JSON
            return mail_limit * 4 // 3 + JSON_LIMIT, "smtp_max_size"
        if WEBHOOK_PATH.fullmatch(path):
            return WEBHOOK_LIMIT, ""
        return JSON_LIMIT, ""

    edge = PrincipalEdge(api_app, runtime, _client_of(resolver))
    return TrackingApp(runtime, intake, fallback=BodyLimit(edge, limit_for))


def stream_hub(runtime: Runtime) -> StreamHub:
    """What wakes this process's live streams (see stream.py)."""
    store = runtime.store
    return StreamHub(store.bell, store.last_event_id, keepalive=runtime.settings.stream_keepalive)
