"""What the dashboard's charts read, as one principal sees it: settled hits per day and verdict
class, and every recipient of the visible messages with its counters.

`ActivityQueries` is part of `WorkspaceView` (scoped.py), which gives it `_mine` (the visible
messages) and the store; the numbers are made from these rows by the pure `trends` module.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, func, select

from ..stats import INT_FIELDS, Counts
from ..trends import HitDay, SentRecipient
from . import schema as t

if TYPE_CHECKING:
    from . import Store


def _row_counts(r: Any) -> Counts:
    """A counters row (alone or joined) as `Counts`."""
    m = r._mapping
    return Counts(
        **{name: m[name] for name in INT_FIELDS},
        first_open_at=r.first_open_at,
        last_open_at=r.last_open_at,
        first_click_at=r.first_click_at,
        last_click_at=r.last_click_at,
        first_reply_at=r.first_reply_at,
    )


class ActivityQueries:
    _store: Store
    workspace_id: int

    def _mine(self, q: Select[Any]) -> Select[Any]:
        raise NotImplementedError  # WorkspaceView's: the principal's messages

    def _day_of(self, column: Any) -> Any:
        """The day (YYYY-MM-DD, UTC) of a time column, in SQL."""
        if self._store.dialect == "sqlite":
            return func.substr(column, 1, 10)
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")

    def hit_days(self, *, since: datetime, until: datetime) -> list[HitDay]:
        """Settled hits of the visible messages per day (UTC) of the hit, kind and verdict class."""
        h, v = t.hits.c, t.verdicts.c
        day = self._day_of(h.at)
        q = (
            select(day.label("day"), h.kind, v.cls, func.count().label("n"))
            .select_from(t.hits.join(t.verdicts, v.hit_id == h.id))
            .where(
                h.workspace_id == self.workspace_id,
                h.message_id.in_(self._mine(select(t.messages.c.id))),
                v.settled.is_(True),
                h.at >= since,
                h.at < until,
            )
            .group_by(day, h.kind, v.cls)
        )
        with self._store.read() as conn:
            return [HitDay(r.day, r.kind, r.cls, int(r.n)) for r in conn.execute(q)]

    def sent_recipients(self, *, since: datetime, until: datetime) -> list[SentRecipient]:
        """Every recipient of the visible messages sent in [since, until), with its counters."""
        m, r = t.messages.c, t.recipients.c
        q = self._mine(
            select(m.user_id, m.sent_at, *t.counters.c)
            .select_from(
                t.messages.join(t.recipients, r.message_id == m.id).outerjoin(
                    t.counters, t.counters.c.recipient_id == r.id
                )
            )
            .where(m.sent_at >= since, m.sent_at < until)
        )
        with self._store.read() as conn:
            rows = conn.execute(q.order_by(r.id)).all()
        return [
            SentRecipient(row.user_id, row.sent_at, _row_counts(row) if row.recipient_id else Counts()) for row in rows
        ]
