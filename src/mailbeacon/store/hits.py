"""Raw hits and their verdicts.

`insert_hits` is the writer's path: plain DBAPI `executemany`, idempotent on the hit's `uid`
(replaying the journal twice stores each hit once).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, func, or_, select, update

from ..model import Hit, HitKind, Reason, Verdict, VerdictClass
from . import schema as t
from .base import StoreBase

#: a hit's state: stored, provisionally decided (settles at `settle_at`), settled; or set aside
#: because deciding it failed (its verdict row says why; `reclassify` tries it again)
STATE_NEW, STATE_PROVISIONAL, STATE_SETTLED, STATE_FAILED = 0, 1, 2, 3
_COLS = "uid, kind, workspace_id, message_id, recipient_id, link, at, method, ip, user_agent, headers, device_id, state"
#: a hit is stored only when its recipient belongs to its message, in its workspace (a token
#: made with a stolen key, or a bug, cannot attach hits to someone else's mail)
_BELONGS = (
    "WHERE EXISTS (SELECT 1 FROM recipients r JOIN messages m ON m.id = r.message_id "
    "WHERE r.id = {p} AND r.message_id = {p} AND m.workspace_id = {p})"
)
_INSERT = {
    "sqlite": f"INSERT OR IGNORE INTO hits ({_COLS}) SELECT ?,?,?,?,?,?,?,?,?,?,?,?,? " + _BELONGS.format(p="?"),
    "postgresql": f"INSERT INTO hits ({_COLS}) SELECT %s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s::json,%s,%s "
    + _BELONGS.format(p="%s")
    + " ON CONFLICT (uid) DO NOTHING",
}


@dataclass(frozen=True, slots=True)
class StoredVerdict:
    hit: Hit
    verdict: Verdict | None
    settled: bool


def _hit(row: Row[Any]) -> Hit:
    return Hit(
        id=row.id,
        uid=row.uid,
        kind=HitKind(row.kind),
        workspace_id=row.workspace_id,
        message_id=row.message_id,
        recipient_id=row.recipient_id,
        link=row.link,
        at=row.at,
        method=row.method,
        ip=row.ip,
        user_agent=row.user_agent,
        headers=dict(row.headers or {}),
        device_id=row.device_id,
    )


def _verdict(row: Row[Any]) -> Verdict | None:
    if row.cls is None:
        return None
    return Verdict(
        cls=VerdictClass(row.cls),
        subtype=row.subtype,
        reasons=tuple(Reason(code, text) for code, text in row.reasons),
        rules_version=row.rules_version,
    )


_json = json.JSONEncoder(separators=(",", ":")).encode


def _sqlite_time(dt: datetime) -> str:
    """The text SQLAlchemy's SQLite DateTime stores: `YYYY-MM-DD HH:MM:SS.ffffff` in UTC."""
    if dt.tzinfo is not UTC:
        dt = dt.astimezone(UTC)
    return dt.isoformat(" ", "microseconds")[:26]


