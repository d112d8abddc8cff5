"""The browser extension's endpoints, each without a user's credentials:

    POST /api/v1/devices/pair       {"code", "name"}  a one-time pairing code → the device's
                                    id and secret (once; rate-limited per client address)
    POST /api/v1/self-view/check    signed {"device", "token", "ts", "sig"} → {"workspace", "sender"}:
                                    whether the token is of the device's workspace and of a message
                                    its user sent — nothing else about the message
    POST /api/v1/devices/heartbeat  signed {"device", "ts", "sig", "sites", "last_acted"} → 204:
                                    which webmail sites it may read, when it last acted

The signatures are the self-view beacon's (devices.py); the heartbeat signs the word
`heartbeat` in the token's place.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..devices import HEARTBEAT, PairingLimiter, device_secret, verify_beacon
from ..errors import AuthError, InvalidInput, NotFound
from ..model import Device
from ..runtime import Runtime
from ..tokens import InvalidToken
from .api import CORS, _json, _unix_time
from .principal import device_token, set_device_cookie
from .tracking import DEVICE_COOKIE, DEVICE_COOKIE_PURPOSE

DEVICE_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")
SITE = re.compile(r"\*|[a-z0-9.-]{1,253}(:[0-9]{1,5})?")  # "*": every site
MAX_SITES = 50


def _rt(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def _limiter(request: Request) -> PairingLimiter:
    state = request.app.state
    if not hasattr(state, "pairing_limiter"):
        state.pairing_limiter = PairingLimiter(_rt(request).clock)
    limiter: PairingLimiter = state.pairing_limiter
    return limiter


async def pair_with_code(request: Request) -> Response:
    """Exchange a pairing code (no other credentials) for the device's id and secret."""
    if request.method == "OPTIONS":
        return Response(status_code=204, headers=CORS)
    rt = _rt(request)
    client = request.client.host if request.client else ""
    limiter = _limiter(request)
    wait = limiter.wait(client)
    if wait:
        return JSONResponse(
            {"error": f"too many pairing attempts from this address: try again in {wait} s"},
            status_code=429,
            headers={**CORS, "retry-after": str(wait)},
        )
    data = await _json(request)
    code = str(data.get("code", "")).strip().upper()
    now = rt.clock()
    found = await asyncio.to_thread(rt.store.use_pairing_code, code, now) if code else None
    if found is None:
        limiter.failed(client)
        raise AuthError("that pairing code is unknown, used or expired: make a new one (`mailbeacon device pair-code`)")
    user_id, kind, default_name = found
    name = str(data.get("name", "")).strip()[:200] or default_name
    dev = await asyncio.to_thread(rt.store.add_device, user_id, kind, name, now)
    user = await asyncio.to_thread(rt.store.user, user_id)
    cookie = rt.keyring.sign_value(DEVICE_COOKIE_PURPOSE, dev.public_id)
    resp = JSONResponse(
        {
            "device_id": dev.public_id,
            "secret": device_secret(rt.keyring, dev.public_id),
            "token": device_token(rt.keyring, dev.public_id),  # its API credential (principal.py)
            "user": user.email,
            "cookie": {"name": DEVICE_COOKIE, "value": cookie},
        },
        status_code=201,
        headers=CORS,
    )
    set_device_cookie(resp, rt.keyring, rt.public_url, dev.public_id)
    return resp


async def _signed_device(request: Request, data: dict[str, Any], signed: str) -> tuple[Runtime, Device]:
    """The non-revoked device whose signature over `signed` checks out; AuthError otherwise."""
    rt = _rt(request)
    device_id = str(data.get("device", ""))
    ts = _unix_time(data.get("ts", 0))  # 1e999, NaN, true: a 400, not an OverflowError
    if not DEVICE_ID.fullmatch(device_id):
        raise AuthError("device is not a paired device id")
    if not verify_beacon(rt.keyring, device_id, signed, ts, str(data.get("sig", "")), rt.clock()):
        raise AuthError("the signature does not check out (or its time is off by more than 5 minutes)")
    try:
        dev = await asyncio.to_thread(rt.store.device, device_id)
    except NotFound:
        raise AuthError("this device is not paired (any more): pair it again") from None
    if dev.revoked_at is not None:
        raise AuthError("this device was unpaired: pair it again")
    return rt, dev


async def token_check(request: Request) -> Response:
    """Is this token one of the device's workspace, and of a message its user sent? Nothing else."""
    if request.method == "OPTIONS":
        return Response(status_code=204, headers=CORS)
    data = await _json(request)
    token = str(data.get("token", "")).removesuffix(".gif")
    rt, dev = await _signed_device(request, data, token)
    user = await asyncio.to_thread(rt.store.user, dev.user_id)
    try:
        claims = rt.keyring.verify(token)
    except InvalidToken:
        return JSONResponse({"workspace": False, "sender": False}, headers=CORS)
    workspace = claims.workspace_id == user.workspace_id
    sender = False
    if workspace:
        try:
            msg = await asyncio.to_thread(rt.store.message, claims.message_id)
            sender = msg.user_id == dev.user_id
        except NotFound:
            workspace = False
    return JSONResponse({"workspace": workspace, "sender": sender}, headers=CORS)


def _last_acted(value: Any, now: datetime) -> datetime | None:
    if value in (None, "", 0):
        return None
    try:
        at = datetime.fromtimestamp(int(value), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise InvalidInput("last_acted must be a Unix time in seconds") from None
    return min(at, now + timedelta(minutes=5))


async def heartbeat(request: Request) -> Response:
    """The extension says which webmail sites it may read and when it last acted."""
    if request.method == "OPTIONS":
        return Response(status_code=204, headers=CORS)
    data = await _json(request)
    rt, dev = await _signed_device(request, data, HEARTBEAT)
    raw = data.get("sites", [])
    if not isinstance(raw, list) or len(raw) > MAX_SITES:
        raise InvalidInput(f"sites must be a list of at most {MAX_SITES} host names")
    sites = [str(s).strip().lower() for s in raw]
    bad = [s for s in sites if not SITE.fullmatch(s)]
    if bad:
        raise InvalidInput(f"not a host name: {bad[0][:80]}")
    now = rt.clock()
    acted = _last_acted(data.get("last_acted"), now)
    await asyncio.to_thread(rt.store.report_device, dev.public_id, now, sites, acted)
    return Response(status_code=204, headers=CORS)
