"""The request and response bodies of REST API v1 (pydantic models; they make the OpenAPI schemas)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

DeviceKind = Literal["extension", "dashboard", "other"]
Role = Literal["admin", "member"]


def _iso_only(value: object) -> object:
    """Times in ISO 8601 only (pydantic would also take a number as a Unix time)."""
    if isinstance(value, str) and re.match(r"^\d{4}-\d{2}-\d{2}", value):
        return value
    if isinstance(value, datetime):
        return value
    raise ValueError("give the time in ISO 8601, e.g. 2026-12-01T00:00:00Z")


IsoTime = Annotated[datetime, BeforeValidator(_iso_only)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Problem(BaseModel):
    """RFC 9457 problem details; `code` is stable, `detail` a sentence for people."""

    type: str = "about:blank"
    title: str
    status: int
    code: str
    detail: str
    error: str


# -- numbers ----------------------------------------------------------------------------------


class MachineNumbers(BaseModel):
    """Machine events: privacy prefetches, scanners, previews, unclassified."""

    opens_machine: int
    opens_scanner: int
    opens_other: int
    clicks_scanner: int
    clicks_other: int


class Numbers(BaseModel):
    """What people did (R1-R6): opens by people (with inferred opens), counted clicks, replies;
    and the machine events counted apart."""

    opens: int
    unique_opens: int
    opens_inferred: int
    clicks: int
    unique_clicks: int
    replies: int
    unique_replies: int
    auto_replies: int
    bounces: int
    opens_self: int
    clicks_self: int
    machine: MachineNumbers


class RecipientNumbers(BaseModel):
    id: int
    address: str
    field: str
    relation: str
    opens: int
    opens_inferred: int
    inferred_from: str | None
    clicks: int
    replies: int
    auto_replies: int
    bounces: int
    opens_self: int
    clicks_self: int
    opens_machine: int
    clicks_scanner: int
    first_open_at: datetime | None
    last_open_at: datetime | None
    first_click_at: datetime | None
    last_click_at: datetime | None
    pending_hits: int = 0


# -- messages ---------------------------------------------------------------------------------


class MessageSummary(BaseModel):
    id: int
    message_id: str = Field(description="the RFC 5322 Message-ID")
    user_id: int
    sender: str
    subject: str
    sent_at: datetime
    recipients: int
    tracking: dict[str, bool]
    numbers: Numbers


class MessagePageOut(BaseModel):
    items: list[MessageSummary]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")


class MessageDetail(MessageSummary):
    tracking_off: list[str]
    untracked: str | None = Field(
        description="why the message went out as written, nothing tracked; null if instrumented"
    )
    delivery: dict[str, str]
    html_bytes: int
    clipped_by_gmail: bool
    links: list[str]
    recipient_numbers: list[RecipientNumbers]


class Reason(BaseModel):
    code: str
    text: str


class TimelineHit(BaseModel):
    id: int
    at: datetime
    kind: str
    link: int | None
    method: str
    ip: str
    user_agent: str
    verdict: str | None = Field(description="the verdict class; null until classified")
    subtype: str | None
    reasons: list[Reason]
    settled: bool


class MessageHit(TimelineHit):
    recipient_id: int
    recipient: str


class TimelineReply(BaseModel):
    kind: str = Field(description="reply, auto_reply, bounce, colleague, sender or report")
    at: datetime
    from_address: str
    other_address: bool
    source: str


class Timeline(BaseModel):
    recipient: RecipientNumbers
    hits: list[TimelineHit]
    replies: list[TimelineReply]


class WhyLine(BaseModel):
    item: int | None = Field(description="the checklist item (1-10); null for a note")
    code: str = Field(description="stable, for programs")
    status: Literal["ok", "problem", "unknown"]
    text: str
    todo: str | None
    facts: dict[str, Any]


class WhyAnswer(BaseModel):
    """The troubleshooting answer for one recipient (docs/troubleshooting.md)."""

    message_id: int
    rfc_message_id: str
    subject: str
    recipient: str
    summary: str
    notes: list[WhyLine]
    checklist: list[WhyLine]


# -- statistics -------------------------------------------------------------------------------


class DayNumbers(BaseModel):
    day: str = Field(description="YYYY-MM-DD (UTC) the messages were sent")
    messages: int
    numbers: Numbers


class UserNumbers(BaseModel):
    user_id: int
    email: str
    messages: int
    numbers: Numbers


# -- accounts ---------------------------------------------------------------------------------


class ApiKeyIn(Model):
    name: str = Field(default="api", min_length=1, max_length=200)


class ApiKeyOut(BaseModel):
    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="the key itself: shown once, stored hashed")


class DeviceIn(Model):
    kind: DeviceKind = "other"
    name: str = Field(default="", max_length=200)


class DeviceOut(BaseModel):
    device_id: str
    kind: str
    name: str
    created_at: datetime
    last_seen_at: datetime | None


class CookieOut(BaseModel):
    name: str
    value: str


class DevicePaired(BaseModel):
    device_id: str
    secret: str = Field(description="signs self-view beacons (see docs/api.md)")
    token: str = Field(description="the device's API credential: `Authorization: Bearer <token>`")
    cookie: CookieOut


class PairingCodeOut(BaseModel):
    code: str = Field(description="one-time: the device exchanges it at POST /api/v1/devices/pair")
    expires_at: datetime


# -- the workspace ----------------------------------------------------------------------------


class Switches(Model):
    """R8 switches; null or absent: not set at this level."""

    track_opens: bool | None = None
    track_clicks: bool | None = None
    track_replies: bool | None = None

    @classmethod
    def of(cls, settings: Mapping[str, object]) -> Switches:
        def flag(key: str) -> bool | None:
            value = settings.get(key)
            return value if isinstance(value, bool) else None

        return cls(
            track_opens=flag("track_opens"), track_clicks=flag("track_clicks"), track_replies=flag("track_replies")
        )


TRACKING_URL = (
    r"^(https?://[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*(:[0-9]{1,5})?/?)?$"
)


class WorkspaceOut(BaseModel):
    id: int
    name: str
    domains: list[str]
    tracking: Switches
    tracking_url: str = Field(
        description="where this workspace's links and pixels point (its own host, or the server's)"
    )


DOMAIN = r"^@?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
Domain = Annotated[str, StringConstraints(pattern=DOMAIN, max_length=253)]


class WorkspaceIn(Model):
    domains: list[Domain] | None = Field(default=None, max_length=100, description="the workspace's own domains")
    tracking: Switches | None = None
    tracking_url: str | None = Field(
        default=None,
        pattern=TRACKING_URL,
        max_length=300,
        description="the workspace's own tracking host, e.g. https://t.acme.example (DNS and TLS to this server); '' for the server's",
    )


class MemberOut(BaseModel):
    id: int
    email: str
    addresses: list[str]
    role: Role
    tracking: Switches


class MemberIn(Model):
    role: Role | None = None
    tracking: Switches | None = None


class Me(BaseModel):
    user: MemberOut
    workspace_id: int
    via: str = Field(description="how this request was authenticated: api_key, device, basic or session")
    csrf_token: str | None = Field(
        default=None, description="a signed-in browser (session) sends it as X-CSRF-Token with every change"
    )
