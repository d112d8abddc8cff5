"""/api/v1/me, /api/v1/keys and /api/v1/devices: the caller's own API keys and paired devices."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from ...devices import PAIRING_CODE_LIFETIME, device_secret, new_pairing_code
from ...model import ApiKey, Device, User
from ...passwords import new_api_token
from ..principal import SESSION_COOKIE, csrf_token, device_token, set_device_cookie
from ..tracking import DEVICE_COOKIE
from .deps import Ctx, CtxDep
from .models import (
    ApiKeyCreated,
    ApiKeyIn,
    ApiKeyOut,
    CookieOut,
    DeviceIn,
    DeviceOut,
    DevicePaired,
    Me,
    MemberOut,
    PairingCodeOut,
    Switches,
)

router = APIRouter()
KeyId = Annotated[int, Path(ge=1, le=2**63 - 1)]
DeviceId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,40}$")]


def member_out(u: User) -> MemberOut:
    return MemberOut(
        id=u.id,
        email=u.email,
        addresses=list(u.addresses),
        role="admin" if u.is_admin else "member",
        tracking=Switches.of(u.settings),
    )


@router.get("/api/v1/me", response_model=Me, tags=["accounts"])
async def me(ctx: CtxDep, request: Request) -> Me:
    session = request.cookies.get(SESSION_COOKIE, "") if ctx.principal.via == "session" else ""
    return Me(
        user=member_out(ctx.principal.user),
        workspace_id=ctx.principal.workspace_id,
        via=ctx.principal.via,
        csrf_token=csrf_token(ctx.keyring, session) if session else None,
    )


# -- API keys -----------------------------------------------------------------------------------


def _key_out(k: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(id=k.id, name=k.name, created_at=k.created_at, last_used_at=k.last_used_at)


@router.get("/api/v1/keys", response_model=list[ApiKeyOut], tags=["accounts"])
async def list_keys(ctx: CtxDep) -> list[ApiKeyOut]:
    """The caller's API keys: names and times (the keys themselves are stored hashed)."""
    keys = await asyncio.to_thread(ctx.view.api_keys, ctx.principal.user.id)
    return [_key_out(k) for k in keys]


@router.post("/api/v1/keys", response_model=ApiKeyCreated, status_code=201, tags=["accounts"])
async def create_key(ctx: CtxDep, body: ApiKeyIn) -> ApiKeyCreated:
    """A new API key, shown in this answer only."""
    token = new_api_token()
    k = await asyncio.to_thread(ctx.view.add_api_key, ctx.principal.user.id, token, body.name.strip(), ctx.clock())
    return ApiKeyCreated(**_key_out(k).model_dump(), key=token)


@router.delete("/api/v1/keys/{key_id}", status_code=204, tags=["accounts"])
async def revoke_key(ctx: CtxDep, key_id: KeyId) -> Response:
    """Refused from the next request on."""
    await asyncio.to_thread(ctx.view.revoke_api_key, ctx.principal.user.id, key_id)
    return Response(status_code=204)


# -- devices ----------------------------------------------------------------------------------


def _device_out(d: Device) -> DeviceOut:
    return DeviceOut(
        device_id=d.public_id, kind=d.kind, name=d.name, created_at=d.created_at, last_seen_at=d.last_seen_at
    )


def paired(ctx: Ctx, dev: Device, response: Response) -> DevicePaired:
    """The answer to a pairing, with the device cookie for a browser (its pixel loads are self)."""
    cookie = set_device_cookie(response, ctx.keyring, ctx.public_url, dev.public_id)
    return DevicePaired(
        device_id=dev.public_id,
        secret=device_secret(ctx.keyring, dev.public_id),
        token=device_token(ctx.keyring, dev.public_id),
        cookie=CookieOut(name=DEVICE_COOKIE, value=cookie),
    )


@router.post("/api/v1/devices", response_model=DevicePaired, status_code=201, tags=["devices"])
async def pair_device(ctx: CtxDep, body: DeviceIn, response: Response) -> DevicePaired:
    """Pair the calling browser or app with the caller: its pixel loads and beacons become self."""
    dev = await asyncio.to_thread(
        ctx.view.add_device, ctx.principal.user.id, body.kind, body.name.strip() or body.kind, ctx.clock()
    )
    return paired(ctx, dev, response)


@router.get("/api/v1/devices", response_model=list[DeviceOut], tags=["devices"])
async def list_devices(ctx: CtxDep) -> list[DeviceOut]:
    return [_device_out(d) for d in await asyncio.to_thread(ctx.view.devices, ctx.principal.user.id)]


@router.delete("/api/v1/devices/{device_id}", status_code=204, tags=["devices"])
async def revoke_device(ctx: CtxDep, device_id: DeviceId) -> Response:
    await asyncio.to_thread(ctx.view.revoke_device, ctx.principal.user.id, device_id, ctx.clock())
    return Response(status_code=204)


@router.post("/api/v1/devices/pairing-codes", response_model=PairingCodeOut, status_code=201, tags=["devices"])
async def create_pairing_code(ctx: CtxDep, body: DeviceIn) -> PairingCodeOut:
    """A one-time code (valid 10 minutes) that a device (the browser extension) exchanges at
    `POST /api/v1/devices/pair` for its id and secret, without the password."""
    code = new_pairing_code()
    now = ctx.clock()
    until = now + PAIRING_CODE_LIFETIME
    await asyncio.to_thread(
        ctx.view.add_pairing_code, ctx.principal.user.id, code, body.kind, body.name.strip() or body.kind, now, until
    )
    return PairingCodeOut(code=code, expires_at=until)
