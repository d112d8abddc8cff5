"""/api/v1/providers: a workspace's email providers whose bounces and complaints come in (admins only).

The webhook URL holds a secret that is stored hashed: it is in the answer when the hook is made
(or `new_url` asks for a new one), never afterwards. Keys are stored encrypted and shown only as
whether they are set.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from ... import provider_events
from .deps import ProviderDeskDep

router = APIRouter(tags=["providers"])
Provider = Literal["ses", "sendgrid", "mailgun", "postmark"]


class ProviderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    provider: Provider
    #: SendGrid: the verification key of the signed event webhook (base64, as SendGrid shows it)
    public_key: str | None = Field(None, max_length=2000)
    #: Mailgun: the HTTP webhook signing key
    signing_key: str | None = Field(None, max_length=300)
    #: Postmark: the Basic credentials of the webhook URL (a password is made when none is given)
    username: str | None = Field(None, max_length=100)
    password: str | None = Field(None, max_length=200)
    #: Amazon SES: the SNS topics whose notifications are taken
    topic_arns: list[Annotated[str, Field(max_length=300)]] | None = Field(None, max_length=20)
    #: make a new webhook URL (the old one stops working)
    new_url: bool = False


class ProviderRemove(BaseModel):
    model_config = ConfigDict(extra="forbid")
    provider: Provider


class ProviderOut(BaseModel):
    provider: Provider
    #: the configuration; secrets only as whether they are set
    settings: dict[str, Any]
    #: the URL to paste in the provider's console: only when it was made by this request
    webhook_url: str | None = None
    created_at: datetime
    updated_at: datetime


def _out(
    provider: str, config: dict[str, Any], created: datetime, updated: datetime, url: str | None = None
) -> ProviderOut:
    return ProviderOut(
        provider=provider,  # type: ignore[arg-type]  # only PROVIDERS are stored
        settings=provider_events.shown(provider, config),
        webhook_url=url,
        created_at=created,
        updated_at=updated,
    )


@router.get("/api/v1/providers", response_model=list[ProviderOut])
async def list_providers(d: ProviderDeskDep) -> list[ProviderOut]:
    """The workspace's providers and what is set for each."""
    hooks = await asyncio.to_thread(d.all)
    return [_out(h.provider, cfg, h.created_at, h.updated_at) for h, cfg in hooks]


@router.put("/api/v1/providers", response_model=ProviderOut)
async def set_provider(d: ProviderDeskDep, body: ProviderIn) -> ProviderOut:
    """Set a provider's keys (the fields given change; the others stay). The first time, and with
    `new_url`, the answer holds the webhook URL to paste in the provider's console."""
    changes = body.model_dump(exclude={"provider", "new_url"}, exclude_none=True)
    done = await asyncio.to_thread(lambda: d.put(body.provider, changes, new_url=body.new_url))
    return _out(body.provider, done.config, done.hook.created_at, done.hook.updated_at, done.url)


@router.delete("/api/v1/providers", status_code=204, response_class=Response)
async def remove_provider(d: ProviderDeskDep, body: ProviderRemove) -> Response:
    """Stop taking a provider's notifications (its webhook URL stops working)."""
    await asyncio.to_thread(d.remove, body.provider)
    return Response(status_code=204)
