"""Workspaces, users and their addresses, API tokens, paired devices, signing keys."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, delete, func, insert, select, update

from ..errors import Conflict, NotFound
from ..model import ROLE_ADMIN, ROLE_MEMBER, ApiKey, Device, User, Workspace
from ..passwords import token_hash
from . import schema as t
from .base import StoreBase

#: how stale an API key's `last_used_at` may get before a request writes it again
LAST_USED_EVERY = timedelta(minutes=1)


def _workspace(row: Row[Any]) -> Workspace:
    return Workspace(id=row.id, name=row.name, domains=tuple(row.domains or ()), settings=dict(row.settings or {}))


def _device(row: Row[Any]) -> Device:
    return Device(
        public_id=row.public_id,
        user_id=row.user_id,
        kind=row.kind,
        name=row.name,
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        revoked_at=row.revoked_at,
        sites=tuple(row.sites) if row.sites is not None else None,
        reported_at=row.reported_at,
        last_acted_at=row.last_acted_at,
    )


class AccountsStore(StoreBase):
    # -- meta and keys ------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        with self.read() as c:
            return c.execute(select(t.meta.c.value).where(t.meta.c.key == key)).scalar_one_or_none()

    def set_meta(self, key: str, value: str) -> None:
        with self.tx() as c:
            if c.execute(select(t.meta.c.key).where(t.meta.c.key == key)).first():
                c.execute(update(t.meta).where(t.meta.c.key == key).values(value=value))
            else:
                c.execute(insert(t.meta).values(key=key, value=value))

    def signing_keys(self) -> dict[int, bytes]:
        with self.read() as c:
            return {r.kid: bytes(r.key) for r in c.execute(select(t.secret_keys))}

    def replace_signing_keys(self, keys: Mapping[int, bytes]) -> None:
        """Overwrite the stored form of existing keys (encrypting keys stored in the clear)."""
        with self.tx() as c:
            for kid, key in keys.items():
                c.execute(update(t.secret_keys).where(t.secret_keys.c.kid == kid).values(key=key))

    def add_signing_key(self, key: bytes, now: datetime, kid: int | None = None) -> int:
        """Store a signing key; without `kid`, the next free id (which then signs new tokens)."""
        with self.tx() as c:
            if kid is None:
                kid = (c.execute(select(func.max(t.secret_keys.c.kid))).scalar() or 0) + 1
            c.execute(insert(t.secret_keys).values(kid=kid, key=key, created_at=now))
        return kid

    # -- workspaces ---------------------------------------------------------------------------

    def create_workspace(self, name: str, domains: Sequence[str], now: datetime) -> Workspace:
        name = name.strip()
        doms = sorted({d.strip().lower().lstrip("@") for d in domains if d.strip()})
        with self.tx() as c:
            if c.execute(select(t.workspaces.c.id).where(t.workspaces.c.name == name)).first():
                raise Conflict(f"workspace '{name}' exists already")
            wid = c.execute(
                insert(t.workspaces).values(name=name, domains=doms, settings={}, created_at=now)
            ).inserted_primary_key[0]  # type: ignore[index]
        return Workspace(id=int(wid), name=name, domains=tuple(doms), settings={})

    def workspace(self, key: int | str) -> Workspace:
        col = t.workspaces.c.id if isinstance(key, int) else t.workspaces.c.name
        with self.read() as c:
            row = c.execute(select(t.workspaces).where(col == key)).first()
        if row is None:
            raise NotFound(f"no workspace '{key}' (create it with `mailbeacon workspace add NAME`)")
        return _workspace(row)

    def workspaces(self) -> list[Workspace]:
        with self.read() as c:
            return [_workspace(r) for r in c.execute(select(t.workspaces).order_by(t.workspaces.c.id))]

    def update_workspace(
        self,
        workspace_id: int,
        *,
        domains: Sequence[str] | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> Workspace:
        values: dict[str, Any] = {}
        if domains is not None:
            values["domains"] = sorted({d.strip().lower().lstrip("@") for d in domains if d.strip()})
        if settings is not None:
            values["settings"] = dict(settings)
        with self.tx() as c:
            if values:
                c.execute(update(t.workspaces).where(t.workspaces.c.id == workspace_id).values(**values))
        return self.workspace(workspace_id)

    def is_empty(self) -> bool:
        with self.read() as c:
            return c.execute(select(func.count()).select_from(t.workspaces)).scalar_one() == 0

    def workspace_members(self, workspace_id: int) -> frozenset[str]:
        """Every address of every user of the workspace."""
        q = (
            select(t.user_addresses.c.address)
            .join(t.users, t.users.c.id == t.user_addresses.c.user_id)
            .where(t.users.c.workspace_id == workspace_id)
        )
        with self.read() as c:
            return frozenset(c.execute(q).scalars())

    # -- users --------------------------------------------------------------------------------

    def create_user(
        self, workspace_id: int, email: str, password_hash: str, now: datetime, *, is_admin: bool = False
    ) -> User:
        """A new user; the first user of a workspace is its admin."""
        with self.tx() as c:
            if c.execute(select(t.user_addresses.c.id).where(t.user_addresses.c.address == email)).first():
                raise Conflict(f"the address {email} belongs to a user already")
            first = not c.execute(select(t.users.c.id).where(t.users.c.workspace_id == workspace_id).limit(1)).first()
            uid = c.execute(
                insert(t.users).values(
                    workspace_id=workspace_id,
                    email=email,
                    password_hash=password_hash,
                    role=ROLE_ADMIN if is_admin or first else ROLE_MEMBER,
                    settings={},
                    created_at=now,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            c.execute(insert(t.user_addresses).values(user_id=uid, address=email))
        return self.user(int(uid))

    def add_address(self, user_id: int, address: str) -> None:
        with self.tx() as c:
            if c.execute(select(t.user_addresses.c.id).where(t.user_addresses.c.address == address)).first():
                raise Conflict(f"the address {address} belongs to a user already")
            c.execute(insert(t.user_addresses).values(user_id=user_id, address=address))

    def _user_from_row(self, c: Any, row: Row[Any]) -> User:
        addrs = tuple(
            c.execute(
                select(t.user_addresses.c.address)
                .where(t.user_addresses.c.user_id == row.id)
                .order_by(t.user_addresses.c.id)
            ).scalars()
        )
        return User(
            id=row.id,
            workspace_id=row.workspace_id,
            email=row.email,
            addresses=addrs,
            role=row.role,
            settings=dict(row.settings or {}),
            password_hash=row.password_hash,
            upstream_smtp=row.upstream_smtp,
        )

    def user(self, key: int | str) -> User:
        """A user by id, or by any of their addresses."""
        with self.read() as c:
            if isinstance(key, int):
                row = c.execute(select(t.users).where(t.users.c.id == key)).first()
            else:
                row = c.execute(
                    select(t.users)
                    .join(t.user_addresses, t.user_addresses.c.user_id == t.users.c.id)
                    .where(t.user_addresses.c.address == key.lower())
                ).first()
            if row is None:
                raise NotFound(f"no user '{key}' (create one with `mailbeacon user add EMAIL --workspace NAME`)")
            return self._user_from_row(c, row)

    def users(self, workspace_id: int | None = None) -> list[User]:
        q = select(t.users).order_by(t.users.c.id)
        if workspace_id is not None:
            q = q.where(t.users.c.workspace_id == workspace_id)
        with self.read() as c:
            return [self._user_from_row(c, r) for r in c.execute(q).all()]

    def update_user(
        self,
        user_id: int,
        *,
        password_hash: str | None = None,
        settings: Mapping[str, Any] | None = None,
        upstream_smtp: str | None = None,
        role: str | None = None,
    ) -> None:
        values: dict[str, Any] = {}
        if role is not None:
            values["role"] = role
        if password_hash is not None:
            values["password_hash"] = password_hash
        if settings is not None:
            values["settings"] = dict(settings)
        if upstream_smtp is not None:
            values["upstream_smtp"] = upstream_smtp or None
        if values:
            with self.tx() as c:
                c.execute(update(t.users).where(t.users.c.id == user_id).values(**values))

    # -- API tokens ---------------------------------------------------------------------------

    def add_api_token(self, user_id: int, token: str, name: str, now: datetime) -> ApiKey:
        with self.tx() as c:
            kid = c.execute(
                insert(t.api_tokens).values(user_id=user_id, token_hash=token_hash(token), name=name, created_at=now)
            ).inserted_primary_key[0]  # type: ignore[index]
        return ApiKey(id=int(kid), user_id=user_id, name=name, created_at=now)

    def api_tokens(self, user_id: int) -> list[ApiKey]:
        q = select(t.api_tokens).where(t.api_tokens.c.user_id == user_id).order_by(t.api_tokens.c.id)
        with self.read() as c:
            return [
                ApiKey(id=r.id, user_id=r.user_id, name=r.name, created_at=r.created_at, last_used_at=r.last_used_at)
                for r in c.execute(q)
            ]

    def revoke_api_token(self, user_id: int, token_id: int) -> None:
        """Delete the key: the next request with it is refused."""
        with self.tx() as c:
            n = c.execute(
                delete(t.api_tokens).where(t.api_tokens.c.id == token_id, t.api_tokens.c.user_id == user_id)
            ).rowcount
        if not n:
            raise NotFound(f"no API key {token_id} of this user (`mailbeacon token list EMAIL` lists them)")

    def user_for_api_token(self, token: str, now: datetime) -> User | None:
        """The key's user. Its `last_used_at` is written at most once a `LAST_USED_EVERY` (a busy
        key is not a write per request), so it is right to the minute."""
        h = token_hash(token)
        k = t.api_tokens.c
        with self.tx() as c:
            row = c.execute(select(k.id, k.user_id, k.last_used_at).where(k.token_hash == h)).first()
            if row is None:
                return None
            if row.last_used_at is None or now - row.last_used_at >= LAST_USED_EVERY:
                c.execute(update(t.api_tokens).where(k.id == row.id).values(last_used_at=now))
        return self.user(int(row.user_id))

    # -- pairing codes ------------------------------------------------------------------------

    def add_pairing_code(self, user_id: int, code: str, kind: str, name: str, now: datetime, until: datetime) -> None:
        with self.tx() as c:
            c.execute(
                insert(t.pairing_codes).values(
                    code_hash=token_hash(code), user_id=user_id, kind=kind, name=name, created_at=now, expires_at=until
                )
            )

    def use_pairing_code(self, code: str, now: datetime) -> tuple[int, str, str] | None:
        """(user id, kind, name) of an unused, unexpired code, which is used up by this; else None."""
        h = token_hash(code)
        pc = t.pairing_codes.c
        with self.tx() as c:
            row = c.execute(
                select(t.pairing_codes).where(pc.code_hash == h, pc.used_at.is_(None), pc.expires_at > now)
            ).first()
            if row is None:
                return None
            n = c.execute(update(t.pairing_codes).where(pc.id == row.id, pc.used_at.is_(None)).values(used_at=now))
            if not n.rowcount:
                return None
        return int(row.user_id), str(row.kind), str(row.name)

    # -- devices ------------------------------------------------------------------------------

    def add_device(self, user_id: int, kind: str, name: str, now: datetime) -> Device:
        public_id = "dv_" + secrets.token_urlsafe(12).replace("-", "x").replace("_", "y")
        with self.tx() as c:
            c.execute(
                insert(t.devices).values(public_id=public_id, user_id=user_id, kind=kind, name=name, created_at=now)
            )
        return self.device(public_id)

    def device(self, public_id: str) -> Device:
        with self.read() as c:
            row = c.execute(select(t.devices).where(t.devices.c.public_id == public_id)).first()
        if row is None:
            raise NotFound(f"no paired device '{public_id}'")
        return _device(row)

    def devices(self, user_id: int, *, include_revoked: bool = False) -> list[Device]:
        q = select(t.devices).where(t.devices.c.user_id == user_id).order_by(t.devices.c.id)
        if not include_revoked:
            q = q.where(t.devices.c.revoked_at.is_(None))
        with self.read() as c:
            return [_device(r) for r in c.execute(q)]

    def touch_device(self, public_id: str, now: datetime, *, acted: bool = False) -> None:
        """The device was seen now (`acted`: it sent a self-view beacon)."""
        values: dict[str, Any] = {"last_seen_at": now}
        if acted:
            values["last_acted_at"] = now
        with self.tx() as c:
            c.execute(update(t.devices).where(t.devices.c.public_id == public_id).values(**values))

    def report_device(
        self, public_id: str, now: datetime, sites: Sequence[str], last_acted_at: datetime | None
    ) -> None:
        """Store what the extension says about itself (a heartbeat, or with a beacon)."""
        values: dict[str, Any] = {"sites": sorted(set(sites)), "reported_at": now, "last_seen_at": now}
        if last_acted_at is not None:
            values["last_acted_at"] = last_acted_at
        with self.tx() as c:
            c.execute(update(t.devices).where(t.devices.c.public_id == public_id).values(**values))

    def revoke_device(self, public_id: str, now: datetime) -> None:
        with self.tx() as c:
            n = c.execute(update(t.devices).where(t.devices.c.public_id == public_id).values(revoked_at=now)).rowcount
        if not n:
            raise NotFound(f"no paired device '{public_id}'")
