"""The bodies of /api/v1/webhooks: endpoints, the secret shown once, the delivery log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from ...model import EventKind
from .models import Model

Url = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
Description = Annotated[str, StringConstraints(max_length=200)]
Events = Annotated[list[EventKind], Field(max_length=20, description="the event types it receives; empty: every type")]


class WebhookIn(Model):
    url: Url = Field(description="the receiver: an http(s) URL on a public address (see docs/webhooks.md)")
    events: Events = Field(default_factory=list)
    description: Description = ""
    enabled: bool = True


class WebhookPatch(Model):
    url: Url | None = None
    events: Events | None = None
    description: Description | None = None
    enabled: bool | None = Field(default=None, description="true enables a disabled endpoint again")


class WebhookOut(BaseModel):
    id: int
    url: str
    events: list[str]
    description: str
    enabled: bool
    disabled_reason: str | None = Field(description="why mailbeacon disabled it (sustained failure); null if not")
    failing_since: datetime | None = Field(description="first failed attempt since the last delivery that worked")
    created_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(description="the signing secret (whsec_...): shown only now")


class DeliveryOut(BaseModel):
    id: int
    webhook_id: int
    msg_id: str = Field(description="the webhook-id header: evt_<event id>, the same on every attempt")
    event_id: int | None = Field(description="the outbox event; null for a test event")
    type: str
    state: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status: int | None = Field(description="the receiver's last HTTP status; null if it did not answer")
    last_error: str | None
    created_at: datetime
    payload: dict[str, Any] = Field(description="the JSON body sent")


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next (older) page; null on the last")
