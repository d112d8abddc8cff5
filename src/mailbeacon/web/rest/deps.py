"""What a route of REST API v1 gets: the caller's principal and the store as the principal sees it.

Routes never get the `Store` or the `Runtime`: `Ctx` carries the workspace-bound view, the
clock and the keyring, so an unscoped lookup is not reachable from a route.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request

from ...errors import AuthError, Forbidden
from ...runtime import Runtime
from ...store import WorkspaceView
from ...tokens import Keyring
from ..principal import Principal, view_of


@dataclass(frozen=True, slots=True)
class Ctx:
    principal: Principal
    view: WorkspaceView
    clock: Callable[[], datetime]
    keyring: Keyring
    public_url: str

    def require_admin(self) -> None:
        """Admin-only actions (workspace settings, other members) are refused to members."""
        if not self.principal.is_admin:
            raise Forbidden("only an admin of the workspace can do this")


def _runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def context(request: Request) -> Ctx:
    principal: Principal | None = request.scope.get("state", {}).get("principal")
    if principal is None:
        raise AuthError("authentication required: send an API key as `Authorization: Bearer <key>`")
    rt = _runtime(request)
    return Ctx(principal, view_of(rt, principal), rt.clock, rt.keyring, rt.public_url)


CtxDep = Annotated[Ctx, Depends(context)]
