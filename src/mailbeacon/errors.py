"""Typed errors. Each message says what went wrong and what to do about it.

    MailbeaconError
    ├── ConfigError            a setting is missing or malformed
    ├── NotFound               a workspace, user, message ... does not exist
    ├── Conflict               it exists already
    ├── InvalidInput           user-supplied data is malformed (addresses, JSON, mail)
    │   └── TooLarge           ... or larger than its limit
    ├── AuthError              credentials or signatures do not check out
    │   └── Throttled          too many failed sign-ins: wait before trying again
    ├── Forbidden              the caller is known but their role does not allow this
    ├── StoreUnavailable       the database cannot be reached (retry later)
    └── UpstreamError          the upstream SMTP or IMAP server failed
        ├── UpstreamTemporary  4xx / unreachable: try again later
        └── UpstreamPermanent  5xx: the server refused for good

Foreign exceptions are translated once, at the boundary module that imports their library.
The CLI prints the message of any `MailbeaconError` as one sentence and exits non-zero.
"""

from __future__ import annotations


class MailbeaconError(Exception):
    """Base of every error mailbeacon raises on purpose."""

    exit_code = 1


class ConfigError(MailbeaconError):
    """A setting is missing or malformed."""

    exit_code = 2


class NotFound(MailbeaconError):
    """The thing asked for does not exist."""


class Conflict(MailbeaconError):
    """The thing to create exists already."""


class InvalidInput(MailbeaconError):
    """User-supplied data is malformed."""


class TooLarge(InvalidInput):
    """User-supplied data is larger than its limit (HTTP 413)."""


class AuthError(MailbeaconError):
    """Credentials, a token or a signature did not check out."""


class Throttled(AuthError):
    """Too many failed sign-ins from this client or for this address: try again later."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Forbidden(MailbeaconError):
    """The caller is authenticated, but their role does not allow this (a member, not an admin)."""


class StoreUnavailable(MailbeaconError):
    """The database cannot be reached right now."""


class UpstreamError(MailbeaconError):
    """The upstream mail server failed."""

    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.code = code


class UpstreamTemporary(UpstreamError):
    """The upstream answered 4xx or could not be reached: the client should retry."""


class UpstreamPermanent(UpstreamError):
    """The upstream answered 5xx: the message was refused for good."""
