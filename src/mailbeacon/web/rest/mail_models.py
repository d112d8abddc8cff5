"""The request and response bodies of REST API v1 about mail going out and coming in: sending,
inbound messages, watched mailboxes, and the browser extension's routes (the self-view beacon,
pairing with a code, whose token, the heartbeat)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from .models import DevicePaired, Model

# -- sending ----------------------------------------------------------------------------------


class SendIn(Model):
    raw: str = Field(description="the message (RFC 5322), base64", min_length=1)
    sender: str | None = Field(default=None, max_length=320, description="one of your addresses; default: your email")
    recipients: list[Annotated[str, StringConstraints(max_length=320)]] | None = Field(
        default=None, max_length=1000, description="envelope recipients; default: To, Cc and Bcc"
    )
    track: Literal["off", "opens", "clicks", "all"] | None = Field(default=None, description="this email only (R8)")
    relay: bool = Field(
        default=False, description="send the copies through your upstream server instead of returning them"
    )


class CopyOut(BaseModel):
    address: str
    recipient_id: int
    field: str
    relation: str
    raw: str | None = Field(description="this recipient's copy (base64); null when relayed")
    code: int | None = Field(default=None, description="the upstream's SMTP reply code when relayed")
    reply: str | None = None


class SendOut(BaseModel):
    id: int
    message_id: str
    instrumented: bool
    failure: str | None
    notes: list[str]
    tracking: dict[str, bool]
    links: int
    copies: list[CopyOut]


# -- mailboxes --------------------------------------------------------------------------------


PORT = r"([0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
IMAP_URL = rf"^(imap|imaps|imap\+starttls)://[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:{PORT})?/?$"


class MailboxIn(Model):
    imap: str = Field(
        pattern=IMAP_URL,
        max_length=2000,
        description="imaps://user@host:993 or imap://user@host:143 (STARTTLS if offered)",
    )
    password: str = Field(min_length=1, max_length=1000, description="stored encrypted")
    folders: list[Annotated[str, StringConstraints(min_length=1, max_length=500)]] = Field(
        default_factory=lambda: ["INBOX"], max_length=50
    )


class MailboxOut(BaseModel):
    id: int
    user_id: int
    url: str = Field(description="without the password")
    folders: list[str]
    state: str = Field(description="new, connected, error or stopped")
    last_error: str | None
    last_ok_at: datetime | None
    last_seen_at: datetime | None


class MailboxChecked(BaseModel):
    messages: int
    fetched: int
    recorded: int
    folders: dict[str, int]


# -- the routes a device authenticates itself (signature, cookie or pairing code) -------------

#: Unix time in seconds: a JSON integer, or a string of digits
UnixTime = Annotated[int, Field(strict=True, ge=0, le=2**40)] | Annotated[str, Field(pattern=r"^[0-9]{1,12}$")]
SIG = 'base64url(HMAC-SHA256(secret, "device|token|ts")); the heartbeat signs the word `heartbeat` as its token'


class Signed(BaseModel):
    """The signature of a paired device (see docs/api.md); missing parts do not check out (401)."""

    device: str = Field(default="", description="the device id")
    ts: UnixTime = Field(default=0, description="Unix time in seconds, within 5 minutes of the server's clock")
    sig: str = Field(default="", description=SIG)


class SelfViewIn(BaseModel):
    """A paired device is showing the message behind `token` now (see docs/api.md)."""

    token: str = Field(
        default="", description="the message's pixel token, as found in the message (with or without .gif)"
    )
    device: str | None = Field(default=None, description="the device id; without it, the device cookie is used")
    ts: UnixTime = Field(default=0, description="Unix time in seconds, within 5 minutes of the server's clock")
    sig: str = Field(default="", description=SIG)


class TokenCheckIn(Signed):
    token: str = Field(default="", description="a pixel token found on a webmail page (with or without .gif)")


class TokenCheckOut(BaseModel):
    workspace: bool = Field(description="the token is one of the device's workspace")
    sender: bool = Field(description="... and of a message the device's user sent")


class HeartbeatIn(Signed):
    sites: list[str] = Field(
        default_factory=list, max_length=50, description="the webmail hosts the extension may read; `*`: every site"
    )
    last_acted: Annotated[int, Field(strict=True, ge=0, le=2**40)] | None = Field(
        default=None, description="Unix time the extension last sent a beacon; null: never"
    )


class PairIn(BaseModel):
    code: str = Field(
        default="", max_length=100, description="the one-time pairing code (`mailbeacon device pair-code`)"
    )
    name: str = Field(default="", description="what to call the device (cut at 200 characters)")


class PairedOut(DevicePaired):
    user: str = Field(description="the email of the user the device is paired with")


class InboundReply(BaseModel):
    message: int
    recipient: int | None
    kind: str
    from_: str = Field(alias="from")
    at: datetime
    other_address: bool
    new: bool
    detail: dict[str, object]


class InboundOut(BaseModel):
    message_id: str | None = Field(description="the Message-ID of the posted message")
    machine_kind: str | None
    matched: bool
    reasons: list[list[str]] = Field(description="[code, text] pairs")
    replies: list[InboundReply]


class ProviderEventsOut(BaseModel):
    provider: str
    events: int = Field(description="the bounces and complaints in the notification")
    recorded: int = Field(description="those recorded now (one already recorded is not recorded again)")
    unmatched: int = Field(description="those about mail mailbeacon did not track")
    confirmed: bool = Field(description="an Amazon SNS subscription was confirmed")
