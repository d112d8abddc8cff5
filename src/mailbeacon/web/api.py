"""The JSON API (v1): paired devices, the self-view beacon, messages and their numbers."""

from __future__ import annotations

import asyncio
import json
import math
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..classify import rules_version
from ..devices import SeenBeacons, device_secret, verify_beacon
from ..diagnose import diagnose
from ..errors import AuthError, Conflict, InvalidInput, NotFound, StoreUnavailable
from ..intake import Intake
from ..model import Hit, HitKind, Message, User
from ..pipeline import Pipeline
from ..reports import hits_report, message_report
from ..runtime import Runtime
from ..signature_watch import status as signature_status
from ..tokens import InvalidToken
from .auth import authenticate
from .tracking import DEVICE_COOKIE, DEVICE_COOKIE_PURPOSE

DEVICE_KINDS = ("extension", "dashboard", "other")
MAX_LIMIT = 500
#: what a device id can look like (ids are made by `add_device`); anything else is not looked up
DEVICE_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")
CORS = {
    "access-control-allow-origin": "*",
    "access-control-allow-methods": "POST, OPTIONS",
    "access-control-allow-headers": "content-type",
    "access-control-max-age": "86400",
}


def _rt(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def _intake(request: Request) -> Intake:
    intake: Intake = request.app.state.intake
    return intake


async def _json(request: Request) -> dict[str, Any]:
    body = await request.body()  # at most JSON_LIMIT bytes: body.py stops longer ones while they stream
    try:
        data = json.loads(body or b"{}")
    except (ValueError, RecursionError):
        raise InvalidInput("the request body is not JSON (or nests too deeply)") from None
    if not isinstance(data, dict):
        raise InvalidInput("the request body must be a JSON object")
    return data


async def healthz(request: Request) -> Response:
    """Is this node storing hits and deciding them? 503 when the database is away or classification stopped.

    `pipeline.lag` is how long the oldest hit waiting for a decision has waited (seconds; 0 when
    none waits), whichever node decides; `pipeline.stalled` is whether this node's pipeline
    stopped (its task is not running, or no round completed for a while).
    """
    rt = _rt(request)
    intake = _intake(request)
    pipeline: Pipeline = request.app.state.pipeline
    st = intake.state
    ps = pipeline.state
    now = rt.clock()
    lag: float | None = None
    try:
        waiting = await asyncio.to_thread(rt.store.waiting_since, now)
        lag = max(0.0, (now - waiting).total_seconds()) if waiting else 0.0
    except StoreUnavailable:
        pass
    try:  # which signature data this node and the deciding node use (signature_watch)
        classifier = await asyncio.to_thread(signature_status, rt.store)
    except StoreUnavailable:
        classifier = {"rules_version": rules_version(), "deciding": None, "agrees": None}
    # down when the writer cannot store, or when any part of the process (this very check
    # included) last found the database unavailable
    down = st.store_down or rt.store.unavailable is not None
    stalled = pipeline.stalled(now)
    ok = not down and not stalled
    body: dict[str, Any] = {
        "ok": ok,
        "intake": {
            "recorded": st.recorded,
            "stored": st.stored,
            "pending": intake.pending,
            "replayed": st.replayed,
            "overflowed": st.overflowed,
            "rejected": st.rejected,
            "torn": st.torn,
            "journal_errors": st.journal_errors,
            "store_down": down,
        },
        "pipeline": {
            "running": pipeline.running,
            "stalled": stalled,
            "lag": None if lag is None else round(lag, 1),
            "holds_lease": ps.holds_lease,
            "last_round_at": ps.last_round_at.isoformat().replace("+00:00", "Z") if ps.last_round_at else None,
            "decided": ps.decided,
            "settled": ps.settled,
            "set_aside": ps.set_aside,
            "restarts": ps.restarts,
            "last_error": ps.last_error,
        },
        "classifier": classifier,
    }
    return JSONResponse(body, status_code=200 if ok else 503)


# -- devices ----------------------------------------------------------------------------------


async def pair_device(request: Request) -> Response:
    """Pair the calling browser or app with the user: its pixel loads and beacons become self."""
    rt = _rt(request)
    user = await authenticate(request, rt)
    data = await _json(request)
    kind = str(data.get("kind", "other"))
    if kind not in DEVICE_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(DEVICE_KINDS)}")
    name = str(data.get("name", "")).strip()[:200] or kind
    dev = await asyncio.to_thread(rt.store.add_device, user.id, kind, name, rt.clock())
    cookie = rt.keyring.sign_value(DEVICE_COOKIE_PURPOSE, dev.public_id)
    resp = JSONResponse(
        {
            "device_id": dev.public_id,
            "secret": device_secret(rt.keyring, dev.public_id),
            "cookie": {"name": DEVICE_COOKIE, "value": cookie},
        },
        status_code=201,
    )
    secure = rt.public_url.startswith("https://")
    resp.set_cookie(
        DEVICE_COOKIE,
        cookie,
        max_age=10 * 365 * 86400,
        httponly=True,
        secure=secure,
        samesite="none" if secure else "lax",
    )
    return resp


