"""Re-running the rules over stored raw hits, and rebuilding counters from scratch.

`reclassify` runs under the pipeline lease. From the CLI, `run_reclassify` does it directly
when no server holds the lease, and otherwise asks the running server's pipeline (through the
`meta` table) and waits for its answer.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .errors import MailbeaconError
from .model import Hit, HitKind, Verdict
from .runtime import Runtime
from .stats import Counts, compute, counted_reply_kind

if TYPE_CHECKING:
    from .pipeline import Pipeline

LEASE = "pipeline"
LEASE_TTL = 15.0
RECLASSIFY_REQUEST = "reclassify_request"
RECLASSIFY_DONE = "reclassify_done"

Decided = tuple[Hit, Verdict, datetime | None]


@dataclass(frozen=True)
class ReclassifyResult:
    hits: int
    changed: int
    recipients: int

    def as_dict(self) -> dict[str, int]:
        return {"hits": self.hits, "changed": self.changed, "recipients": self.recipients}


def recompute(pipe: Pipeline, recipient_ids: Iterable[int]) -> dict[int, Counts]:
    """Counters rebuilt from settled raw hits and replies (what the incremental ones must equal)."""
    out: dict[int, Counts] = {}
    for rid in recipient_ids:
        rows = pipe.store.hits_with_verdicts(recipient_id=rid, limit=10_000_000)
        hits = [
            (sv.hit.kind, sv.hit.link, sv.hit.at, sv.verdict.cls)
            for sv in rows
            if sv.settled and sv.verdict is not None and sv.hit.kind is not HitKind.SELF_VIEW
        ]
        replies = [(counted_reply_kind(r.kind, r.detail), r.at) for r in pipe.store.replies(recipient_id=rid)]
        out[rid] = compute(hits, replies)
    return out


def rebuild_counters(pipe: Pipeline, recipient_ids: Iterable[int]) -> None:
    rows = [(rid, pipe.recipient(rid).message_id, counts) for rid, counts in recompute(pipe, recipient_ids).items()]
    pipe.store.replace_counters(rows)


def reclassify(pipe: Pipeline, since: datetime | None = None, page: int = 2000) -> ReclassifyResult:
    """Re-run the current rules over stored hits (at or after `since`) and rebuild their counters."""
    now = pipe.rt.clock()
    window = timedelta(seconds=pipe.rt.settings.settle_window)
    after, total, changed = 0, 0, 0
    touched: set[int] = set()
    pipe.forget_messages()
    while True:
        rows = pipe.store.hits_with_verdicts(since=since, after_id=after, limit=page)
        if not rows:
            break
        after = rows[-1].hit.id or after
        rows = [r for r in rows if r.hit.kind is not HitKind.SELF_VIEW]
        if not rows:
            continue
        ctxs = pipe.contexts([r.hit for r in rows])
        decided: list[Decided] = []
        for r in rows:
            assert r.hit.id is not None
            v = pipe.decide(r.hit, ctxs[r.hit.id])
            settle_at = r.hit.at + window
            decided.append((r.hit, v, None if now >= settle_at else settle_at))
            old = r.verdict
            if old is None or (old.cls, old.subtype, old.codes) != (v.cls, v.subtype, v.codes):
                changed += 1
            touched.add(r.hit.recipient_id)
        pipe.store.record_verdicts(decided, now, [])
        total += len(decided)
    rebuild_counters(pipe, sorted(touched))
    return ReclassifyResult(hits=total, changed=changed, recipients=len(touched))


def answer_request(pipe: Pipeline, request: str) -> None:
    """Carry out a reclassify request a CLI left in the meta table, and leave the answer there."""
    req: dict[str, object] = {"id": None}
    try:
        req = json.loads(request)
        since_s = req.get("since")
        since = datetime.fromisoformat(str(since_s)) if since_s else None
        result: dict[str, object] = dict(reclassify(pipe, since).as_dict())
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        result = {"error": str(exc)}
    pipe.store.set_meta(RECLASSIFY_REQUEST, "")
    pipe.store.set_meta(RECLASSIFY_DONE, json.dumps({"id": req.get("id"), **result}))


def run_reclassify(runtime: Runtime, since: datetime | None, *, wait: float = 120.0) -> dict[str, object]:
    """Reclassify now if no server holds the pipeline, else ask the server's pipeline to do it."""
    from .pipeline import Pipeline

    pipe = Pipeline(runtime, owner="reclassify:" + secrets.token_hex(3))
    if runtime.store.acquire_lease(LEASE, pipe.owner, runtime.clock(), LEASE_TTL * 20):
        try:
            return dict(reclassify(pipe, since).as_dict())
        finally:
            runtime.store.release_lease(LEASE, pipe.owner)
    req_id = secrets.token_hex(6)
    runtime.store.set_meta(RECLASSIFY_DONE, "")
    runtime.store.set_meta(
        RECLASSIFY_REQUEST, json.dumps({"id": req_id, "since": since.isoformat() if since else None})
    )
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        done = runtime.store.get_meta(RECLASSIFY_DONE)
        if done:
            result = json.loads(done)
            if result.get("id") == req_id:
                result.pop("id", None)
                if "error" in result:
                    raise MailbeaconError(f"reclassify failed: {result['error']}")
                return dict(result)
        time.sleep(0.2)
    raise MailbeaconError(
        "a running `mailbeacon serve` holds the pipeline and did not answer the reclassify request in time; "
        "check that it is healthy, or stop it and run reclassify again"
    )
