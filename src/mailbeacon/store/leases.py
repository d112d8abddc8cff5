"""Leases: at most one node at a time runs a singleton job (the classification pipeline)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, or_, select, update

from . import schema as t
from .base import StoreBase

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class LeasesStore(StoreBase):
    def acquire_lease(self, name: str, owner: str, now: datetime, ttl: float) -> bool:
        """Take or renew the lease `name` for `ttl` seconds. True if `owner` holds it now."""
        until = now + timedelta(seconds=ttl)
        with self.tx() as c:
            row = c.execute(select(t.leases).where(t.leases.c.name == name)).first()
            if row is None:
                c.execute(insert(t.leases).values(name=name, owner=owner, until=until))
                return True
            n = c.execute(
                update(t.leases)
                .where(t.leases.c.name == name, or_(t.leases.c.owner == owner, t.leases.c.until < now))
                .values(owner=owner, until=until)
            ).rowcount
            return bool(n)

    def release_lease(self, name: str, owner: str) -> None:
        with self.tx() as c:
            c.execute(update(t.leases).where(t.leases.c.name == name, t.leases.c.owner == owner).values(until=_EPOCH))
