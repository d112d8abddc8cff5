"""Re-running the rules over stored raw hits, and rebuilding counters from them.

`reclassify` decides every stored hit (at or after `since`) again through the same `Classifier`
as the settling loop, then rebuilds the counters of every recipient it touched, one recipient
per transaction holding that recipient's lock (a reply recorded meanwhile is not overwritten).

Only whoever holds the pipeline lease may reclassify (see `pipeline.run_reclassify`). A command
that cannot take the lease asks the server that holds it, through the `meta` table: `ask` leaves
a request, the server's pipeline answers it with `answer_request`.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from .classifier import Classifier
from .errors import MailbeaconError, StoreUnavailable
from .model import HitKind, Reply
from .stats import Counts, compute, counted_reply_kind
from .store import Store, StoredVerdict

log = logging.getLogger("mailbeacon.reclassify")

RECLASSIFY_REQUEST = "reclassify_request"
RECLASSIFY_DONE = "reclassify_done"
PAGE = 2000


@dataclass(frozen=True)
class ReclassifyResult:
    hits: int
    changed: int
    recipients: int

    def as_dict(self) -> dict[str, int]:
        return {"hits": self.hits, "changed": self.changed, "recipients": self.recipients}


def recount(hits: Sequence[StoredVerdict], replies: Sequence[Reply]) -> Counts:
    """A recipient's counters from its stored hits and replies: what the incremental ones must equal."""
    settled = [
        (sv.hit.kind, sv.hit.link, sv.hit.at, sv.verdict.cls)
        for sv in hits
        if sv.settled and sv.verdict is not None and sv.hit.kind is not HitKind.SELF_VIEW
    ]
    return compute(settled, [(counted_reply_kind(r.kind, r.detail), r.at) for r in replies])


def rebuild_counters(store: Store, recipient_ids: Iterable[int]) -> None:
    """Rebuild the recipients' counters from their raw hits and replies, one transaction each."""
    for rid in recipient_ids:
        store.rebuild_counters(rid, store.recipient(rid).message_id, recount)


def reclassify(
    store: Store,
    classifier: Classifier,
    now: datetime,
    since: datetime | None = None,
    *,
    page: int = PAGE,
    progress: Callable[[], None] | None = None,
) -> ReclassifyResult:
    """Re-run the current rules over stored hits (at or after `since`) and rebuild their counters."""
    after, total, changed = 0, 0, 0
    touched: set[int] = set()
    classifier.forget_messages()
    while True:
        rows = store.hits_with_verdicts(since=since, after_id=after, limit=page)
        if not rows:
            break
        after = rows[-1].hit.id or after
        rows = [r for r in rows if r.hit.kind is not HitKind.SELF_VIEW]
        if not rows:
            continue
        decided = classifier.decide([r.hit for r in rows], now)
        for r, (_, v, _) in zip(rows, decided, strict=True):
            old = r.verdict
            if old is None or (old.cls, old.subtype, old.codes) != (v.cls, v.subtype, v.codes):
                changed += 1
            touched.add(r.hit.recipient_id)
        store.record_verdicts(decided, now, [], tell=False)  # re-deciding tells nothing new (docs/webhooks.md)
        total += len(decided)
        if progress is not None:
            progress()
    rebuild_counters(store, sorted(touched))
    return ReclassifyResult(hits=total, changed=changed, recipients=len(touched))


def answer_request(
    store: Store,
    classifier: Classifier,
    now: datetime,
    request: str,
    *,
    progress: Callable[[], None] | None = None,
) -> None:
    """Carry out a reclassify request a command left in the meta table, and leave the answer there.

    Any failure but an unavailable database is the answer (the command shows it), so a request
    that always fails is not tried again and again.
    """
    req: dict[str, object] = {"id": None}
    try:
        req = json.loads(request)
        since_s = req.get("since")
        since = datetime.fromisoformat(str(since_s)) if since_s else None
        result: dict[str, object] = dict(reclassify(store, classifier, now, since, progress=progress).as_dict())
    except StoreUnavailable:
        raise
    except Exception as exc:
        log.exception("the reclassify request %r failed", request[:200])
        result = {"error": f"{type(exc).__name__}: {exc}"}
    store.set_meta(RECLASSIFY_REQUEST, "")
    store.set_meta(RECLASSIFY_DONE, json.dumps({"id": req.get("id"), **result}))


def ask(store: Store, since: datetime | None, *, wait: float) -> dict[str, object]:
    """Ask the server that holds the pipeline to reclassify, and wait up to `wait` seconds for it."""
    req_id = secrets.token_hex(6)
    store.set_meta(RECLASSIFY_DONE, "")
    store.set_meta(RECLASSIFY_REQUEST, json.dumps({"id": req_id, "since": since.isoformat() if since else None}))
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        done = store.get_meta(RECLASSIFY_DONE)
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
