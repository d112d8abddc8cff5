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
was revoked, or the session expired: `session_idle`, `session_lifetime`) is ignored like no
cookie, and `scope["state"]["session_expired"]` says which. A session in use gets a freshly
stamped cookie at most every few minutes (devices.py), on the answer. Routes ask for the
principal; without one they answer 401. The principal's store view (`view`) is bound to its workspace and, for a member, to
their own mail.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from starlette.responses import Response

from ..devices import SESSION_RESTAMP, device_secret, parse_session_value, session_expired, session_value
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
EXPIRED: Literal["expired"] = "expired"
#: routes a device authenticates itself (signature, cookie or pairing code), never by a session
SELF_AUTHENTICATED = frozenset(
    ("/api/v1/self-view", "/api/v1/self-view/check", "/api/v1/devices/pair", "/api/v1/devices/heartbeat")
)


@dataclass(frozen=True, slots=True)
class Principal:
    user: User
    via: str  # api_key | device | basic | session
    device_id: str | None = None
    session_stamped_at: datetime | None = None  # a session: when its cookie was stamped

    @property
    def workspace_id(self) -> int:
        return self.user.workspace_id

    @property
    def role(self) -> str:
        return self.user.role

    @property
    def is_admin(self) -> bool:
        return self.user.role == ROLE_ADMIN


def _session_device(keyring: Keyring, session: str) -> str:
    """The device a session cookie names ('' when it does not verify)."""
    value = keyring.verify_value(SESSION_PURPOSE, session)
    parsed = parse_session_value(value) if value is not None else None
    return parsed[0] if parsed is not None else ""


def csrf_token(keyring: Keyring, session: str) -> str:
    """The CSRF token of a session: derived from the device its cookie names, so nothing is stored
    and it stays the same when the cookie is stamped again."""
    device = _session_device(keyring, session) or session
    return b64encode(hmac.digest(keyring.purpose_key("csrf"), device.encode(), hashlib.sha256))


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


def session_cookie(keyring: Keyring, public_id: str, now: datetime) -> str:
    """The value of the `mb_session` cookie of device `public_id`, stamped `now`."""
    return keyring.sign_value(SESSION_PURPOSE, session_value(public_id, now))


def set_session_cookie(response: Any, runtime: Runtime, public_id: str, signed_in_at: datetime) -> None:
    """Stamp the session of device `public_id` now and set its cookie on a Starlette `response`:
    HttpOnly, SameSite=Lax, Secure over https, kept no longer than the session can live."""
    now = runtime.clock()
    left = runtime.settings.session_lifetime - (now - signed_in_at).total_seconds()
    response.set_cookie(
        SESSION_COOKIE,
        session_cookie(runtime.keyring, public_id, now),
        max_age=max(0, int(left)),
        httponly=True,
        secure=runtime.public_url.startswith("https://"),
        samesite="lax",
    )


def _session(runtime: Runtime, cookie: str) -> Principal | Literal["expired"] | None:
    value = runtime.keyring.verify_value(SESSION_PURPOSE, cookie)
    if value is None:
        return None
    parsed = parse_session_value(value)
    if parsed is None:  # a cookie from before sessions expired
        return EXPIRED
    public_id, stamped_at = parsed
    try:
        dev = runtime.store.device(public_id)
    except NotFound:
        return None
    if dev.revoked_at is not None:
        return None
    s = runtime.settings
    if session_expired(dev.created_at, stamped_at, runtime.clock(), idle=s.session_idle, lifetime=s.session_lifetime):
        return EXPIRED
    return Principal(runtime.store.user(dev.user_id), "session", dev.public_id, stamped_at)


def resolve(
    runtime: Runtime, authorization: str, session_cookie: str, client: str
) -> Principal | Literal["expired"] | None:
    """The caller's principal; None without credentials (`EXPIRED`: only an expired session);
    `AuthError` for credentials that fail."""
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
        state = scope.setdefault("state", {})
        if authorization or session:
            try:
                found = await asyncio.to_thread(resolve, self.runtime, authorization, session, self.client_of(scope))
                principal = found if isinstance(found, Principal) else None
                state["session_expired"] = found == EXPIRED
                if principal is not None and principal.via == "session" and _needs_csrf(scope):
                    given = next((v for k, v in headers if k == b"x-csrf-token"), b"").decode("latin-1")
                    if not csrf_ok(self.runtime.keyring, session, given):
                        raise Forbidden("a signed-in browser's change needs the session's X-CSRF-Token header")
            except MailbeaconError as exc:
                await send_problem(send, exc)
                return
        state["principal"] = principal
        if principal is not None and principal.session_stamped_at is not None:
            send = await self._restamping(principal, principal.session_stamped_at, send)
        await self.app(scope, receive, send)

    async def _restamping(self, principal: Principal, stamped_at: datetime, send: Send) -> Send:
        """`send`, with a freshly stamped session cookie on the answer when the cookie is a few
        minutes old (unless the answer sets the session cookie itself: signing in or out)."""
        if self.runtime.clock() - stamped_at < SESSION_RESTAMP or principal.device_id is None:
            return send
        dev = await asyncio.to_thread(self.runtime.store.device, principal.device_id)
        fresh = Response()
        set_session_cookie(fresh, self.runtime, dev.public_id, dev.created_at)
        cookie = next(v for k, v in fresh.raw_headers if k == b"set-cookie")
        prefix = SESSION_COOKIE.encode() + b"="

        async def restamped(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(k.lower() == b"set-cookie" and v.startswith(prefix) for k, v in headers):
                    message = {**message, "headers": [*headers, (b"set-cookie", cookie)]}
            await send(message)

        return restamped
