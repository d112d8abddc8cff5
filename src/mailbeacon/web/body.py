"""Request bodies: their limits, enforced while the body streams in — before anything is buffered —
and reading a JSON body into its model.

`BodyLimit` wraps the API app: a declared `Content-Length` above the route's limit is answered
413 at once (a problem detail, web/problems.py); a body without one (chunked) is counted chunk by chunk as the endpoint reads it,
and the read that goes past the limit raises `TooLarge` (answered 413). A body nobody reads
is never buffered by the app. The tracking endpoints read no body at all.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from ..errors import InvalidInput, TooLarge
from .problems import send_problem
from .tracking import ASGIApp, Receive, Scope, Send

M = TypeVar("M", bound=BaseModel)

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
                await send_problem(send, InvalidInput("the Content-Length header is not one number"), close=True)
                return
            if int(declared[0]) > limit:  # the unread body is not worth reading
                await send_problem(send, TooLarge(too_large(limit, setting)), close=True)
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


async def json_object(request: Request) -> dict[str, Any]:
    """The JSON object of the body (at most the route's limit: `BodyLimit` stops longer ones)."""
    body = await request.body()
    try:
        data = json.loads(body or b"{}")
    except (ValueError, RecursionError):
        raise InvalidInput("the request body is not JSON (or nests too deeply)") from None
    if not isinstance(data, dict):
        raise InvalidInput("the request body must be a JSON object")
    return data


async def read_model(request: Request, model: type[M]) -> M:
    """The body as `model`; anything else is a 400 `invalid_input` naming the first wrong field."""
    data = await json_object(request)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(f"{where}: {first['msg']}" if where else str(first["msg"])) from None


def openapi_body(model: type[BaseModel]) -> dict[str, Any]:
    """The `openapi_extra` of a route that reads its JSON body with `read_model`."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}
