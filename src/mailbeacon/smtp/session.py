"""One client session of the proxy: aiosmtpd hooks for login, sender checks, mirroring each
transaction upstream, instrumenting at the end of DATA and relaying one copy per recipient."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import logging
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

from .. import rewrite
from ..addresses import try_normalise
from ..errors import AuthError, ConfigError, InvalidInput, MailbeaconError, NotFound, StoreUnavailable, Throttled
from ..from_field import single_from_address
from ..instrumentation import Instrumented, instrument, new_message_id
from ..model import User
from ..runtime import Runtime
from ..signin import sign_in
from .upstream import UpstreamSession, reply_line, upstream_for

log = logging.getLogger("mailbeacon.smtp")

MAX_RECIPIENTS = 1000
RETRY_MEMORY = timedelta(hours=6)


@dataclass(slots=True)
class _Pending:
    """A message whose relay did not fully succeed: what was delivered, to resume on retry."""

    result: Instrumented
    delivered: set[str]
    expires: datetime


class _RetryMemory:
    """Messages the client will send again after a 4xx; bounded in count, bytes and time.

    When a message is forgotten early, a retry instruments it anew: copies already delivered
    are then sent once more - never lost, at worst twice.
    """

    def __init__(self, size: int = 500, max_bytes: int = 256 * 1024 * 1024) -> None:
        self.size = size
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[int, str], _Pending] = OrderedDict()

    def get(self, key: tuple[int, str], now: datetime) -> _Pending | None:
        item = self._items.get(key)
        if item is not None and item.expires < now:
            del self._items[key]
            return None
        return item

    def put(self, key: tuple[int, str], item: _Pending) -> None:
        self._items[key] = item
        self._items.move_to_end(key)
        while len(self._items) > self.size or (len(self._items) > 1 and self._bytes() > self.max_bytes):
            self._items.popitem(last=False)

    def _bytes(self) -> int:
        return sum(len(c.data) for item in self._items.values() for c in item.result.copies)

    def drop(self, key: tuple[int, str]) -> None:
        self._items.pop(key, None)


class Server(SMTP):
    """aiosmtpd's protocol with long lines allowed and one upstream relay per client session."""

    def __init__(self, handler: Handler, *, line_limit: int, **kwargs: Any) -> None:
        # lines up to the message size limit: real mail has lines longer than RFC 5322's 998
        self.line_length_limit = line_limit
        self.relay: UpstreamSession | None = None
        super().__init__(handler, **kwargs)
        handler.sessions.add(self)

    def connection_lost(self, error: Exception | None) -> None:
        super().connection_lost(error)
        handler: Handler = self.event_handler
        handler.sessions.discard(self)
        relay, self.relay = self.relay, None
        if relay is not None:
            handler.background(relay.close())


