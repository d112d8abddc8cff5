"""Who is calling: every request's credentials resolve once, at the edge, to a `Principal`.

`PrincipalEdge` wraps the API app. Before any route runs it reads the credentials of the
request and puts `Principal(user, workspace, role, via, device)` in `scope["state"]`:

- `Authorization: Bearer mbt_...`   an API key of the user
- `Authorization: Bearer mbd_...`   a paired device's token (`mbd_<device id>.<device secret>`)
- `Authorization: Basic ...`        the user's own address and password (scripts, first pairing)
- the `mb_session` cookie           a dashboard session (the signed-in browser's device);
                                    its API changes need its CSRF token in `X-CSRF-Token`

Credentials that are presented but do not check out are answered 401 here (a refused
password is throttled, see auth.py); a session cookie that no longer checks out (its device
was revoked) is ignored like no cookie. Routes ask for the principal; without one they answer
401. The principal's store view (`view`) is bound to its workspace and, for a member, to
their own mail.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from dataclasses import dataclass
from typing import Any

from ..devices import device_secret
from ..errors import AuthError, Forbidden, MailbeaconError, NotFound
from ..model import ROLE_ADMIN, User
from ..runtime import Runtime
from ..store import WorkspaceView
from ..tokens import Keyring, b64encode
from .auth import _basic, _bearer
from .problems import send_problem
from .providers import WEBHOOK_PATH
from .tracking import DEVICE_COOKIE, DEVICE_COOKIE_PURPOSE, ASGIApp, Receive, Scope, Send

log = logging.getLogger("mailbeacon.web")

DEVICE_TOKEN_PREFIX = "mbd_"
SESSION_COOKIE = "mb_session"
SESSION_PURPOSE = "dashboard-session"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
#: routes a device authenticates itself (signature, cookie or pairing code), never by a session
SELF_AUTHENTICATED = frozenset(
    ("/api/v1/self-view", "/api/v1/self-view/check", "/api/v1/devices/pair", "/api/v1/devices/heartbeat")
)


@dataclass(frozen=True, slots=True)
class Principal:
    user: User
    via: str  # api_key | device | basic | session
    device_id: str | None = None

    @property
    def workspace_id(self) -> int:
        return self.user.workspace_id

    @property
    def role(self) -> str:
        return self.user.role

    @property
    def is_admin(self) -> bool:
        return self.user.role == ROLE_ADMIN


def csrf_token(keyring: Keyring, session: str) -> str:
    """The CSRF token of a session: derived from the session cookie, so nothing is stored."""
    return b64encode(hmac.digest(keyring.purpose_key("csrf"), session.encode(), hashlib.sha256))


def csrf_ok(keyring: Keyring, session: str, given: str) -> bool:
    return bool(given) and bool(session) and hmac.compare_digest(csrf_token(keyring, session), given)


def view_of(runtime: Runtime, principal: Principal) -> WorkspaceView:
    """The store as `principal` sees it: an admin the workspace, a member their own mail."""
    return runtime.store.scoped(principal.workspace_id, principal.user.id, whole_workspace=principal.is_admin)


def device_token(keyring: Keyring, public_id: str) -> str:
    return f"{DEVICE_TOKEN_PREFIX}{public_id}.{device_secret(keyring, public_id)}"


def set_device_cookie(response: Any, keyring: Keyring, public_url: str, public_id: str) -> str:
    """Sign the paired-device cookie and set it on a Starlette `response`: cross-site (so that it goes
    with pixels on webmail pages) only over https, `SameSite=None; Secure`; else `Lax`. Returns it."""
    cookie = keyring.sign_value(DEVICE_COOKIE_PURPOSE, public_id)
    secure = public_url.startswith("https://")
    response.set_cookie(
        DEVICE_COOKIE,
        cookie,
        max_age=10 * 365 * 86400,
        httponly=True,
        secure=secure,
        samesite="none" if secure else "lax",
    )
    return cookie


def _device(runtime: Runtime, token: str) -> Principal:
    public_id, _, secret = token.removeprefix(DEVICE_TOKEN_PREFIX).partition(".")
    if (
        not public_id
        or len(public_id) > 40
        or not hmac.compare_digest(device_secret(runtime.keyring, public_id), secret)
    ):
        raise AuthError("unknown device token (pair the device again)")
    try:
        dev = runtime.store.device(public_id)
    except NotFound:
        raise AuthError("unknown device token (pair the device again)") from None
    if dev.revoked_at is not None:
        raise AuthError("this device was unpaired (pair it again)")
    return Principal(runtime.store.user(dev.user_id), "device", dev.public_id)


def _session(runtime: Runtime, cookie: str) -> Principal | None:
    public_id = runtime.keyring.verify_value(SESSION_PURPOSE, cookie)
    if public_id is None:
        return None
    try:
        dev = runtime.store.device(public_id)
    except NotFound:
        return None
    if dev.revoked_at is not None:
        return None
    return Principal(runtime.store.user(dev.user_id), "session", dev.public_id)


def resolve(runtime: Runtime, authorization: str, session_cookie: str, client: str) -> Principal | None:
    """The caller's principal; None without credentials; `AuthError` for credentials that fail."""
    scheme, _, value = authorization.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        if value.startswith(DEVICE_TOKEN_PREFIX):
            return _device(runtime, value)
        return Principal(_bearer(runtime, value), "api_key")
    if scheme.lower() == "basic" and value:
        return Principal(_basic(runtime, value, client), "basic")
    if authorization:
        raise AuthError("send an API key as `Authorization: Bearer <key>` or Basic credentials")
    if session_cookie:
        return _session(runtime, session_cookie)
    return None


def _cookie(headers: list[tuple[bytes, bytes]], name: str) -> str:
    prefix = name.encode() + b"="
    for key, value in headers:
        if key == b"cookie":
            for part in value.split(b";"):
                part = part.strip()
                if part.startswith(prefix):
                    return part[len(prefix) :].decode("latin-1")
    return ""


def _needs_csrf(scope: Scope) -> bool:
    """A change through the API (the sign-out form checks its own field; the routes a device
    authenticates itself are not changes by the session)."""
    path = str(scope["path"])
    return scope["method"] not in SAFE_METHODS and path.startswith("/api/") and path not in SELF_AUTHENTICATED


class PrincipalEdge:
    """Resolves the principal of every HTTP request before the app sees it."""

    def __init__(self, app: ASGIApp, runtime: Runtime, client_of: Any) -> None:
        self.app = app
        self.runtime = runtime
        self.client_of = client_of  # (scope) -> the client's IP

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        if WEBHOOK_PATH.fullmatch(str(scope["path"])):  # a provider's webhook: Basic credentials there are the hook's
            scope.setdefault("state", {})["principal"] = None
            await self.app(scope, receive, send)
            return
        authorization = next((v for k, v in headers if k == b"authorization"), b"").decode("latin-1")[:8192]
        session = _cookie(headers, SESSION_COOKIE)[:1024]
        principal: Principal | None = None
        if authorization or session:
            try:
                principal = await asyncio.to_thread(
                    resolve, self.runtime, authorization, session, self.client_of(scope)
                )
                if principal is not None and principal.via == "session" and _needs_csrf(scope):
                    given = next((v for k, v in headers if k == b"x-csrf-token"), b"").decode("latin-1")
                    if not csrf_ok(self.runtime.keyring, session, given):
                        raise Forbidden("a signed-in browser's change needs the session's X-CSRF-Token header")
            except MailbeaconError as exc:
                await send_problem(send, exc)
                return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)
