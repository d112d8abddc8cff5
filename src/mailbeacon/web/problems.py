"""Errors as RFC 9457 problem details: `application/problem+json` with a stable `code`.

Every `MailbeaconError` class has its status and code here (a test walks the class tree):
what the caller got wrong is 4xx; the server's configuration, its database and the upstream
mail server failing are 5xx. The JSON also carries `error` (the same sentence as `detail`),
which the routes before v1's OpenAPI answered with.

One translation: the FastAPI app's handlers answer with `problem_for`, and the edges in front of
it (principal.py, body.py) answer with `send_problem`, the same bytes written to ASGI `send`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from ..errors import (
    AuthError,
    ConfigError,
    Conflict,
    Forbidden,
    InvalidInput,
    MailbeaconError,
    NotFound,
    StoreUnavailable,
    Throttled,
    TooLarge,
    UpstreamError,
    UpstreamPermanent,
    UpstreamTemporary,
)

CHALLENGE = 'Bearer realm="mailbeacon", Basic realm="mailbeacon"'
PROBLEM_TYPE = "application/problem+json"

#: error class -> (HTTP status, stable code, title). Most specific first.
STATUS: dict[type[MailbeaconError], tuple[int, str, str]] = {
    Throttled: (429, "throttled", "Too many failed sign-ins"),
    AuthError: (401, "unauthenticated", "Authentication required"),
    Forbidden: (403, "forbidden", "Not allowed for this role"),
    NotFound: (404, "not_found", "Not found"),
    Conflict: (409, "conflict", "Conflict"),
    TooLarge: (413, "too_large", "The request body is too large"),
    InvalidInput: (400, "invalid_input", "Invalid input"),
    ConfigError: (500, "server_configuration", "The server is misconfigured"),
    StoreUnavailable: (503, "store_unavailable", "The database is unavailable"),
    UpstreamTemporary: (503, "upstream_temporary", "The upstream mail server failed for now"),
    UpstreamPermanent: (502, "upstream_refused", "The upstream mail server refused"),
    UpstreamError: (502, "upstream_failed", "The upstream mail server failed"),
    MailbeaconError: (500, "internal", "Internal error"),
}


def status_of(exc: MailbeaconError) -> tuple[int, str, str]:
    """The entry of the nearest class of `exc` in `STATUS`."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return STATUS[MailbeaconError]


def problem_body(status: int, code: str, title: str, detail: str, **extra: Any) -> bytes:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "code": code, "detail": detail}
    body["error"] = detail
    body.update(extra)
    return json.dumps(body).encode()


def problem_for(exc: MailbeaconError) -> tuple[int, bytes, dict[str, str]]:
    """Status, body and headers of the answer to `exc`."""
    status, code, title = status_of(exc)
    headers = {"content-type": PROBLEM_TYPE}
    if status == 401:
        headers["www-authenticate"] = CHALLENGE
    retry = getattr(exc, "retry_after", None)
    if isinstance(retry, int):
        headers["retry-after"] = str(retry)
    elif status == 503:
        headers["retry-after"] = "5"
    return status, problem_body(status, code, title, str(exc)), headers


async def send_problem(
    send: Callable[[dict[str, Any]], Awaitable[None]], exc: MailbeaconError, *, close: bool = False
) -> None:
    """Answer `exc` as a raw ASGI response (the edges that run before the app). `close`: the
    request body was not read, so the connection is not kept for another request."""
    status, body, extra = problem_for(exc)
    headers = [(k.encode(), v.encode()) for k, v in extra.items()] + [(b"content-length", str(len(body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
