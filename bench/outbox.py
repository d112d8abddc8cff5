"""What the outbox costs the pipeline: hits decided and settled per second, with events and without.

    python bench/outbox.py [--rounds 5] [--hits 2000] [--batch 100] [--database-url URL]

Each round stores `--hits` people's pixel loads (human opens, spread over 200 recipients) and
decides them the way the pipeline does: a provisional verdict (a person's hit is told at once,
docs/webhooks.md), then the settled verdict with its counter delta, in batches of `--batch`, one
transaction each (`Store.record_verdicts`). It does this twice per round, on fresh hits, in
alternating order: with the events written in the same transactions (`tell=True`, what `serve`
does) and without (`tell=False`, what `reclassify` does). The ratio `with / without` is the
number to read; the machine is shared and noisy, so compare ratios of the same run, not times.
Default: a throw-away SQLite file; `--database-url postgresql://...` measures PostgreSQL (it
writes into that database: use a scratch one).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mailbeacon.model import Hit, HitKind, Reason, RecipientField, Relation, Verdict, VerdictClass
from mailbeacon.passwords import hash_password
from mailbeacon.stats import hit_delta
from mailbeacon.store import NewRecipient, Store, open_store

PERSON = Verdict(VerdictClass.HUMAN, (Reason("browser", "a person's browser"),), "direct", "bench")


def seed(store: Store, now: datetime) -> tuple[int, int, list[int]]:
    ws = store.create_workspace(f"bench-{uuid.uuid4().hex[:8]}", ["acme.test"], now)
    user = store.create_user(ws.id, f"alice-{uuid.uuid4().hex[:8]}@acme.test", hash_password("x" * 12), now)
    message, recipients = store.create_message(
        workspace_id=ws.id,
        user_id=user.id,
        rfc_message_id=f"<bench-{uuid.uuid4().hex}@acme.test>",
        sender=user.email,
        subject="Proposal",
        sent_at=now,
        links=["https://example.com/a"],
        decoy_link=None,
        tracking={"opens": True, "clicks": True, "replies": True, "reasons": []},
        outcome={"html": True, "instrumented": True, "failure": None, "notes": []},
        source="python",
        recipients=[NewRecipient(f"r{i}@client.example", RecipientField.TO, Relation.EXTERNAL) for i in range(200)],
    )
    return ws.id, message.id, [r.id for r in recipients]


def one_pass(store: Store, ids: tuple[int, int, list[int]], hits: int, batch: int, now: datetime, tell: bool) -> float:
    """Seconds to decide and settle `hits` new human opens (storing them is not measured)."""
    ws, message, recipients = ids
    new = [
        Hit(uid=uuid.uuid4().hex, kind=HitKind.OPEN, workspace_id=ws, message_id=message,
            recipient_id=recipients[i % len(recipients)], at=now + timedelta(seconds=i % 600), link=None,
            ip="81.2.69.161", user_agent="Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/145.0 Safari/537.36")
        for i in range(hits)
    ]  # fmt: skip
    store.insert_hits(new)
    pending = store.pending_hits(hits + 10)
    t0 = time.perf_counter()
    for i in range(0, len(pending), batch):
        chunk = pending[i : i + batch]
        store.record_verdicts([(h, PERSON, now + timedelta(seconds=120)) for h in chunk], now, [], tell=tell)
    for i in range(0, len(pending), batch):
        chunk = pending[i : i + batch]
        deltas = [(h.recipient_id, h.message_id, hit_delta(h.kind, h.link, h.at, VerdictClass.HUMAN)) for h in chunk]
        store.record_verdicts([(h, PERSON, None) for h in chunk], now + timedelta(seconds=121), deltas, tell=tell)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--hits", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--database-url", default="")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="mb-bench-outbox-"))
    url = a.database_url or f"sqlite:///{tmp / 'bench.db'}"
    store = open_store(url, migrate=True)
    now = datetime.now(UTC)
    ids = seed(store, now)
    print(f"{url.split(':', 1)[0]}: {a.hits} people's opens per pass, batches of {a.batch}")
    print(f"{'round':>5}  {'with events/s':>14}  {'without/s':>10}  {'ratio':>6}")
    ratios = []
    for r in range(a.rounds):
        order = (True, False) if r % 2 == 0 else (False, True)
        took = {tell: one_pass(store, ids, a.hits, a.batch, now, tell) for tell in order}
        ratio = took[False] / took[True]
        ratios.append(ratio)
        print(f"{r + 1:>5}  {a.hits / took[True]:>14,.0f}  {a.hits / took[False]:>10,.0f}  {ratio:>6.2f}")
    print(f"median ratio (with events / without): {statistics.median(ratios):.2f}")
    store.close()


if __name__ == "__main__":
    main()