class HitsStore(StoreBase):
    def insert_hits(self, hits: Sequence[Hit]) -> None:
        """Store raw hits in one transaction; hits already stored (same uid) are skipped, and so
        are hits whose recipient is not one of their message's.

        Self-view beacons need no verdict: they are stored settled.
        """
        if not hits:
            return
        sqlite = self.dialect == "sqlite"
        rows = [
            (
                h.uid,
                h.kind.value,
                h.workspace_id,
                h.message_id,
                h.recipient_id,
                h.link,
                _sqlite_time(h.at) if sqlite else h.at,
                h.method,
                h.ip,
                h.user_agent,
                _json(h.headers if isinstance(h.headers, dict) else dict(h.headers)),
                h.device_id,
                STATE_SETTLED if h.kind is HitKind.SELF_VIEW else STATE_NEW,
                h.recipient_id,
                h.message_id,
                h.workspace_id,
            )
            for h in hits
        ]
        with self.tx() as c:
            c.exec_driver_sql(_INSERT[self.dialect], rows)

    def count_hits(self, **where: Any) -> int:
        q = select(func.count()).select_from(t.hits)
        for k, v in where.items():
            q = q.where(t.hits.c[k] == v)
        with self.read() as c:
            return int(c.execute(q).scalar_one())

    def pending_hits(self, limit: int) -> list[Hit]:
        """Hits stored but not classified yet, oldest first."""
        q = select(t.hits).where(t.hits.c.state == STATE_NEW).order_by(t.hits.c.id).limit(limit)
        with self.read() as c:
            return [_hit(r) for r in c.execute(q)]

    def due_hits(self, now: datetime, limit: int) -> list[Hit]:
        """Hits with a provisional verdict whose settling window has passed."""
        q = (
            select(t.hits)
            .where(t.hits.c.state == STATE_PROVISIONAL, t.hits.c.settle_at <= now)
            .order_by(t.hits.c.id)
            .limit(limit)
        )
        with self.read() as c:
            return [_hit(r) for r in c.execute(q)]

    def recipient_hits(
        self,
        recipient_ids: Iterable[int],
        since: datetime | None = None,
        until: datetime | None = None,
        limit_per_recipient: int = 300,
    ) -> dict[int, list[Hit]]:
        """Hits of each recipient in [since, until], ordered by time: the latest ones when capped."""
        ids = sorted(set(recipient_ids))
        out: dict[int, list[Hit]] = {}
        with self.read() as c:
            for rid in ids:
                q = select(t.hits).where(t.hits.c.recipient_id == rid)
                if since is not None:
                    q = q.where(t.hits.c.at >= since)
                if until is not None:
                    q = q.where(t.hits.c.at <= until)
                q = q.order_by(t.hits.c.at.desc(), t.hits.c.id.desc()).limit(limit_per_recipient)
                out[rid] = [_hit(r) for r in reversed(c.execute(q).all())]
        return out

    def peer_hits(
        self, message_id: int, ips: Iterable[str], since: datetime, until: datetime, limit: int = 2000
    ) -> list[Hit]:
        """Hits on a message from the given IPs in [since, until] (all recipients)."""
        ip_list = [i for i in set(ips) if i]
        if not ip_list:
            return []
        q = (
            select(t.hits)
            .where(
                t.hits.c.message_id == message_id,
                t.hits.c.ip.in_(ip_list),
                t.hits.c.at >= since,
                t.hits.c.at <= until,
                t.hits.c.kind != HitKind.SELF_VIEW.value,
            )
            .order_by(t.hits.c.at)
            .limit(limit)
        )
        with self.read() as c:
            return [_hit(r) for r in c.execute(q)]

    def _save_verdicts(
        self,
        c: Connection,
        decided: Sequence[tuple[Hit, Verdict, datetime | None]],
        now: datetime,
    ) -> None:
        if not decided:
            return
        ids = [h.id for h, _, _ in decided]
        existing = {
            r.hit_id: r.revisions
            for r in c.execute(select(t.verdicts.c.hit_id, t.verdicts.c.revisions).where(t.verdicts.c.hit_id.in_(ids)))
        }
        new_rows, upd_rows = [], []
        for h, v, settle_at in decided:
            row = {
                "hit_id": h.id,
                "cls": v.cls.value,
                "subtype": v.subtype,
                "reasons": [[r.code, r.text] for r in v.reasons],
                "rules_version": v.rules_version,
                "settled": settle_at is None,
                "decided_at": now,
            }
            if h.id in existing:
                row["b_hit_id"] = row.pop("hit_id")
                row["revisions"] = existing[h.id] + 1
                upd_rows.append(row)
            else:
                row["revisions"] = 0
                new_rows.append(row)
        if new_rows:
            c.execute(t.verdicts.insert(), new_rows)
        if upd_rows:
            c.execute(
                t.verdicts.update().where(t.verdicts.c.hit_id == bindparam("b_hit_id")),
                upd_rows,
            )
        state_rows = [
            {
                "b_id": h.id,
                "state": STATE_SETTLED if settle_at is None else STATE_PROVISIONAL,
                "settle_at": settle_at,
            }
            for h, _, settle_at in decided
        ]
        c.execute(
            update(t.hits)
            .where(t.hits.c.id == bindparam("b_id"))
            .values(state=bindparam("state"), settle_at=bindparam("settle_at")),
            state_rows,
        )

    def set_aside(self, failed: Sequence[tuple[Hit, Verdict]], now: datetime) -> None:
        """Hits the pipeline could not decide: their verdict row keeps the reason, their state is
        failed (not counted, not picked up again; `reclassify` decides them anew)."""
        if not failed:
            return
        with self.tx() as c:
            self._save_verdicts(c, [(h, v, now) for h, v in failed], now)
            self._mark_failed(c, [h.id for h, _ in failed if h.id is not None])

    def mark_failed(self, hit_ids: Sequence[int]) -> None:
        """Set hits aside without a verdict row (when even writing the reason fails)."""
        with self.tx() as c:
            self._mark_failed(c, hit_ids)

    def _mark_failed(self, c: Connection, hit_ids: Sequence[int]) -> None:
        c.execute(update(t.hits).where(t.hits.c.id.in_(list(hit_ids))).values(state=STATE_FAILED, settle_at=None))

    def waiting_since(self, now: datetime) -> datetime | None:
        """Since when the oldest hit waiting for a decision has been waiting (None: none waits).

        A stored hit waits from its time (the oldest by storing order); a provisional one from
        its `settle_at`, once that has passed.
        """
        new = select(t.hits.c.at).where(t.hits.c.state == STATE_NEW).order_by(t.hits.c.id).limit(1)
        due = select(func.min(t.hits.c.settle_at)).where(t.hits.c.state == STATE_PROVISIONAL, t.hits.c.settle_at <= now)
        with self.read() as c:
            times = [c.execute(new).scalar(), c.execute(due).scalar()]
        found = [x for x in times if x is not None]
        return min(found) if found else None

    def hits_with_verdicts(
        self,
        *,
        recipient_id: int | None = None,
        message_id: int | None = None,
        since: datetime | None = None,
        after_id: int = 0,
        limit: int = 10_000,
    ) -> list[StoredVerdict]:
        """Hits with their current verdicts (None before classification), in id order."""
        with self.read() as c:
            return self._hits_with_verdicts(
                c, recipient_id=recipient_id, message_id=message_id, since=since, after_id=after_id, limit=limit
            )

    def _hits_with_verdicts(
        self,
        c: Connection,
        *,
        recipient_id: int | None = None,
        message_id: int | None = None,
        since: datetime | None = None,
        after_id: int = 0,
        limit: int | None = None,
    ) -> list[StoredVerdict]:
        q = (
            select(
                t.hits,
                t.verdicts.c.cls,
                t.verdicts.c.subtype,
                t.verdicts.c.reasons,
                t.verdicts.c.rules_version,
            )
            .select_from(t.hits.outerjoin(t.verdicts, t.verdicts.c.hit_id == t.hits.c.id))
            .where(t.hits.c.id > after_id)
            .order_by(t.hits.c.id)
        )
        if limit is not None:
            q = q.limit(limit)
        if recipient_id is not None:
            q = q.where(t.hits.c.recipient_id == recipient_id)
        if message_id is not None:
            q = q.where(t.hits.c.message_id == message_id)
        if since is not None:
            q = q.where(t.hits.c.at >= since)
        return [StoredVerdict(_hit(r), _verdict(r), r.state == STATE_SETTLED) for r in c.execute(q)]

    def provisional_counts(self, recipient_ids: Iterable[int]) -> dict[int, dict[str, int]]:
        """Per recipient, how many hits are not settled yet, by provisional class ('pending' if none)."""
        ids = list(set(recipient_ids))
        out: dict[int, dict[str, int]] = {}
        if not ids:
            return out
        q = (
            select(t.hits.c.recipient_id, t.verdicts.c.cls, func.count())
            .select_from(t.hits.outerjoin(t.verdicts, t.verdicts.c.hit_id == t.hits.c.id))
            .where(
                t.hits.c.recipient_id.in_(ids),
                or_(t.hits.c.state == STATE_NEW, t.hits.c.state == STATE_PROVISIONAL),
            )
            .group_by(t.hits.c.recipient_id, t.verdicts.c.cls)
        )
        with self.read() as c:
            for rid, cls, n in c.execute(q):
                out.setdefault(rid, {})[cls or "pending"] = int(n)
        return out
