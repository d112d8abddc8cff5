"""Who is calling the API: an API token (`Authorization: Bearer mbt_...`) or a user's password
(HTTP Basic, for scripts and the first pairing)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging

from starlette.requests import Request

from ..errors import AuthError, NotFound
from ..model import User
from ..passwords import check_password
from ..runtime import Runtime

log = logging.getLogger("mailbeacon.web")
CHALLENGE = 'Bearer realm="mailbeacon", Basic realm="mailbeacon"'


def _basic(runtime: Runtime, value: str) -> User:
    try:
        email, _, password = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise AuthError("malformed Basic credentials") from None
    try:
        user = runtime.store.user(email.strip().lower())
    except NotFound:
        user = None
    if user is None or not check_password(password, user.password_hash):
        log.info("API sign-in failed: %s", f"wrong password for user {user.id}" if user else "no user with that login")
        raise AuthError("wrong email or password")
    return user


def _bearer(runtime: Runtime, token: str) -> User:
    user = runtime.store.user_for_api_token(token.strip(), runtime.clock())
    if user is None:
        log.info("API sign-in failed: unknown API token")
        raise AuthError("unknown API token (create one with `mailbeacon token add EMAIL`)")
    return user


async def authenticate(request: Request, runtime: Runtime) -> User:
    """The calling user, or `AuthError` (answered 401)."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value:
        return await asyncio.to_thread(_bearer, runtime, value)
    if scheme.lower() == "basic" and value:
        return await asyncio.to_thread(_basic, runtime, value)
    raise AuthError("authentication required: send an API token as `Authorization: Bearer <token>`")
