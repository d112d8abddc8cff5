"""The checks behind the principal (principal.py resolves it at the edge): an API token
(`Authorization: Bearer mbt_...`) or a user's password (HTTP Basic, for scripts and the first
pairing, and the dashboard's sign-in form; throttled, see signin.py)."""

from __future__ import annotations

import base64
import binascii
import logging

from starlette.requests import Request

from ..errors import AuthError
from ..model import User
from ..runtime import Runtime
from ..signin import sign_in
from .problems import CHALLENGE
from .tracking import ClientAddress

__all__ = ["CHALLENGE", "authenticate"]

log = logging.getLogger("mailbeacon.web")
MAX_CREDENTIALS = 4096


def _basic(runtime: Runtime, value: str, client: str) -> User:
    try:
        if len(value) > MAX_CREDENTIALS:
            raise ValueError("too long")
        email, sep, password = base64.b64decode(value.encode("ascii"), validate=True).decode().partition(":")
    except (binascii.Error, ValueError):  # UnicodeError is a ValueError
        raise AuthError("malformed Basic credentials (base64 of UTF-8 'email:password')") from None
    if not sep:
        raise AuthError("malformed Basic credentials (base64 of UTF-8 'email:password')")
    return sign_in(runtime, email, password, client, surface="API")


def _bearer(runtime: Runtime, token: str) -> User:
    user = runtime.store.user_for_api_token(token.strip(), runtime.clock())
    if user is None:
        log.info("API sign-in failed: unknown API token")
        raise AuthError("unknown API token (create one with `mailbeacon token add EMAIL`)")
    return user


def client_of(request: Request) -> str:
    """The client's IP: the socket peer, or X-Forwarded-For from a trusted proxy."""
    resolver: ClientAddress | None = getattr(request.app.state, "client_address", None)
    peer = request.client.host if request.client else ""
    if resolver is None:
        return peer
    return resolver.resolve(peer, request.headers.get("x-forwarded-for"))


def password_user(runtime: Runtime, email: str, password: str, client: str, surface: str = "API") -> User:
    """The user whose address and password these are (HTTP Basic, the sign-in form), or `AuthError`
    (`Throttled` after too many failures for the address or from the client)."""
    return sign_in(runtime, email, password, client, surface=surface)


async def authenticate(request: Request, runtime: Runtime) -> User:
    """The calling user (resolved at the edge, see principal.py), or `AuthError` (answered 401)."""
    principal = request.scope.get("state", {}).get("principal")
    if principal is None:
        raise AuthError("authentication required: send an API token as `Authorization: Bearer <token>`")
    user: User = principal.user
    return user
