"""GET /api/v1/devices/me/own-pixels: the pixel tokens of the paired user's own recent mail.

The browser extension turns each into a `declarativeNetRequest` block rule, so that a page of
any site loading the sender's own pixel directly is stopped in the browser (a block rule needs
no access to that site) and becomes a self-view beacon instead of an open. A colleague's pixel
is not in the list, so it loads and counts (R6).

Tokens are not stored: they are signed again (tokens.py), once per signing key that verifies,
since which key signed a message is not recorded (a handful of keys: a handful of tokens per
recipient). Only the caller's own messages, whatever their role; the extension asks with its
device token (any credential of the user gets the same).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from ...model import HitKind
from .deps import CtxDep
from .models import Model

router = APIRouter(tags=["devices"])

#: how far back the sender's own mail is looked for (a Sent folder is mostly read in the first days)
OWN_PIXEL_DAYS = 30
#: at most this many tokens in one answer, newest mail first: under Chrome's 5000 dynamic rules
MAX_OWN_PIXELS = 4000


class OwnPixelOut(Model):
    token: str
    message_id: int
    sent_at: datetime


class OwnPixelsOut(Model):
    pixels: list[OwnPixelOut]
    cursor: str  # give it back as `since` to get only the mail sent after this answer's
    keep_days: int  # drop a token once its mail is older than this: it is not sent again
    limit: int  # at most this many tokens in one answer (newest mail first)


@router.get(
    "/api/v1/devices/me/own-pixels",
    response_model=OwnPixelsOut,
    summary="The pixel tokens of the paired device's user's own recent mail",
)
async def own_pixels(
    ctx: CtxDep,
    since: Annotated[int, Query(ge=0, le=2**63 - 1, description="the `cursor` of the previous answer")] = 0,
) -> OwnPixelsOut:
    """For the browser extension (its device token, `Authorization: Bearer mbd_…`): the open
    pixel tokens of the mail its user sent in the last `keep_days` days, newest first, every
    token each message's pixel may carry; with `since`, only mail after that cursor."""
    keys = ctx.keyring.key_ids
    sent_after = ctx.clock() - timedelta(days=OWN_PIXEL_DAYS)
    found = await asyncio.to_thread(
        ctx.view.own_pixels, sent_after=sent_after, after_id=since, limit=MAX_OWN_PIXELS // len(keys)
    )
    ws = ctx.principal.workspace_id
    pixels = [
        OwnPixelOut(
            token=ctx.keyring.sign(HitKind.OPEN, ws, p.message_id, p.recipient_id, kid=kid),
            message_id=p.message_id,
            sent_at=p.sent_at,
        )
        for p in found
        for kid in keys
    ]
    cursor = max((p.message_id for p in found), default=since)
    return OwnPixelsOut(pixels=pixels, cursor=str(cursor), keep_days=OWN_PIXEL_DAYS, limit=MAX_OWN_PIXELS)
