"""/api/v1/providers: a workspace's email providers whose bounces and complaints come in (admins only).

The webhook URL holds a secret that is stored hashed: it is in the answer when the hook is made
(or `new_url` asks for a new one), never afterwards. Keys are stored encrypted and shown only as
whether they are set.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from ... import provider_events
from ...errors import NotFound
from ...runtime import Runtime
from .deps import CtxDep

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


class ProviderDesk:
    """The providers of the caller's workspace."""

    def __init__(self, runtime: Runtime, workspace_id: int) -> None:
        self._rt = runtime
        self._workspace_id = workspace_id

    def all(self) -> list[ProviderOut]:
        return [
            ProviderOut(
                provider=h.provider,  # type: ignore[arg-type]  # only PROVIDERS are stored
                settings=provider_events.shown(h.provider, cfg),
                created_at=h.created_at,
                updated_at=h.updated_at,
            )
            for h, cfg in provider_events.configs(self._rt, self._workspace_id)
        ]

    def put(self, body: ProviderIn) -> ProviderOut:
        changes = body.model_dump(exclude={"provider", "new_url"}, exclude_none=True)
        done = provider_events.configure(self._rt, self._workspace_id, body.provider, changes, new_url=body.new_url)
        return ProviderOut(
            provider=body.provider,
            settings=provider_events.shown(body.provider, done.config),
            webhook_url=done.url,
            created_at=done.hook.created_at,
            updated_at=done.hook.updated_at,
        )

    def remove(self, provider: str) -> None:
        try:
            self._rt.store.remove_provider_hook(self._workspace_id, provider)
        except NotFound:
            pass  # gone already: removing twice is the same as once


def desk(request: Request, ctx: CtxDep) -> ProviderDesk:
    ctx.require_admin()
    return ProviderDesk(request.app.state.runtime, ctx.principal.workspace_id)


DeskDep = Annotated[ProviderDesk, Depends(desk)]


@router.get("/api/v1/providers", response_model=list[ProviderOut])
async def list_providers(d: DeskDep) -> list[ProviderOut]:
    """The workspace's providers and what is set for each."""
    return await asyncio.to_thread(d.all)


@router.put("/api/v1/providers", response_model=ProviderOut)
async def set_provider(d: DeskDep, body: ProviderIn) -> ProviderOut:
    """Set a provider's keys (the fields given change; the others stay). The first time, and with
    `new_url`, the answer holds the webhook URL to paste in the provider's console."""
    return await asyncio.to_thread(d.put, body)


@router.delete("/api/v1/providers", status_code=204, response_class=Response)
async def remove_provider(d: DeskDep, body: ProviderRemove) -> Response:
    """Stop taking a provider's notifications (its webhook URL stops working)."""
    await asyncio.to_thread(d.remove, body.provider)
    return Response(status_code=204)
