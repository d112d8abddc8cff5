"""Per-recipient and per-link counters.

Deltas are applied with single `UPDATE ... SET n = n + :d` statements, so concurrent writers
(the pipeline and reply intake) never lose an increment. A rebuild from raw hits and replies
replaces a recipient's counters while holding the recipient's lock (see `Store.rebuild_counters`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, and_, case, delete, insert, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ..stats import INT_FIELDS, Counts, add
from . import schema as t
from .base import StoreBase

_MIN = ("first_open_at", "first_click_at", "first_reply_at")
_MAX = ("last_open_at", "last_click_at")


class CountsStore(StoreBase):
    def _ensure_rows(self, c: Connection, table: Any, rows: list[dict[str, Any]], keys: list[str]) -> None:
        if not rows:
            return
        ins = sqlite.insert(table) if self.dialect == "sqlite" else postgresql.insert(table)
        c.execute(ins.on_conflict_do_nothing(index_elements=keys), rows)

    def _apply_deltas(self, c: Connection, deltas: Sequence[tuple[int, int, Counts]]) -> None:
        merged: dict[int, tuple[int, Counts]] = {}
        for rid, mid, d in deltas:
            prev = merged.get(rid)
            merged[rid] = (mid, add(prev[1], d) if prev else d)
        if merged:
            self._apply_merged(c, merged)

    def _apply_merged(self, c: Connection, merged: dict[int, tuple[int, Counts]]) -> None:
        self._ensure_rows(
            c,
            t.counters,
            [{"recipient_id": rid, "message_id": mid} for rid, (mid, _) in sorted(merged.items())],
            ["recipient_id"],
        )
        for rid, (mid, d) in sorted(merged.items()):
            values: dict[str, Any] = {}
            for name in INT_FIELDS:
                n = getattr(d, name)
                if n:
                    values[name] = t.counters.c[name] + n
            for name in _MIN + _MAX:
                v = getattr(d, name)
                if v is None:
                    continue
                col = t.counters.c[name]
                better = col > v if name in _MIN else col < v
                values[name] = case(
                    (col.is_(None), literal(v, t.UTCDateTime())),
                    (better, literal(v, t.UTCDateTime())),
                    else_=col,
                )
            if values:
                c.execute(update(t.counters).where(t.counters.c.recipient_id == rid).values(**values))
            link_rows = [(k, n, 0) for k, n in d.link_clicks.items()] + [
                (k, 0, n) for k, n in d.link_scanner_clicks.items()
            ]
            if link_rows:
                self._ensure_rows(
                    c,
                    t.link_counters,
                    [{"recipient_id": rid, "link": k, "message_id": mid} for k, _, _ in link_rows],
                    ["recipient_id", "link"],
                )
                for k, n, s in link_rows:
                    c.execute(
                        update(t.link_counters)
                        .where(and_(t.link_counters.c.recipient_id == rid, t.link_counters.c.link == k))
                        .values(
                            clicks=t.link_counters.c.clicks + n,
                            clicks_scanner=t.link_counters.c.clicks_scanner + s,
                        )
                    )

    def _replace_counters(self, c: Connection, rid: int, mid: int, cnt: Counts) -> None:
        """Overwrite one recipient's counters (after a recomputation)."""
        c.execute(delete(t.counters).where(t.counters.c.recipient_id == rid))
        c.execute(delete(t.link_counters).where(t.link_counters.c.recipient_id == rid))
        values: dict[str, Any] = {"recipient_id": rid, "message_id": mid}
        for name in INT_FIELDS + _MIN + _MAX:
            values[name] = getattr(cnt, name)
        c.execute(insert(t.counters).values(**values))
        links = sorted(set(cnt.link_clicks) | set(cnt.link_scanner_clicks))
        if links:
            c.execute(
                insert(t.link_counters),
                [
                    {
                        "recipient_id": rid,
                        "link": k,
                        "message_id": mid,
                        "clicks": cnt.link_clicks.get(k, 0),
                        "clicks_scanner": cnt.link_scanner_clicks.get(k, 0),
                    }
                    for k in links
                ],
            )

    def counts(self, recipient_ids: Iterable[int]) -> dict[int, Counts]:
        """Current counters per recipient (zero counters for recipients with none yet)."""
        with self.read() as c:
            return read_counts(c, recipient_ids)


def read_counts(c: Connection, recipient_ids: Iterable[int]) -> dict[int, Counts]:
    """The recipients' counters as `c` sees them (zero counters for recipients with none yet)."""
    ids = list(set(recipient_ids))
    out: dict[int, Counts] = {i: Counts() for i in ids}
    if not ids:
        return out
    for r in c.execute(select(t.counters).where(t.counters.c.recipient_id.in_(ids))):
        m = r._mapping
        out[r.recipient_id] = Counts(**{name: m[name] for name in INT_FIELDS + _MIN + _MAX})
    links: dict[int, tuple[dict[int, int], dict[int, int]]] = {}
    for r in c.execute(select(t.link_counters).where(t.link_counters.c.recipient_id.in_(ids))):
        lc, ls = links.setdefault(r.recipient_id, ({}, {}))
        if r.clicks:
            lc[r.link] = r.clicks
        if r.clicks_scanner:
            ls[r.link] = r.clicks_scanner
    for rid, (lc, ls) in links.items():
        cur = out[rid]
        out[rid] = Counts(
            **{name: getattr(cur, name) for name in INT_FIELDS + _MIN + _MAX},
            link_clicks=lc,
            link_scanner_clicks=ls,
        )
    return out
