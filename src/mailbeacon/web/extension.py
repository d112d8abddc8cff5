"""The browser extension's endpoints, each without a user's credentials (`principal.SELF_AUTHENTICATED`):

    POST /api/v1/devices/pair       {"code", "name"}  a one-time pairing code → the device's
                                    id and secret (once; failures limited per client address)
    POST /api/v1/self-view          signed {"token", "device", "ts", "sig"} (or the device cookie)
                                    → 204: the device is showing the message behind the token now
    POST /api/v1/self-view/check    signed {"device", "token", "ts", "sig"} → {"workspace", "sender"}:
                                    whether the token is of the device's workspace and of a message
                                    its user sent — nothing else about the message
    POST /api/v1/devices/heartbeat  signed {"device", "ts", "sig", "sites", "last_acted"} → 204:
                                    which webmail sites it may read, when it last acted

They are FastAPI routes in the OpenAPI document with typed bodies (rest/mail_models.py), read by
`read_model` so that a body that is not JSON or not the model is a 400 `invalid_input`. Each
answers a CORS preflight. The signatures are the self-view beacon's (devices.py); the heartbeat
signs the word `heartbeat` in the token's place.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from ..devices import HEARTBEAT, SeenBeacons, device_secret, verify_beacon
from ..errors import AuthError, Conflict, InvalidInput, NotFound, StoreUnavailable, Throttled
from ..intake import Intake
from ..model import Device, Hit, HitKind
from ..runtime import Runtime
from ..throttle import PAIRING, SignInThrottle
from ..tokens import InvalidToken
from .body import openapi_body, read_model
from .principal import device_token, set_device_cookie
from .rest.mail_models import HeartbeatIn, PairedOut, PairIn, SelfViewIn, Signed, TokenCheckIn, TokenCheckOut
from .rest.models import CookieOut, Problem
from .tracking import DEVICE_COOKIE, DEVICE_COOKIE_PURPOSE

#: what a device id can look like (ids are made by `add_device`); anything else is not looked up
DEVICE_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")
SITE = re.compile(r"\*|[a-z0-9.-]{1,253}(:[0-9]{1,5})?")  # "*": every site
CORS = {
    "access-control-allow-origin": "*",
    "access-control-allow-methods": "POST, OPTIONS",
    "access-control-allow-headers": "content-type",
    "access-control-max-age": "86400",
}
PATHS = ("/api/v1/devices/pair", "/api/v1/self-view", "/api/v1/self-view/check", "/api/v1/devices/heartbeat")

router = APIRouter(tags=["devices"])


def _rt(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


async def preflight() -> Response:
    return Response(status_code=204, headers=CORS)


for _path in PATHS:
    router.add_api_route(_path, preflight, methods=["OPTIONS"], include_in_schema=False)


def _throttle(request: Request) -> SignInThrottle:
    """Failed code exchanges per client: the sign-in throttle with the pairing rule."""
    state = request.app.state
    if not hasattr(state, "pairing_throttle"):
        state.pairing_throttle = SignInThrottle(_rt(request).clock, per_client=PAIRING, max_keys=10_000)
    throttle: SignInThrottle = state.pairing_throttle
    return throttle


@router.post(
    "/api/v1/devices/pair",
    response_model=PairedOut,
    status_code=201,
    summary="Exchange a one-time pairing code for the device's id, secret and token",
    responses={429: {"model": Problem, "description": "too many failed exchanges from this address"}},
    openapi_extra=openapi_body(PairIn),
)
async def pair_with_code(request: Request, response: Response) -> PairedOut:
    """No other credentials: the code is them (valid 10 minutes, used up by the exchange)."""
    rt = _rt(request)
    client = request.client.host if request.client else ""
    throttle = _throttle(request)
    wait = throttle.wait("", client)
    if wait:
        raise Throttled(f"too many pairing attempts from this address: try again in {wait} s", wait)
    body = await read_model(request, PairIn)
    code = body.code.strip().upper()
    now = rt.clock()
    found = await asyncio.to_thread(rt.store.use_pairing_code, code, now) if code else None
    if found is None:
        throttle.failed("", client)
        raise AuthError("that pairing code is unknown, used or expired: make a new one (`mailbeacon device pair-code`)")
    user_id, kind, default_name = found
    dev = await asyncio.to_thread(rt.store.add_device, user_id, kind, body.name.strip()[:200] or default_name, now)
    user = await asyncio.to_thread(rt.store.user, user_id)
    response.headers.update(CORS)
    cookie = set_device_cookie(response, rt.keyring, rt.public_url, dev.public_id)
    return PairedOut(
        device_id=dev.public_id,
        secret=device_secret(rt.keyring, dev.public_id),
        token=device_token(rt.keyring, dev.public_id),  # its API credential (principal.py)
        user=user.email,
        cookie=CookieOut(name=DEVICE_COOKIE, value=cookie),
    )


def _verified(rt: Runtime, device_id: str, signed: str, ts: int | str, sig: str) -> None:
    """The signature of `device_id` over `signed` at `ts` checks out; AuthError otherwise.
    (`ts` is bounded digits or a bounded integer: the model says so.)"""
    if not DEVICE_ID.fullmatch(device_id):
        raise AuthError("device is not a paired device id")
    if not verify_beacon(rt.keyring, device_id, signed, int(ts), sig, rt.clock()):
        raise AuthError("the signature does not check out (or its time is off by more than 5 minutes)")


async def _signed_device(rt: Runtime, body: Signed, signed: str) -> Device:
    """The non-revoked device whose signature over `signed` checks out; AuthError otherwise."""
    _verified(rt, body.device, signed, body.ts, body.sig)
    try:
        dev = await asyncio.to_thread(rt.store.device, body.device)
    except NotFound:
        raise AuthError("this device is not paired (any more): pair it again") from None
    if dev.revoked_at is not None:
        raise AuthError("this device was unpaired: pair it again")
    return dev


@router.post(
    "/api/v1/self-view/check",
    response_model=TokenCheckOut,
    summary="Whether a pixel token is of the device's workspace, and of a message its user sent",
    openapi_extra=openapi_body(TokenCheckIn),
)
async def token_check(request: Request, response: Response) -> TokenCheckOut:
    """Nothing else about the message."""
    rt = _rt(request)
    body = await read_model(request, TokenCheckIn)
    token = body.token.removesuffix(".gif")
    dev = await _signed_device(rt, body, token)
    response.headers.update(CORS)
    user = await asyncio.to_thread(rt.store.user, dev.user_id)
    try:
        claims = rt.keyring.verify(token)
    except InvalidToken:
        return TokenCheckOut(workspace=False, sender=False)
    workspace = claims.workspace_id == user.workspace_id
    sender = False
    if workspace:
        try:
            msg = await asyncio.to_thread(rt.store.message, claims.message_id)
            sender = msg.user_id == dev.user_id
        except NotFound:
            workspace = False
    return TokenCheckOut(workspace=workspace, sender=sender)


def _last_acted(value: int | None, now: datetime) -> datetime | None:
    if not value:
        return None
    return min(datetime.fromtimestamp(value, UTC), now + timedelta(minutes=5))


def _no_content(body: type[BaseModel], summary: str, done: str) -> dict[str, Any]:
    """The declaration of a POST route of a device that answers 204 when `done`."""
    return {
        "status_code": 204,
        "response_class": Response,
        "summary": summary,
        "responses": {204: {"description": done}},
        "openapi_extra": openapi_body(body),
    }


@router.post(
    "/api/v1/devices/heartbeat",
    **_no_content(
        HeartbeatIn, "The extension says which webmail sites it may read and when it last acted", "stored on the device"
    ),
)
async def heartbeat(request: Request) -> Response:
    rt = _rt(request)
    body = await read_model(request, HeartbeatIn)
    dev = await _signed_device(rt, body, HEARTBEAT)
    sites = [s.strip().lower() for s in body.sites]
    bad = [s for s in sites if not SITE.fullmatch(s)]
    if bad:
        raise InvalidInput(f"not a host name: {bad[0][:80]}")
    now = rt.clock()
    await asyncio.to_thread(rt.store.report_device, dev.public_id, now, sites, _last_acted(body.last_acted, now))
    return Response(status_code=204, headers=CORS)


@router.post("/api/v1/self-view", **_no_content(SelfViewIn, "The self-view beacon of a paired device", "recorded"))
async def self_view(request: Request) -> Response:
    """A paired device says it is showing the message behind a tracking token right now."""
    rt = _rt(request)
    body = await read_model(request, SelfViewIn)
    token = body.token.removesuffix(".gif")
    try:
        claims = rt.keyring.verify(token)
    except InvalidToken:
        raise InvalidInput("token is not a mailbeacon tracking token") from None
    if claims.kind is not HitKind.OPEN:
        raise InvalidInput("a self-view beacon takes the message's pixel (open) token, not a link token")
    now = rt.clock()
    if body.device:
        device_id = body.device
        _verified(rt, device_id, token, body.ts, body.sig)
        seen: SeenBeacons = request.app.state.beacons
        status = seen.note(device_id, token, int(body.ts), now)
        if status == "replay":
            raise Conflict("this beacon was received already: sign each view with its own time")
        if status == "full":
            raise StoreUnavailable("too many self-view beacons in the last minutes; try again shortly")
    else:
        cookie = request.cookies.get(DEVICE_COOKIE, "")
        found = rt.keyring.verify_value(DEVICE_COOKIE_PURPOSE, cookie) if cookie else None
        if found is None:
            raise AuthError("send a signed beacon (device, ts, sig) or the paired device cookie")
        device_id = found
    dev = await asyncio.to_thread(rt.store.device, device_id)
    msg = await asyncio.to_thread(rt.store.message, claims.message_id)
    if dev.revoked_at is not None or dev.user_id != msg.user_id:
        raise AuthError("this device is not paired with the sender of that message")
    if msg.workspace_id != claims.workspace_id:
        raise InvalidInput("token is not a mailbeacon tracking token")
    intake: Intake = request.app.state.intake
    intake.record(
        Hit(
            uid=intake.new_uid(),
            kind=HitKind.SELF_VIEW,
            workspace_id=claims.workspace_id,
            message_id=claims.message_id,
            recipient_id=claims.recipient_id,
            at=now,
            method="POST",
            ip=request.client.host if request.client else "",
            user_agent=request.headers.get("user-agent", "")[:1024],
            device_id=device_id,
        )
    )
    written = intake.written()
    if written is not None:
        await written
    await asyncio.to_thread(lambda: rt.store.touch_device(device_id, now, acted=True))
    return Response(status_code=204, headers=CORS)
