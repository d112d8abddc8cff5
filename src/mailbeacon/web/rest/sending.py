"""POST /api/v1/messages: instrument a message; per-recipient copies back, or relayed upstream."""

from __future__ import annotations

import asyncio
import base64
import binascii

from fastapi import APIRouter

from ...errors import InvalidInput
from .deps import CtxDep
from .mail_models import CopyOut, SendIn, SendOut

router = APIRouter(tags=["messages"])


@router.post("/api/v1/messages", response_model=SendOut, status_code=201, summary="Instrument a message")
async def send_message(ctx: CtxDep, body: SendIn) -> SendOut:
    """One tracked copy per recipient (send each to its address only), or, with `relay`, sent
    through the sender's upstream server (the copies are then not returned)."""
    try:
        raw = base64.b64decode(body.raw, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("raw must be the message in base64") from None
    if not raw.strip():
        raise InvalidInput("raw is empty: send the message (RFC 5322) in base64")
    sender = body.sender or ctx.principal.user.email
    result = await asyncio.to_thread(ctx.outbox.instrument, raw, sender, body.recipients, body.track)
    outcome = await ctx.outbox.relay(result) if body.relay else {}
    return SendOut(
        id=result.message_id,
        message_id=result.rfc_message_id,
        instrumented=result.instrumented,
        failure=result.failure,
        notes=list(result.notes),
        tracking={"opens": result.tracking.opens, "clicks": result.tracking.clicks, "replies": result.tracking.replies},
        links=len(result.links),
        copies=[
            CopyOut(
                address=c.address,
                recipient_id=c.recipient_id,
                field=c.field.value,
                relation=c.relation.value,
                raw=None if body.relay else base64.b64encode(c.data).decode("ascii"),
                code=outcome[c.address][0] if c.address in outcome else None,
                reply=outcome[c.address][1] if c.address in outcome else None,
            )
            for c in result.copies
        ],
    )
