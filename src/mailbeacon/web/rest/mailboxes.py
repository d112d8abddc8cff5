"""/api/v1/mailboxes: the IMAP mailboxes watched for replies (add, state, check now, remove)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path, Response

from ...imap import parse_url
from ...store.mailboxes import Mailbox
from .deps import CtxDep
from .mail_models import MailboxChecked, MailboxIn, MailboxOut

router = APIRouter(tags=["mailboxes"])
MailboxId = Annotated[int, Path(ge=1, le=2**31)]


def _out(b: Mailbox) -> MailboxOut:
    return MailboxOut(
        id=b.id,
        user_id=b.user_id,
        url=b.url,
        folders=list(b.folders),
        state=b.state,
        last_error=b.last_error,
        last_ok_at=b.last_ok_at,
        last_seen_at=b.last_seen_at,
    )


@router.get("/api/v1/mailboxes", response_model=list[MailboxOut])
async def list_mailboxes(ctx: CtxDep) -> list[MailboxOut]:
    """An admin: the workspace's mailboxes; a member: their own."""
    return [_out(b) for b in await asyncio.to_thread(ctx.view.mailboxes)]


@router.post("/api/v1/mailboxes", response_model=MailboxOut, status_code=201)
async def add_mailbox(ctx: CtxDep, body: MailboxIn) -> MailboxOut:
    """Watch one of the caller's mailboxes; `mailbeacon serve` picks it up within one poll interval."""
    url = parse_url(body.imap)
    sealed = ctx.mailroom.seal(body.password)
    box = await asyncio.to_thread(
        ctx.view.add_mailbox, ctx.principal.user.id, url.display, sealed, list(dict.fromkeys(body.folders)), ctx.clock()
    )
    return _out(box)


@router.get("/api/v1/mailboxes/{mailbox_id}", response_model=MailboxOut)
async def get_mailbox(ctx: CtxDep, mailbox_id: MailboxId) -> MailboxOut:
    return _out(await asyncio.to_thread(ctx.view.mailbox, mailbox_id))


@router.post("/api/v1/mailboxes/{mailbox_id}/check", response_model=MailboxChecked)
async def check_mailbox(ctx: CtxDep, mailbox_id: MailboxId) -> MailboxChecked:
    """Connect once now and handle everything new (also shows whether the login works)."""
    r = await ctx.mailroom.check(mailbox_id)
    return MailboxChecked(messages=r.messages, fetched=r.fetched, recorded=r.recorded, folders=dict(r.folders))


@router.delete("/api/v1/mailboxes/{mailbox_id}", status_code=204)
async def remove_mailbox(ctx: CtxDep, mailbox_id: MailboxId) -> Response:
    """Stop watching it (recorded replies stay)."""
    await asyncio.to_thread(ctx.view.remove_mailbox, mailbox_id)
    return Response(status_code=204)
