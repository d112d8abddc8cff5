"""REST API v1 (FastAPI): typed models, OpenAPI 3.1 at /api/v1/openapi.json, docs at /api/v1/docs.

`build_api(runtime, intake, extra_routes)` makes the app that answers every path but the raw
tracking ones (web/tracking.py stays in front). Errors are RFC 9457 problem details
(web/problems.py). The principal is resolved before the app runs (web/principal.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute

from ...errors import MailbeaconError
from ...intake import Intake
from ...replies.providers import PROVIDERS
from ...runtime import Runtime
from ..problems import PROBLEM_TYPE, problem_body, problem_for
from . import accounts, docs, events, mailboxes, messages, own_pixels, providers, sending, webhooks, workspace
from .mail_models import InboundOut, ProviderEventsOut
from .models import Problem

PROBLEM_RESPONSES: dict[int | str, dict[str, object]] = {
    str(status): {"model": Problem, "description": text}
    for status, text in (
        (400, "Invalid input"),
        (401, "Authentication required"),
        (403, "Not allowed for this role"),
        (404, "Not found (or not visible to the caller)"),
        (409, "Conflict"),
        (413, "The request body is too large"),
        (422, "The request does not match the schema"),
        (503, "The database is unavailable"),
    )
}


async def _mailbeacon_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, MailbeaconError)
    status, body, headers = problem_for(exc)
    return Response(body, status_code=status, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()))
    detail = f"{where}: {first.get('msg', 'invalid')}" if where else "the request does not match the schema"
    errors = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))} for e in exc.errors()[:20]]
    body = problem_body(422, "invalid_request", "The request does not match the schema", detail, errors=errors)
    return Response(body, status_code=422, media_type=PROBLEM_TYPE)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    body = problem_body(exc.status_code, code, str(exc.detail), str(exc.detail))
    return Response(body, status_code=exc.status_code, media_type=PROBLEM_TYPE, headers=exc.headers)


def _problems_in_openapi(app: FastAPI) -> None:
    """Error answers are `application/problem+json` in the document too, as they are on the wire."""
    make = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = make()
            for ops in doc.get("paths", {}).values():
                for op in ops.values():
                    for status, resp in op.get("responses", {}).items():
                        content = resp.get("content", {})
                        if status[0] in "45" and "application/json" in content:
                            content[PROBLEM_TYPE] = content.pop("application/json")
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _documented_routes(app: FastAPI) -> None:
    """Inbound mail and provider events keep their Starlette handlers (they read the request
    themselves); they are in the OpenAPI document all the same. The browser extension's routes
    authenticate themselves (a signature, the device cookie or a pairing code) and find the device
    by its own id, not in a principal's scoped view: they live in web/extension.py, outside the
    route modules here."""
    from .. import extension, inbound
    from ..providers import receive_provider_event

    app.include_router(extension.router)
    app.add_api_route(
        "/api/v1/inbound",
        inbound.receive_inbound,
        methods=["POST"],
        tags=["messages"],
        summary="An inbound message (reply, auto-reply, bounce) from an MTA or a provider's webhook",
        response_class=Response,
        responses={
            200: {"model": InboundOut, "description": "recognised; nothing new to record"},
            201: {"model": InboundOut, "description": "recorded"},
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "description": "the raw message (RFC 5322), any content type; at most smtp_max_size bytes",
                "content": {
                    "message/rfc822": {"schema": {"type": "string"}},
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                },
            }
        },
    )

    app.add_api_route(
        "/api/v1/providers/{provider}/{secret}",
        receive_provider_event,
        methods=["POST"],
        tags=["providers"],
        summary="An email provider's event webhook: bounces and complaints (docs/providers.md)",
        response_class=Response,
        responses={200: {"model": ProviderEventsOut, "description": "verified; its bounces and complaints recorded"}},
        openapi_extra={
            "parameters": [
                {"name": "provider", "in": "path", "required": True, "schema": {"enum": list(PROVIDERS)}},
                {"name": "secret", "in": "path", "required": True, "schema": {"type": "string"}},
            ],
            "requestBody": {
                "required": True,
                "description": "the provider's notification as it posts it (JSON; SNS posts it as text/plain)",
                "content": {
                    "application/json": {"schema": {}},
                    "text/plain": {"schema": {"type": "string"}},
                },
            },
        },
    )


def build_api(runtime: Runtime, intake: Intake, extra_routes: Sequence[BaseRoute] = ()) -> FastAPI:
    app = FastAPI(
        title="mailbeacon",
        version="1",
        summary="Opens, clicks and replies per recipient, with machines, scanners and the sender's own views told apart.",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,
        redoc_url=None,
        responses=PROBLEM_RESPONSES,
    )
    for router in (
        messages.router,
        sending.router,
        messages.stats_router,
        accounts.router,
        workspace.router,
        mailboxes.router,
        own_pixels.router,
        events.router,
        providers.router,
        webhooks.router,
    ):
        app.include_router(router)
    _documented_routes(app)
    docs.install(app)
    app.router.routes.extend(extra_routes)
    app.add_exception_handler(MailbeaconError, _mailbeacon_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    _problems_in_openapi(app)
    app.state.runtime = runtime
    app.state.intake = intake
    return app
