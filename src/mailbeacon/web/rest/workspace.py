"""/api/v1/workspace: its domains, members and tracking switches (R8); the caller's own switches."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Path

from ...errors import Conflict
from ...model import ROLE_ADMIN, Workspace
from ...reachability import tracking_base
from .accounts import member_out
from .deps import CtxDep
from .models import MemberIn, MemberOut, Switches, WorkspaceIn, WorkspaceOut

router = APIRouter(tags=["workspace"])
UserId = Annotated[int, Path(ge=1, le=2**31)]


def _merged(settings: Mapping[str, object], changes: Switches) -> dict[str, Any]:
    """Settings with the switches given set (a null clears one: the level above decides)."""
    out = dict(settings)
    for key, value in changes.model_dump(exclude_unset=True).items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def _workspace_out(w: Workspace, public_url: str) -> WorkspaceOut:
    return WorkspaceOut(
        id=w.id,
        name=w.name,
        domains=list(w.domains),
        tracking=Switches.of(w.settings),
        tracking_url=tracking_base(public_url, w.settings),
    )


@router.get("/api/v1/workspace", response_model=WorkspaceOut)
async def get_workspace(ctx: CtxDep) -> WorkspaceOut:
    return _workspace_out(await asyncio.to_thread(ctx.view.workspace), ctx.public_url)


@router.patch("/api/v1/workspace", response_model=WorkspaceOut)
async def update_workspace(ctx: CtxDep, body: WorkspaceIn) -> WorkspaceOut:
    """Admins only: the workspace's own domains (colleagues, R6) and its tracking switches."""
    ctx.require_admin()
    domains = None if body.domains is None else [d.strip().lower().lstrip("@") for d in body.domains]

    def change() -> Workspace:
        ws = ctx.view.workspace()
        settings = _merged(ws.settings, body.tracking) if body.tracking is not None else dict(ws.settings)
        if "tracking_url" in body.model_fields_set:
            settings.pop("tracking_url", None)
            if body.tracking_url:
                settings["tracking_url"] = body.tracking_url.rstrip("/").lower()
        return ctx.view.update_workspace(domains=domains, settings=settings)

    return _workspace_out(await asyncio.to_thread(change), ctx.public_url)


@router.get("/api/v1/workspace/members", response_model=list[MemberOut])
async def list_members(ctx: CtxDep) -> list[MemberOut]:
    """Admins only."""
    ctx.require_admin()
    return [member_out(u) for u in await asyncio.to_thread(ctx.view.members)]


@router.patch("/api/v1/workspace/members/{user_id}", response_model=MemberOut)
async def update_member(ctx: CtxDep, user_id: UserId, body: MemberIn) -> MemberOut:
    """Admins only: a member's role and tracking switches. The last admin stays admin."""
    ctx.require_admin()

    def change() -> MemberOut:
        user = ctx.view.member(user_id)
        if body.role is not None and body.role != ROLE_ADMIN and user.is_admin:
            admins = [u for u in ctx.view.members() if u.is_admin]
            if len(admins) <= 1:
                raise Conflict("the workspace needs an admin: make someone else admin first")
        settings = _merged(user.settings, body.tracking) if body.tracking is not None else None
        return member_out(ctx.view.update_member(user.id, settings=settings, role=body.role))

    return await asyncio.to_thread(change)


@router.patch("/api/v1/me/tracking", response_model=MemberOut, tags=["accounts"])
async def update_my_tracking(ctx: CtxDep, body: Switches) -> MemberOut:
    """The caller's own switches: they can only narrow what the workspace allows (R8)."""

    def change() -> MemberOut:
        user = ctx.view.member(ctx.principal.user.id)
        return member_out(ctx.view.update_member(user.id, settings=_merged(user.settings, body), role=None))

    return await asyncio.to_thread(change)
