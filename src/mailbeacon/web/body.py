"""Request body limits, enforced while the body streams in — before anything is buffered.

`BodyLimit` wraps the API app: a declared `Content-Length` above the route's limit is answered
413 at once; a body without one (chunked) is counted chunk by chunk as the endpoint reads it,
and the read that goes past the limit raises `TooLarge` (answered 413). A body nobody reads
is never buffered by the app. The tracking endpoints read no body at all.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ..errors import TooLarge
from .tracking import ASGIApp, Receive, Scope, Send

#: every API route but /api/v1/inbound (whose limit is `smtp_max_size`)
JSON_LIMIT = 64 * 1024


def too_large(limit: int, setting: str) -> str:
    return f"the request body is larger than {limit} bytes" + (f" ({setting})" if setting else "")


class BodyLimit:
    """`limit_for(path)` gives the route's limit in bytes and the setting that sets it ('' if none)."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], tuple[int, str]]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, setting = self.limit_for(scope["path"])
        declared = [v for k, v in scope["headers"] if k == b"content-length"]
        if declared:
            if len(declared) > 1 or not declared[0].isdigit() or len(declared[0]) > 18:
                await _answer(send, 400, "the Content-Length header is not one number")
                return
            if int(declared[0]) > limit:
                await _answer(send, 413, too_large(limit, setting))
                return
        seen = 0

        async def limited() -> dict[str, Any]:
            nonlocal seen
            message = dict(await receive())
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise TooLarge(too_large(limit, setting))
            return message

        await self.app(scope, limited, send)


async def _answer(send: Send, status: int, error: str) -> None:
    body = json.dumps({"error": error}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers.append((b"connection", b"close"))  # the unread body is not worth reading
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
