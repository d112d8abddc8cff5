"""Dashboard sign-in: a password form that pairs the browser as a `dashboard` device (R2).

- `GET /signin` shows the form; it sets the `mb_csrf` cookie and puts the same value in the form
  (double submit: another site can make a browser post, not read the cookie).
- `POST /signin` checks the CSRF value, then the address and password (the same check and the
  same throttle as HTTP Basic, see auth.py). On success the browser becomes a paired device of
  kind `dashboard`: its pixel loads are the sender's own (the `mb_device` cookie), and its
  session (`mb_session`, signed, naming the device) authenticates it. Both cookies are HttpOnly,
  SameSite=Lax, and Secure when the public URL is https. The session expires when unused for
  `session_idle` or `session_lifetime` after signing in (principal.py); the form then says so.
- `POST /signout` (with the session's CSRF token) unpairs the device: the session ends there.

An API request authenticated by the session cookie that changes something must carry the
session's CSRF token in `X-CSRF-Token` (`GET /api/v1/me` gives it); the sign-out form carries it
as a field. See principal.py.
"""

from __future__ import annotations

import asyncio
import hmac
import html
import secrets

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ..errors import AuthError, MailbeaconError
from ..runtime import Runtime
from .auth import client_of, password_user
from .principal import SESSION_COOKIE, Principal, csrf_ok, csrf_token, set_device_cookie, set_session_cookie
from .problems import status_of
from .rest.docs import SECURITY_HEADERS

FORM_CSRF_COOKIE = "mb_csrf"
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in · mailbeacon</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/app/static/app.css"></head>
<body><header class="top"><a class="brand" href="/app">mailbeacon</a></header>
<main id="main" class="signin">
<h1>Sign in</h1>
{body}
</main></body></html>
"""


def _rt(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def _secure(rt: Runtime) -> bool:
    return rt.public_url.startswith("https://")


def _page(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(PAGE.format(body=body), status_code=status, headers=SECURITY_HEADERS)


def safe_next(target: str) -> str:
    """Where to go after signing in: a path on this server (never another site), else the dashboard."""
    if target.startswith("/") and not target.startswith(("//", "/\\")) and len(target) < 2000:
        return target if all(32 < ord(ch) < 127 for ch in target) else "/app"
    return "/app"


def _form(token: str, message: str = "", next_path: str = "/app") -> str:
    note = f'<p class="alert" role="alert">{html.escape(message)}</p>' if message else ""
    return (
        f"{note}<form class=card method=post action=/signin>"
        f'<input type=hidden name=csrf value="{html.escape(token)}">'
        f'<input type=hidden name=next value="{html.escape(next_path)}">'
        "<p><label for=email>Email</label><input id=email name=email type=email autocomplete=username required></p>"
        "<p><label for=password>Password</label>"
        "<input id=password name=password type=password autocomplete=current-password required></p>"
        "<p><button>Sign in</button></p></form>"
    )


def _with_form_cookie(rt: Runtime, message: str = "", status: int = 200, next_path: str = "/app") -> Response:
    token = secrets.token_urlsafe(24)
    resp = _page(_form(token, message, next_path), status)
    resp.set_cookie(FORM_CSRF_COOKIE, token, max_age=3600, httponly=True, secure=_secure(rt), samesite="lax")
    return resp


async def signin_form(request: Request) -> Response:
    rt = _rt(request)
    principal: Principal | None = request.scope.get("state", {}).get("principal")
    if principal is not None and principal.via == "session":
        session = request.cookies.get(SESSION_COOKIE, "")
        token = html.escape(csrf_token(rt.keyring, session))
        return _page(
            f"<p>Signed in as {html.escape(principal.user.email)}. <a href=/app>Open the dashboard</a></p>"
            f'<form method=post action=/signout><input type=hidden name=csrf value="{token}">'
            "<button>Sign out</button></form>"
        )
    next_path = safe_next(request.query_params.get("next", "/app"))
    if request.scope.get("state", {}).get("session_expired"):
        resp = _with_form_cookie(rt, "Your session expired: sign in again.", next_path=next_path)
        resp.delete_cookie(SESSION_COOKIE)
        return resp
    return _with_form_cookie(rt, next_path=next_path)


async def signin(request: Request) -> Response:
    rt = _rt(request)
    form = await request.form()
    given = str(form.get("csrf", ""))
    expected = request.cookies.get(FORM_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, given):
        return _with_form_cookie(rt, "The form expired or came from another site: sign in again.", 403)
    email, password = str(form.get("email", ""))[:320], str(form.get("password", ""))[:1024]
    client = client_of(request)
    now = rt.clock()
    agent = request.headers.get("user-agent", "")[:120] or "browser"
    try:
        user = await asyncio.to_thread(password_user, rt, email, password, client, "dashboard")
    except MailbeaconError as exc:
        status = status_of(exc)[0]
        if not isinstance(exc, AuthError) and status != 429:
            raise
        resp = _with_form_cookie(rt, str(exc).capitalize() + ".", status, safe_next(str(form.get("next", "/app"))))
        retry = getattr(exc, "retry_after", None)
        if isinstance(retry, int):
            resp.headers["retry-after"] = str(retry)
        return resp
    dev = await asyncio.to_thread(rt.store.add_device, user.id, "dashboard", agent, now)
    resp = RedirectResponse(safe_next(str(form.get("next", "/app"))), status_code=303)
    set_session_cookie(resp, rt, dev.public_id, dev.created_at)
    set_device_cookie(resp, rt.keyring, rt.public_url, dev.public_id)
    resp.delete_cookie(FORM_CSRF_COOKIE)
    return resp


async def signout(request: Request) -> Response:
    rt = _rt(request)
    principal: Principal | None = request.scope.get("state", {}).get("principal")
    if principal is not None and principal.via == "session" and principal.device_id:
        form = await request.form()
        if not csrf_ok(rt.keyring, request.cookies.get(SESSION_COOKIE, ""), str(form.get("csrf", ""))):
            return _page("<p>The form expired or came from another site: reload and sign out again.</p>", 403)
        await asyncio.to_thread(rt.store.revoke_device, principal.device_id, rt.clock())
    resp = RedirectResponse("/signin", status_code=303)
    resp.delete_cookie(SESSION_COOKIE)
    return resp