async def list_devices(request: Request) -> Response:
    rt = _rt(request)
    user = await authenticate(request, rt)
    devs = await asyncio.to_thread(rt.store.devices, user.id)
    return JSONResponse(
        [
            {
                "device_id": d.public_id,
                "kind": d.kind,
                "name": d.name,
                "created_at": d.created_at.isoformat(),
                "last_seen_at": d.last_seen_at.isoformat() if d.last_seen_at else None,
            }
            for d in devs
        ]
    )


async def revoke_device(request: Request) -> Response:
    rt = _rt(request)
    user = await authenticate(request, rt)
    public_id = request.path_params["device_id"]
    if not DEVICE_ID.fullmatch(public_id):
        raise NotFound(f"no paired device '{public_id[:40]}'")
    dev = await asyncio.to_thread(rt.store.device, public_id)
    if dev.user_id != user.id:
        raise NotFound(f"no paired device '{public_id}'")
    await asyncio.to_thread(rt.store.revoke_device, public_id, rt.clock())
    return Response(status_code=204)


# -- the self-view beacon -----------------------------------------------------------------------


async def self_view(request: Request) -> Response:
    """A paired device says it is showing the message behind a tracking token right now."""
    if request.method == "OPTIONS":
        return Response(status_code=204, headers=CORS)
    rt = _rt(request)
    data = await _json(request)
    token = str(data.get("token", ""))
    if token.endswith(".gif"):
        token = token[:-4]
    try:
        claims = rt.keyring.verify(token)
    except InvalidToken:
        raise InvalidInput("token is not a mailbeacon tracking token") from None
    if claims.kind is not HitKind.OPEN:
        raise InvalidInput("a self-view beacon takes the message's pixel (open) token, not a link token")
    now = rt.clock()
    device = data.get("device")
    if device:
        ts = _unix_time(data.get("ts", 0))
        device_id, sig = str(device), str(data.get("sig", ""))
        if not DEVICE_ID.fullmatch(device_id):
            raise AuthError("device is not a paired device id")
        if not verify_beacon(rt.keyring, device_id, token, ts, sig, now):
            raise AuthError("the beacon signature does not check out (or its time is off by more than 5 minutes)")
        seen: SeenBeacons = request.app.state.beacons
        status = seen.note(device_id, token, ts, now)
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
    intake = _intake(request)
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


def _unix_time(value: object) -> int:
    """`ts` of a beacon: whole seconds, as a JSON number or a string of digits."""
    ts: int | None = None
    if isinstance(value, float) and math.isfinite(value) and abs(value) < 2**40:
        ts = int(value)
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**40:
        ts = value
    elif isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 12:
        ts = int(value)
    if ts is None:
        raise InvalidInput("ts must be a Unix time in seconds")
    return ts


# -- messages ---------------------------------------------------------------------------------


def _visible(user: User, message: Message) -> bool:
    return message.user_id == user.id or (user.is_admin and message.workspace_id == user.workspace_id)


async def list_messages(request: Request) -> Response:
    rt = _rt(request)
    user = await authenticate(request, rt)
    text = request.query_params.get("limit", "50").strip()
    if not (text.isascii() and text.isdigit()) or int(text[:6]) < 1:
        raise InvalidInput(f"limit must be a whole number from 1 (at most {MAX_LIMIT} are listed)")
    limit = min(int(text[:6]), MAX_LIMIT) if len(text) <= 6 else MAX_LIMIT

    def load() -> list[dict[str, Any]]:
        if user.is_admin:
            msgs = rt.store.messages(workspace_id=user.workspace_id, limit=limit)
        else:
            msgs = rt.store.messages(user_id=user.id, limit=limit)
        return [message_report(rt.store, m) for m in msgs]

    return JSONResponse(await asyncio.to_thread(load))


async def _message_for(request: Request) -> tuple[Runtime, Message]:
    rt = _rt(request)
    user = await authenticate(request, rt)
    text = request.path_params["message_id"]
    if not (text.isascii() and text.isdigit() and len(text) <= 19 and 0 < int(text) < 2**63):
        raise NotFound(f"no tracked message {text[:40]}")
    mid = int(text)
    msg = await asyncio.to_thread(rt.store.message, mid)
    if not _visible(user, msg):
        raise NotFound(f"no tracked message {mid}")
    return rt, msg


async def get_message(request: Request) -> Response:
    rt, msg = await _message_for(request)
    return JSONResponse(await asyncio.to_thread(message_report, rt.store, msg))


async def get_message_hits(request: Request) -> Response:
    rt, msg = await _message_for(request)
    return JSONResponse(await asyncio.to_thread(hits_report, rt.store, msg.id))


async def get_recipient_why(request: Request) -> Response:
    """The troubleshooting answer for one recipient of a message (R10)."""
    rt, msg = await _message_for(request)
    address = str(request.path_params["address"])

    def load() -> dict[str, Any]:
        store = rt.store
        recipient = store.recipient_of(msg.id, address)
        facts = store.why_facts(msg, recipient, public_url=rt.public_url, settle_window=rt.settings.settle_window)
        return diagnose(facts, rt.clock()).as_json()

    return JSONResponse(await asyncio.to_thread(load))
