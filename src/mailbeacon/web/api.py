"""The route outside REST API v1's OpenAPI document: the health check. /api/v1 is in web/rest/
and, for the routes the browser extension authenticates itself, web/extension.py."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..classify import rules_version
from ..errors import StoreUnavailable
from ..intake import Intake
from ..pipeline import Pipeline
from ..runtime import Runtime
from ..signature_watch import status as signature_status


def _rt(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def _intake(request: Request) -> Intake:
    intake: Intake = request.app.state.intake
    return intake


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
    worker = getattr(request.app.state, "webhooks", None)
    webhooks: dict[str, object] = worker.health(now) if worker is not None else {"running": False, "stalled": False}
    ok = not down and not stalled and not webhooks["stalled"]
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
        "webhooks": webhooks,
    }
    return JSONResponse(body, status_code=200 if ok else 503)
