"""`create_app(runtime, intake, pipeline)`: the whole HTTP surface, with its one route table.

The tracking endpoints (`/o/`, `/c/`) are raw ASGI in front (see tracking.py); every other
path goes to a Starlette app built from `ROUTES`.
"""

from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..errors import AuthError, Conflict, InvalidInput, MailbeaconError, NotFound, StoreUnavailable
from ..intake import Intake
from ..pipeline import Pipeline
from ..runtime import Runtime
from . import api, extension, inbound
from .auth import CHALLENGE
from .tracking import TrackingApp

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
    (AuthError, 401),
    (NotFound, 404),
    (Conflict, 409),
    (InvalidInput, 400),
    (StoreUnavailable, 503),
]


async def _error(request: Request, exc: Exception) -> Response:
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            headers = {"www-authenticate": CHALLENGE} if status == 401 else None
            if status == 503:
                headers = {"retry-after": "5"}
            return JSONResponse({"error": str(exc)}, status_code=status, headers=headers)
    return JSONResponse({"error": str(exc)}, status_code=400)


def create_app(runtime: Runtime, intake: Intake, pipeline: Pipeline) -> TrackingApp:
    """Hits are recorded through `intake`; inbound mail through `pipeline`, whose health `/healthz` reports."""
    api_app = Starlette(routes=ROUTES, exception_handlers={MailbeaconError: _error})
    api_app.state.runtime = runtime
    api_app.state.intake = intake
    api_app.state.pipeline = pipeline
    return TrackingApp(runtime, intake, fallback=api_app)
