"""The routes outside REST API v1's OpenAPI document: the health check and the self-view beacon
(signed by the device itself, no principal). The rest of /api/v1 is in web/rest/."""

from __future__ import annotations

import asyncio
import json
import math
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..classify import rules_version
from ..devices import SeenBeacons, verify_beacon
from ..errors import AuthError, Conflict, InvalidInput, StoreUnavailable
from ..intake import Intake
from ..model import Hit, HitKind
from ..pipeline import Pipeline
from ..runtime import Runtime
from ..signature_watch import status as signature_status
from ..tokens import InvalidToken
from .tracking import DEVICE_COOKIE, DEVICE_COOKIE_PURPOSE

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
