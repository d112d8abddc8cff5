"""`create_app(runtime, intake, pipeline)`: the whole HTTP surface, with its one route table.

The tracking endpoints (`/o/`, `/c/`) are raw ASGI in front (see tracking.py); every other
path goes to a Starlette app built from `ROUTES`.
"""

from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..devices import SeenBeacons
from ..errors import (
    AuthError,
    Conflict,
    InvalidInput,
    MailbeaconError,
    NotFound,
    StoreUnavailable,
    Throttled,
    TooLarge,
)
from ..intake import Intake
from ..pipeline import Pipeline
from ..runtime import Runtime
from . import api, extension, inbound
from .auth import CHALLENGE
from .body import JSON_LIMIT, BodyLimit
from .tracking import ClientAddress, TrackingApp

log = logging.getLogger("mailbeacon.web")

ROUTES = [
    Route("/healthz", api.healthz, methods=["GET"]),
    Route("/api/v1/devices", api.pair_device, methods=["POST"]),
    Route("/api/v1/devices", api.list_devices, methods=["GET"]),
    Route("/api/v1/devices/pair", extension.pair_with_code, methods=["POST", "OPTIONS"]),
    Route("/api/v1/devices/heartbeat", extension.heartbeat, methods=["POST", "OPTIONS"]),
    Route("/api/v1/devices/{device_id}", api.revoke_device, methods=["DELETE"]),
    Route("/api/v1/self-view", api.self_view, methods=["POST", "OPTIONS"]),
    Route("/api/v1/self-view/check", extension.token_check, methods=["POST", "OPTIONS"]),
    Route("/api/v1/messages", api.list_messages, methods=["GET"]),
    Route("/api/v1/messages/{message_id}", api.get_message, methods=["GET"]),
    Route("/api/v1/messages/{message_id}/hits", api.get_message_hits, methods=["GET"]),
    Route("/api/v1/messages/{message_id}/recipients/{address}/why", api.get_recipient_why, methods=["GET"]),
    Route("/api/v1/inbound", inbound.receive_inbound, methods=["POST"]),
]

_STATUS: list[tuple[type[MailbeaconError], int]] = [
    (Throttled, 429),
    (AuthError, 401),
    (NotFound, 404),
    (Conflict, 409),
    (TooLarge, 413),
    (InvalidInput, 400),
    (StoreUnavailable, 503),
]


async def _error(request: Request, exc: Exception) -> Response:
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            headers = {"www-authenticate": CHALLENGE} if status == 401 else None
            if status == 503:
                headers = {"retry-after": "5"}
            if isinstance(exc, Throttled):
                headers = {"retry-after": str(exc.retry_after)}
            return JSONResponse({"error": str(exc)}, status_code=status, headers=headers)
    return JSONResponse({"error": str(exc)}, status_code=400)


async def _disconnected(request: Request, exc: Exception) -> Response:
    """The body ended early or was malformed (the HTTP server reports that as a disconnect)."""
    return JSONResponse({"error": "the request body was cut off or malformed"}, status_code=400)


def create_app(runtime: Runtime, intake: Intake, pipeline: Pipeline) -> TrackingApp:
    """Hits are recorded through `intake`; inbound mail through `pipeline`, whose health `/healthz` reports.

    Every API route reads its body within its limit while it streams (body.py)."""
    api_app = Starlette(routes=ROUTES, exception_handlers={MailbeaconError: _error, ClientDisconnect: _disconnected})
    api_app.state.runtime = runtime
    api_app.state.intake = intake
    api_app.state.pipeline = pipeline
    api_app.state.beacons = SeenBeacons()
    api_app.state.client_address = ClientAddress(runtime.settings.trusted_proxies)
    inbound_limit = runtime.settings.smtp_max_size

    def limit_for(path: str) -> tuple[int, str]:
        return (inbound_limit, "smtp_max_size") if path == "/api/v1/inbound" else (JSON_LIMIT, "")

    return TrackingApp(runtime, intake, fallback=BodyLimit(api_app, limit_for))