class Handler:
    """aiosmtpd hooks: authentication, sender checks, upstream mirroring, instrumentation, relay."""

    def __init__(self, runtime: Runtime, hostname: str) -> None:
        self.runtime = runtime
        self.hostname = hostname
        self.sessions: set[Server] = set()
        self.memory = _RetryMemory()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.busy = 0  # sessions between the end of DATA and their answer
        self.idle = asyncio.Event()
        self.idle.set()

    def background(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- authentication (replaces aiosmtpd's built-ins so the password check runs off the loop) --

    async def auth_PLAIN(self, server: Server, args: list[str]) -> AuthResult:
        if len(args) == 1:
            blob = await server.challenge_auth("")
            if not isinstance(blob, bytes):
                return AuthResult(success=False, handled=True)
        else:
            try:
                blob = base64.b64decode(args[1].encode(), validate=True)
            except (binascii.Error, ValueError):
                await server.push("501 5.5.2 Cannot decode the base64 credentials")
                return AuthResult(success=False, handled=True)
        parts = blob.split(b"\x00")
        if len(parts) != 3:
            await server.push("501 5.5.2 PLAIN credentials must be authzid NUL login NUL password")
            return AuthResult(success=False, handled=True)
        return await self._login(server, parts[1], parts[2])

    async def auth_LOGIN(self, server: Server, args: list[str]) -> AuthResult:
        if len(args) == 1:
            login = await server.challenge_auth(SMTP.AuthLoginUsernameChallenge)
        else:
            try:
                login = base64.b64decode(args[1].encode(), validate=True)
            except (binascii.Error, ValueError):
                await server.push("501 5.5.2 Cannot decode the base64 user name")
                return AuthResult(success=False, handled=True)
        if not isinstance(login, bytes):
            return AuthResult(success=False, handled=True)
        password = await server.challenge_auth(SMTP.AuthLoginPasswordChallenge)
        if not isinstance(password, bytes):
            return AuthResult(success=False, handled=True)
        return await self._login(server, login, password)

    async def _login(self, server: Server, login: bytes, password: bytes) -> AuthResult:
        peer: object = server.session.peer if server.session is not None else None
        client = str(peer[0]) if isinstance(peer, tuple) and peer else ""
        try:
            user = await asyncio.to_thread(
                sign_in,
                self.runtime,
                login.decode("utf-8", "replace"),
                password.decode("utf-8", "replace"),
                client,
                surface="SMTP",
            )
        except Throttled as exc:
            return AuthResult(success=False, handled=False, message=reply_line(454, f"4.7.0 Not now: {exc}"))
        except StoreUnavailable:  # a temporary failure (RFC 4954): the client keeps the message and retries
            return AuthResult(
                success=False,
                handled=False,
                message="454 4.7.0 Temporary authentication failure: mailbeacon cannot reach its database",
            )
        except AuthError:
            return AuthResult(
                success=False,
                handled=False,
                message="535 5.7.8 Authentication failed: use your mailbeacon address and password",
            )
        return AuthResult(success=True, auth_data=user)

    # -- the transaction ----------------------------------------------------------------------

    async def handle_MAIL(
        self, server: Server, session: Session, envelope: Envelope, address: str, mail_options: list[str]
    ) -> str:
        known = _user_of(session)
        if not session.authenticated or known is None:
            return "530 5.7.0 Authentication required: log in with your mailbeacon address and password"
        try:
            user = await asyncio.to_thread(self.runtime.store.user, known.id)
        except StoreUnavailable:
            return "451 4.3.0 mailbeacon cannot reach its database right now; try again later"
        except NotFound:
            return "530 5.7.0 Your mailbeacon account no longer exists"
        setattr(session, "auth_data", user)  # noqa: B010 - aiosmtpd types it as None
        sender = try_normalise(address)
        if sender is None or sender not in {a.lower() for a in user.addresses}:
            return reply_line(553, f"5.7.1 The sender {address} is not one of your mailbeacon addresses")
        relay = await self._relay(server, user)
        if isinstance(relay, str):
            return relay
        refused = await relay.begin(address, mail_options)
        if refused is not None:
            return refused
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 Sender OK"

    async def handle_RCPT(
        self, server: Server, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if try_normalise(address) is None:
            return reply_line(553, f"5.1.3 {address} is not an email address (expected name@domain)")
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return f"452 4.5.3 Too many recipients (at most {MAX_RECIPIENTS} per message)"
        if server.relay is None:
            return "503 5.5.1 MAIL first"
        refused = await server.relay.add(address)
        if refused is not None:
            return refused
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 Recipient OK"

    async def handle_RSET(self, server: Server, session: Session, envelope: Envelope) -> str:
        if server.relay is not None:
            await server.relay.reset()
        return "250 2.0.0 OK"

    async def handle_DATA(self, server: Server, session: Session, envelope: Envelope) -> str:
        self.busy += 1
        self.idle.clear()
        try:
            return await self._data(server, session, envelope)
        finally:
            self.busy -= 1
            if not self.busy:
                self.idle.set()

    async def _data(self, server: Server, session: Session, envelope: Envelope) -> str:
        user = _user_of(session)
        relay = server.relay
        sender = envelope.mail_from
        if user is None or relay is None or not sender:
            return "503 5.5.1 MAIL and RCPT first"
        content = envelope.original_content or b""
        refused, digest = await asyncio.to_thread(self._inspect, content, user)
        if refused is not None:
            await relay.reset()
            return refused
        targets: dict[str, str] = {}  # envelope address as given -> normalised (one each)
        for a in envelope.rcpt_tos:
            n = try_normalise(a) or a
            if n not in targets.values():
                targets[a] = n
        key = (user.id, digest)
        now = self.runtime.clock()
        pending = self.memory.get(key, now)
        if pending is not None and set(targets.values()) <= {c.address for c in pending.result.copies}:
            made: Instrumented | bytes | str = pending.result  # a retry: the same copies, the same tokens
        else:
            peer = str(session.peer[0]) if session.peer else None  # the submitting client's address
            made = await self._instrument(content, sender, envelope.rcpt_tos, peer)
        if isinstance(made, str):
            await relay.reset()
            return made
        delivered = set(pending.delivered) if pending is not None else set()
        copies = [
            (original, made if isinstance(made, bytes) else made.copy_for(address).data)
            for original, address in targets.items()
            if address not in delivered
        ]
        results = await relay.deliver(sender, copies, envelope.mail_options)
        failed: dict[str, tuple[int, str]] = {}
        for original, (code, text) in results.items():
            if 200 <= code < 300:
                delivered.add(targets[original])
            else:
                failed[targets[original]] = (code, text)
        log.info(
            "relayed %s of user %s: %d delivered, %d not delivered",
            "an uninstrumented message" if isinstance(made, bytes) else f"message {made.message_id}",
            user.id,
            len([a for a in targets.values() if a in delivered]),
            len(failed),
        )
        if isinstance(made, bytes):
            return _answer(targets, delivered, failed, "")
        if failed:
            self.memory.put(key, _Pending(made, delivered, now + RETRY_MEMORY))
        else:
            self.memory.drop(key)
        self.background(self._record(made, delivered, failed))
        return _answer(targets, delivered, failed, made.rfc_message_id)

    def _inspect(self, content: bytes, user: User) -> tuple[str | None, str]:
        """(the refusal when a From address is not the user's, the message digest); in a thread."""
        return self._check_from(content, user), hashlib.sha256(content).hexdigest()

    def _check_from(self, content: bytes, user: User) -> str | None:
        """Fail closed: exactly one readable From: address, and one of the user's (see from_field.py)."""
        try:
            address = single_from_address(content)
        except InvalidInput as exc:
            return reply_line(
                550,
                f"5.7.1 Not relayed: {exc} (a message needs exactly one From: address, one of your mailbeacon addresses)",
            )
        if address not in {a.lower() for a in user.addresses}:
            return reply_line(550, f"5.7.1 The From: address {address} is not one of your mailbeacon addresses")
        return None

    async def _instrument(
        self, content: bytes, sender: str, recipients: list[str], peer: str | None
    ) -> Instrumented | bytes | str:
        """The instrumented copies; or the untouched message (bytes) when instrumenting itself broke;
        or the SMTP reply (str) when the message must not be relayed now."""
        try:
            return await asyncio.to_thread(
                instrument,
                self.runtime,
                content,
                sender=sender,
                recipients=recipients,
                source="smtp",
                submitted_from=peer,
            )
        except StoreUnavailable:
            return "451 4.3.0 mailbeacon cannot record the message right now (database unavailable); try again later"
        except (InvalidInput, AuthError) as exc:
            return reply_line(554, f"5.6.0 {exc}")
        except MailbeaconError as exc:
            return reply_line(451, f"4.3.0 {exc}")
        except Exception:
            log.exception("instrumenting a message from %s failed; relaying it untouched", sender)
            return rewrite.untouched(content, new_message_id(sender))

    async def _record(self, result: Instrumented, delivered: set[str], failed: dict[str, tuple[int, str]]) -> None:
        if not result.message_id:
            return

        def write() -> None:
            store = self.runtime.store
            outcome = dict(store.message(result.message_id).outcome)
            outcome["relay"] = {
                "delivered": sorted(delivered),
                "failed": {a: f"{code} {text}"[:300] for a, (code, text) in failed.items()},
            }
            store.update_message_outcome(result.message_id, outcome)

        try:
            await asyncio.to_thread(write)
        except Exception:
            log.warning("could not record the relay result of message %s", result.message_id, exc_info=True)

    async def _relay(self, server: Server, user: User) -> UpstreamSession | str:
        try:
            upstream = await asyncio.to_thread(upstream_for, self.runtime, user)  # may read the key file
        except ConfigError as exc:
            return reply_line(451, f"4.3.5 {exc}")
        if server.relay is not None and server.relay.upstream != upstream:
            self.background(server.relay.close())
            server.relay = None
        if server.relay is None:
            server.relay = UpstreamSession(upstream, self.runtime.settings.smtp_timeout, self.hostname)
        return server.relay


def _user_of(session: Session) -> User | None:
    data: object = getattr(session, "auth_data", None)
    return data if isinstance(data, User) else None


def _answer(targets: dict[str, str], delivered: set[str], failed: dict[str, tuple[int, str]], message_id: str) -> str:
    """The reply to DATA: one answer for all recipients, saying what happened to each kind."""
    if not failed:
        return reply_line(250, f"2.0.0 Delivered to {len(targets)} recipient(s) as {message_id or 'sent'}")
    temporary = {a: ct for a, ct in failed.items() if ct[0] < 500}
    sample_addr, (code, text) = next(iter((temporary or failed).items()))
    if temporary:
        done = f"; already delivered to {len(delivered)}, who will not get it twice when you retry" if delivered else ""
        reply_code = code if 400 <= code < 500 else 451
        return reply_line(reply_code, f"Not delivered to {sample_addr}: {code} {text}{done}")
    if delivered:
        return reply_line(
            code, f"Refused for {', '.join(sorted(failed))}: {code} {text}; delivered to {len(delivered)} other(s)"
        )
    return reply_line(code, text)
