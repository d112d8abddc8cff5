"""/api/v1/messages: the list (filters, cursor pages), one message, a recipient's timeline, statistics."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from ...diagnose import diagnose
from ...model import Message, Recipient
from ...reports import delivery, untracked
from ...rewrite import clipped_by_gmail
from ...stats import Counts
from ...store import MessageFilter, StoredVerdict
from ...switches import REASONS
from .deps import CtxDep
from .models import (
    DayNumbers,
    IsoTime,
    MachineNumbers,
    MessageDetail,
    MessageHit,
    MessagePageOut,
    MessageSummary,
    Numbers,
    Reason,
    RecipientNumbers,
    Timeline,
    TimelineHit,
    TimelineReply,
    UserNumbers,
    WhyAnswer,
)

router = APIRouter(tags=["messages"])
stats_router = APIRouter(tags=["statistics"])
MAX_LIMIT = 200
MessageId = Annotated[int, Path(ge=1, le=2**63 - 1)]
RecipientId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def numbers(counts: Iterable[Counts], *, machine: bool = True) -> Numbers:
    cs = list(counts)
    return Numbers(
        opens=sum(c.opens for c in cs),
        unique_opens=sum(1 for c in cs if c.opens),
        opens_inferred=sum(c.opens_inferred for c in cs),
        clicks=sum(c.clicks for c in cs),
        unique_clicks=sum(1 for c in cs if c.clicks),
        replies=sum(c.replies for c in cs),
        unique_replies=sum(1 for c in cs if c.replies),
        auto_replies=sum(c.auto_replies for c in cs),
        bounces=sum(c.bounces for c in cs),
        opens_self=sum(c.opens_self for c in cs),
        clicks_self=sum(c.clicks_self for c in cs),
        machine=MachineNumbers(
            opens_machine=sum(c.opens_machine for c in cs) if machine else 0,
            opens_scanner=sum(c.opens_scanner for c in cs) if machine else 0,
            opens_other=sum(c.opens_other for c in cs) if machine else 0,
            clicks_scanner=sum(c.clicks_scanner for c in cs) if machine else 0,
            clicks_other=sum(c.clicks_other for c in cs) if machine else 0,
        ),
    )


def _tracking(m: Message) -> dict[str, bool]:
    return {k: bool(m.tracking.get(k)) for k in ("opens", "clicks", "replies")}


def _summary(m: Message, rcpts: list[Recipient], counts: Mapping[int, Counts]) -> MessageSummary:
    return MessageSummary(
        id=m.id,
        message_id=m.rfc_message_id,
        user_id=m.user_id,
        sender=m.sender,
        subject=m.subject,
        sent_at=m.sent_at,
        recipients=len(rcpts),
        tracking=_tracking(m),
        numbers=numbers(counts.get(r.id, Counts()) for r in rcpts),
    )


def _recipient_numbers(r: Recipient, c: Counts, pending: int = 0) -> RecipientNumbers:
    return RecipientNumbers(
        id=r.id,
        address=r.address,
        field=r.field.value,
        relation=r.relation.value,
        opens=c.opens,
        opens_inferred=c.opens_inferred,
        inferred_from=c.inferred_from,
        clicks=c.clicks,
        replies=c.replies,
        auto_replies=c.auto_replies,
        bounces=c.bounces,
        opens_self=c.opens_self,
        clicks_self=c.clicks_self,
        opens_machine=c.opens_machine,
        clicks_scanner=c.clicks_scanner,
        first_open_at=c.effective_first_open_at,
        last_open_at=c.effective_last_open_at,
        first_click_at=c.first_click_at,
        last_click_at=c.last_click_at,
        pending_hits=pending,
    )


def encode_cursor(message_id: int) -> str:
    """Opaque to clients (today: the last id of the page)."""
    return str(message_id)


def decode_cursor(cursor: str) -> int:
    return min(int(cursor), 2**63 - 1)


@router.get("/api/v1/messages", response_model=MessagePageOut, summary="List messages, newest first")
async def list_messages(
    ctx: CtxDep,
    q: Annotated[
        str | None, Query(max_length=200, description="the subject or a recipient's address contains this (any case)")
    ] = None,
    sender: Annotated[str | None, Query(max_length=320, description="the sender's address")] = None,
    since: Annotated[IsoTime | None, Query(description="sent at or after (ISO 8601)")] = None,
    until: Annotated[IsoTime | None, Query(description="sent before (ISO 8601)")] = None,
    opened: Annotated[bool | None, Query(description="opened by a person (or inferred: R5), or not")] = None,
    clicked: bool | None = None,
    replied: bool | None = None,
    bounced: bool | None = None,
    cursor: Annotated[
        str | None, Query(pattern=r"^[1-9][0-9]{0,18}$", description="next_cursor of the page before")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> MessagePageOut:
    """An admin sees the workspace's messages, a member their own. The page costs three queries
    however many messages it holds."""
    f = MessageFilter(
        q=q,
        sender=sender,
        since=_aware(since),
        until=_aware(until),
        opened=opened,
        clicked=clicked,
        replied=replied,
        bounced=bounced,
    )
    before = decode_cursor(cursor) if cursor else None
    page = await asyncio.to_thread(ctx.view.message_page, f, before_id=before, limit=limit)
    items = [_summary(m, page.recipients.get(m.id, []), page.counts) for m in page.messages]
    nxt = encode_cursor(page.messages[-1].id) if page.more and page.messages else None
    return MessagePageOut(items=items, next_cursor=nxt)


def _aware(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


@router.get("/api/v1/messages/{message_id}", response_model=MessageDetail, summary="One message")
async def get_message(ctx: CtxDep, message_id: MessageId) -> MessageDetail:
    def load() -> MessageDetail:
        msg = ctx.view.message(message_id)
        rcpts, counts, provisional = ctx.view.counts(msg.id)
        links = ctx.view.link_urls(msg.id)
        base = _summary(msg, rcpts, counts)
        size = msg.outcome.get("html_bytes")
        html_bytes = size if isinstance(size, int) else 0
        reasons = msg.tracking.get("reasons")
        return MessageDetail(
            **base.model_dump(),
            tracking_off=[REASONS.get(str(c), str(c)) for c in (reasons if isinstance(reasons, list) else [])],
            untracked=untracked(msg.outcome),
            delivery={k: str(v) for k, v in delivery(msg.outcome, len(rcpts)).items()},
            html_bytes=html_bytes,
            clipped_by_gmail=clipped_by_gmail(html_bytes),
            links=links,
            recipient_numbers=[
                _recipient_numbers(r, counts[r.id], sum(provisional.get(r.id, {}).values())) for r in rcpts
            ],
        )

    return await asyncio.to_thread(load)


@router.get(
    "/api/v1/messages/{message_id}/recipients/{recipient_id}",
    response_model=Timeline,
    summary="A recipient's timeline",
)
async def recipient_timeline(ctx: CtxDep, message_id: MessageId, recipient_id: RecipientId) -> Timeline:
    """Every hit with its verdict class, reasons and time; the replies, auto-replies and bounces."""

    def load() -> Timeline:
        rcpt, counts, hits, replies = ctx.view.timeline(message_id, recipient_id)
        return Timeline(
            recipient=_recipient_numbers(rcpt, counts),
            hits=[TimelineHit(**_hit_fields(sv)) for sv in hits],
            replies=[
                TimelineReply(
                    kind=r.kind.value,
                    at=r.at,
                    from_address=r.from_address,
                    other_address=r.other_address,
                    source=r.source,
                )
                for r in replies
            ],
        )

    return await asyncio.to_thread(load)


@router.get(
    "/api/v1/messages/{message_id}/recipients/{address}/why",
    response_model=WhyAnswer,
    summary="Why these numbers: the troubleshooting answer for one recipient",
)
async def recipient_why(
    ctx: CtxDep, message_id: MessageId, address: Annotated[str, Path(max_length=320)]
) -> dict[str, Any]:
    """The same answer as `mailbeacon why MESSAGE ADDRESS --json` (R10)."""

    def load() -> dict[str, Any]:
        facts = ctx.view.why_facts(message_id, address, public_url=ctx.public_url, settle_window=ctx.settle_window)
        return diagnose(facts, ctx.clock()).as_json()

    return await asyncio.to_thread(load)


def _hit_fields(sv: StoredVerdict) -> dict[str, Any]:
    v = sv.verdict
    return {
        "id": sv.hit.id or 0,
        "at": sv.hit.at,
        "kind": sv.hit.kind.value,
        "link": sv.hit.link,
        "method": sv.hit.method,
        "ip": sv.hit.ip,
        "user_agent": sv.hit.user_agent,
        "verdict": v.cls.value if v else None,
        "subtype": v.subtype if v else None,
        "reasons": [Reason(code=r.code, text=r.text) for r in v.reasons] if v else [],
        "settled": sv.settled,
    }


@router.get("/api/v1/messages/{message_id}/hits", response_model=list[MessageHit], summary="Every hit of a message")
async def message_hits(ctx: CtxDep, message_id: MessageId) -> list[MessageHit]:
    def load() -> list[MessageHit]:
        rcpts, hits = ctx.view.hits(message_id)
        address = {r.id: r.address for r in rcpts}
        return [
            MessageHit(
                **_hit_fields(sv), recipient_id=sv.hit.recipient_id, recipient=address.get(sv.hit.recipient_id, "")
            )
            for sv in hits
        ]

    return await asyncio.to_thread(load)


# -- statistics -------------------------------------------------------------------------------

Machine = Annotated[bool, Query(description="include machine events (prefetches, scanners) in `machine`")]


@stats_router.get("/api/v1/stats/messages/{message_id}", response_model=Numbers, summary="A message's numbers")
async def message_stats(ctx: CtxDep, message_id: MessageId, machine: Machine = True) -> Numbers:
    def load() -> Numbers:
        rcpts, counts, _ = ctx.view.counts(message_id)
        return numbers((counts[r.id] for r in rcpts), machine=machine)

    return await asyncio.to_thread(load)


@stats_router.get("/api/v1/stats/days", response_model=list[DayNumbers], summary="Numbers per day")
async def daily_stats(
    ctx: CtxDep,
    since: Annotated[IsoTime | None, Query(description="sent at or after (ISO 8601)")] = None,
    until: Annotated[IsoTime | None, Query(description="sent before (ISO 8601)")] = None,
    user_id: Annotated[int | None, Query(ge=1, le=2**31)] = None,
    machine: Machine = True,
) -> list[DayNumbers]:
    """Per day the messages were sent (UTC). Opens here are summed over recipients; unique counts
    and inferred opens need the per-message numbers."""
    days = await asyncio.to_thread(ctx.view.daily, since=_aware(since), until=_aware(until), user_id=user_id)
    return [DayNumbers(day=d.day, messages=d.messages, numbers=numbers([d.counts], machine=machine)) for d in days]


@stats_router.get("/api/v1/stats/users", response_model=list[UserNumbers], summary="Numbers per sender")
async def user_stats(
    ctx: CtxDep,
    since: Annotated[IsoTime | None, Query(description="sent at or after (ISO 8601)")] = None,
    until: Annotated[IsoTime | None, Query(description="sent before (ISO 8601)")] = None,
    machine: Machine = True,
) -> list[UserNumbers]:
    """Per sender of the visible messages (a member: themself)."""

    def load() -> list[UserNumbers]:
        members = ctx.view.members() if ctx.principal.is_admin else [ctx.principal.user]
        out = []
        for u in members:
            days = ctx.view.daily(since=_aware(since), until=_aware(until), user_id=u.id)
            counts = [d.counts for d in days]
            out.append(
                UserNumbers(
                    user_id=u.id,
                    email=u.email,
                    messages=sum(d.messages for d in days),
                    numbers=numbers(counts, machine=machine),
                )
            )
        return out

    return await asyncio.to_thread(load)
