"""`POST /api/v1/inbound`: a raw RFC 5322 message from an MTA or a mail provider's inbound webhook.

The body is the message itself (any content type). It goes through the same recognition as
mail found by the IMAP watcher, among the calling user's tracked mail (an admin's token: the
whole workspace's), and is recorded once per tracked email however often it is posted.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..errors import InvalidInput
from ..inbound import take_in
from ..pipeline import Pipeline
from ..runtime import Runtime
from .auth import authenticate


async def receive_inbound(request: Request) -> Response:
    rt: Runtime = request.app.state.runtime
    pipeline: Pipeline = request.app.state.pipeline
    user = await authenticate(request, rt)
    chunks = [chunk async for chunk in request.stream()]  # within smtp_max_size (see body.py)
    raw = b"".join(chunks)
    if not raw.strip():
        raise InvalidInput("send the raw message (RFC 5322) as the request body")
    scope: dict[str, Any] = {"workspace_id": user.workspace_id} if user.is_admin else {"user_id": user.id}
    outcome = await asyncio.to_thread(take_in, pipeline, raw, source="api", **scope)
    a = outcome.analysis
    recorded = {(r.message_id, r.rfc_message_id) for r in outcome.recorded}
    return JSONResponse(
        {
            "message_id": a.rfc_message_id,
            "machine_kind": a.machine_kind.value if a.machine_kind else None,
            "matched": a.matched,
            "reasons": [[r.code, r.text] for r in a.reasons],
            "replies": [
                {
                    "message": r.message_id,
                    "recipient": r.recipient_id,
                    "kind": r.kind.value,
                    "from": r.from_address,
                    "at": r.at.isoformat().replace("+00:00", "Z"),
                    "other_address": r.other_address,
                    "new": (r.message_id, r.rfc_message_id) in recorded,
                    "detail": dict(r.detail),
                }
                for r in a.replies
            ],
        },
        status_code=201 if outcome.recorded else 200,
    )
