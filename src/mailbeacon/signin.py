"""Signing in with an address and a password: SMTP AUTH and HTTP Basic share this.

Throttled per address and per client (see throttle.py): a refused attempt costs no scrypt. An
unknown address costs the same work as a wrong password. After a successful sign-in, a hash
made with an older, lower cost is replaced by one at the current cost, and the success is
remembered for a few minutes (`passwords.RecentSignIns`: no scrypt for the same password again).
Runs in a worker thread.
"""

from __future__ import annotations

import logging

from .addresses import try_normalise
from .errors import AuthError, NotFound, StoreUnavailable, Throttled
from .model import User
from .passwords import check_password, dummy_hash, hash_password, needs_rehash
from .runtime import Runtime
from .throttle import throttled_message

log = logging.getLogger("mailbeacon.signin")


def sign_in(runtime: Runtime, login: str, password: str, client: str, *, surface: str) -> User:
    """The user, or `AuthError` (wrong address or password) or `Throttled` (wait first).

    Each failure is logged at INFO as `<surface> sign-in failed: <why>`, naming the user by id
    (never the address tried or the password)."""
    throttle = runtime.sign_ins
    normalised = try_normalise(login)
    address = normalised or login.strip().lower()[:320]
    wait = throttle.wait(address, client)
    if wait:
        log.info("%s sign-in refused: too many failed sign-ins for that login or from %s", surface, client or "?")
        raise Throttled(throttled_message(wait), wait)
    user: User | None
    try:
        user = runtime.store.user(normalised) if normalised else None
    except NotFound:
        user = None
    if user is None:
        check_password(password, dummy_hash())  # the same work either way
        throttle.failed(address, client)
        why = "no user with that login" if normalised else "the login is not an email address"
        log.info("%s sign-in failed: %s", surface, why)
        raise AuthError("wrong email or password")
    recent = runtime.recent_sign_ins
    now = runtime.clock().timestamp()
    if recent.check(user.password_hash, password, now):
        throttle.succeeded(address)
        return user
    if not check_password(password, user.password_hash):
        throttle.failed(address, client)
        log.info("%s sign-in failed: wrong password for user %s", surface, user.id)
        raise AuthError("wrong email or password")
    throttle.succeeded(address)
    stored = user.password_hash
    if needs_rehash(stored):
        try:
            stored = hash_password(password)
            runtime.store.update_user(user.id, password_hash=stored)
        except StoreUnavailable:
            stored = user.password_hash
            log.warning("could not upgrade the password hash of user %s (database unavailable)", user.id)
    recent.add(stored, password, now)
    return user
