"""What a route of REST API v1 gets: the caller's principal and the store as the principal sees it.

Routes never get the `Store` or the `Runtime`: `Ctx` carries the workspace-bound view, the
clock and the keyring, so an unscoped lookup is not reachable from a route.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request

from ... import provider_events
from ...addresses import try_normalise
from ...errors import AuthError, Forbidden, MailbeaconError, NotFound, UpstreamPermanent
from ...imap.watcher import CheckResult
from ...instrumentation import Instrumented, instrument
from ...pipeline import Pipeline
from ...runtime import Runtime
from ...store import ProviderHook, WorkspaceView
from ...store.deliveries import Delivery
from ...tokens import Keyring
from ...webhooks.sender import new_secret
from ...webhooks.worker import WebhookWorker, sample_event
from ..principal import Principal, view_of
from ..stream import StreamHub


class Outbox:
    """Instrumenting and relaying mail for the principal: only from the principal's own addresses."""

    def __init__(self, runtime: Runtime, principal: Principal) -> None:
        self._rt = runtime
        self._principal = principal

    def instrument(self, raw: bytes, sender: str, recipients: list[str] | None, track: str | None) -> Instrumented:
        address = try_normalise(sender)
        if address is None or address not in self._principal.user.addresses:
            raise Forbidden(f"{sender[:320]} is not one of your addresses: send from one of them")
        return instrument(self._rt, raw, sender=address, recipients=recipients, track=track, source="api")

    async def relay(self, result: Instrumented) -> dict[str, tuple[int, str]]:
        """Send the copies through the sender's upstream, and remember whether they went out."""
        from ...smtp import relay  # the SMTP client loads only when mail is relayed

        try:
            outcome = await relay(self._rt, result)
        except MailbeaconError as exc:
            await asyncio.to_thread(
                self._record, result, {"delivered": [], "failed": {c.address: str(exc)[:300] for c in result.copies}}
            )
            raise
        delivered = sorted(a for a, (code, _) in outcome.items() if 200 <= code < 300)
        failed = {a: f"{code} {text}"[:300] for a, (code, text) in outcome.items() if not 200 <= code < 300}
        await asyncio.to_thread(self._record, result, {"delivered": delivered, "failed": failed})
        return outcome

    def _record(self, result: Instrumented, relay: dict[str, Any]) -> None:
        if not result.message_id:
            return
        outcome = dict(self._rt.store.message(result.message_id).outcome)
        outcome["relay"] = relay
        self._rt.store.update_message_outcome(result.message_id, outcome)


class Mailroom:
    """The principal's IMAP mailboxes: passwords sealed with the credentials key, a check now."""

    def __init__(self, runtime: Runtime, view: WorkspaceView, pipeline: Pipeline) -> None:
        self._rt = runtime
        self._view = view
        self._pipeline = pipeline

    def seal(self, password: str) -> str:
        return self._rt.credentials.encrypt(password)

    async def check(self, mailbox_id: int) -> CheckResult:
        from ...imap import check_mailbox  # the IMAP client loads only when a mailbox is checked

        box = await asyncio.to_thread(self._view.mailbox, mailbox_id)  # in scope, else NotFound
        try:
            return await check_mailbox(self._pipeline, box.id)
        except AuthError as exc:  # the IMAP server refused the mailbox's login, not the caller's
            raise UpstreamPermanent(f"the IMAP server refused the login of mailbox {box.id}: {exc}") from None


class Hooks:
    """The workspace's webhooks: signing secrets sealed with the credentials key, a test event sent now."""

    def __init__(self, runtime: Runtime, principal: Principal, worker: WebhookWorker | None) -> None:
        self._rt = runtime
        self._worker = worker
        #: the workspace's endpoints (members may read them; the routes leave changes to admins)
        self.view = runtime.store.webhook_view(principal.workspace_id)

    def new_secret(self) -> tuple[str, str]:
        """(the secret, shown once; the same sealed for the database)."""
        secret = new_secret()
        return secret, self._rt.credentials.encrypt(secret)

    async def test(self, webhook_id: int) -> Delivery:
        msg_id, body = sample_event(webhook_id, self._rt.clock())
        delivery = await asyncio.to_thread(self.view.add_test, webhook_id, msg_id, body, self._rt.clock())
        if self._worker is None:  # this node sends no webhooks: a node that does sends it
            return delivery
        return await self._worker.send_now(delivery.id)


@dataclass(frozen=True, slots=True)
class Ctx:
    principal: Principal
    view: WorkspaceView
    clock: Callable[[], datetime]
    keyring: Keyring
    public_url: str
    outbox: Outbox
    mailroom: Mailroom
    hooks: Hooks
    settle_window: float

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
        if request.scope.get("state", {}).get("session_expired"):
            raise AuthError("the dashboard session expired: sign in again at /signin")
        raise AuthError("authentication required: send an API key as `Authorization: Bearer <key>`")
    rt = _runtime(request)
    return _ctx(rt, principal, request.app.state.pipeline, getattr(request.app.state, "webhooks", None))


def _ctx(rt: Runtime, principal: Principal, pipeline: Pipeline, worker: WebhookWorker | None) -> Ctx:
    view = view_of(rt, principal)
    return Ctx(
        principal,
        view,
        rt.clock,
        rt.keyring,
        rt.public_url,
        Outbox(rt, principal),
        Mailroom(rt, view, pipeline),
        Hooks(rt, principal, worker),
        rt.settings.settle_window,
    )


CtxDep = Annotated[Ctx, Depends(context)]


def stream_hub(request: Request) -> StreamHub:
    hub: StreamHub = request.app.state.hub
    return hub


HubDep = Annotated[StreamHub, Depends(stream_hub)]


class ProviderDesk:
    """The email providers of the principal's workspace (web/rest/providers.py; admins only)."""

    def __init__(self, runtime: Runtime, workspace_id: int) -> None:
        self._rt = runtime
        self._workspace_id = workspace_id

    def all(self) -> list[tuple[ProviderHook, dict[str, Any]]]:
        return provider_events.configs(self._rt, self._workspace_id)

    def put(self, provider: str, changes: dict[str, Any], *, new_url: bool) -> provider_events.Configured:
        return provider_events.configure(self._rt, self._workspace_id, provider, changes, new_url=new_url)

    def remove(self, provider: str) -> None:
        try:
            self._rt.store.remove_provider_hook(self._workspace_id, provider)
        except NotFound:
            pass  # gone already: removing twice is the same as once


def provider_desk(request: Request, ctx: CtxDep) -> ProviderDesk:
    ctx.require_admin()
    return ProviderDesk(_runtime(request), ctx.principal.workspace_id)


ProviderDeskDep = Annotated[ProviderDesk, Depends(provider_desk)]
