"""The SMTP submission proxy: any mail client in, one tracked copy per recipient out.

The only module that imports aiosmtpd (server side) and aiosmtplib (client side).

A client logs in with its mailbeacon address and password (AUTH PLAIN/LOGIN; over STARTTLS
unless the proxy listens on loopback). Each transaction is mirrored on the upstream server as it
happens - MAIL FROM and every RCPT TO are asked upstream first, so a refused recipient is refused
to the client with the upstream's own answer. At the end of DATA the message is instrumented
(`instrument()`, in a worker thread) and each recipient's copy is relayed in its own upstream
transaction. The promise: never lose mail. Upstream unreachable or answering 4xx: the client gets
a 4xx and retries; copies already delivered are remembered (by message digest) so a retry does
not send them twice. A 5xx is passed through with its text.

    proxy = await start_smtp_proxy(runtime)   # host:port from the `smtp` setting
    ...
    await proxy.stop()
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import ipaddress
import logging
import ssl
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

import aiosmtplib
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

from . import rewrite
from .addresses import header_addresses, try_normalise
from .config import split_hostport
from .errors import AuthError, ConfigError, InvalidInput, MailbeaconError, NotFound, StoreUnavailable
from .instrument import Instrumented, header_text, instrument, new_message_id
from .model import User
from .passwords import check_password
from .runtime import Runtime

log = logging.getLogger("mailbeacon.smtp")
# aiosmtpd itself sets a deprecated attribute on every login and then warns about it
logging.getLogger("mail.log").addFilter(lambda record: "login_data is deprecated" not in record.getMessage())

MAX_RECIPIENTS = 1000
RETRY_MEMORY = timedelta(hours=6)
_IDENT = "mailbeacon"


@dataclass(frozen=True, slots=True)
class Upstream:
    """Where copies are relayed: parsed from `smtp://`, `smtps://` or `smtp+starttls://` URLs."""

    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    starttls: bool = False

    @classmethod
    def parse(cls, url: str) -> Upstream:
        u = urlsplit(url.strip())
        schemes = {"smtp": (False, False, 25), "smtps": (True, False, 465), "smtp+starttls": (False, True, 587)}
        if u.scheme not in schemes or not u.hostname:
            raise ConfigError(
                "upstream_smtp must look like smtp://[user:pass@]host:port, smtps://... or smtp+starttls://..."
            )
        tls, starttls, default_port = schemes[u.scheme]
        try:
            port = u.port or default_port
        except ValueError:
            raise ConfigError(f"the port in the upstream SMTP URL {u.hostname} is not a number") from None
        return cls(
            host=u.hostname,
            port=port,
            username=unquote(u.username) if u.username else None,
            password=unquote(u.password) if u.password else None,
            tls=tls,
            starttls=starttls,
        )

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


def _line(code: int, text: str) -> str:
    """One SMTP reply line: the code and a single line of text."""
    text = " ".join(str(text).split())[:400]
    return f"{code} {text}"


def _refusal(exc: BaseException, upstream: Upstream) -> str:
    """The reply for a failed upstream step: its own code and text, or 451 when it could not answer."""
    return _line(*_code_text(exc, upstream))


class _Relay:
    """One client session's connection to the upstream server."""

    def __init__(self, upstream: Upstream, timeout: float, hostname: str) -> None:
        self.upstream = upstream
        self.timeout = timeout
        self.hostname = hostname
        self.client: aiosmtplib.SMTP | None = None
        self.in_transaction = False
        self.recipients: list[str] = []

    async def _ensure(self) -> aiosmtplib.SMTP:
        if self.client is not None and self.client.is_connected:
            return self.client
        up = self.upstream
        client = aiosmtplib.SMTP(
            hostname=up.host,
            port=up.port,
            username=up.username,
            password=up.password,
            use_tls=up.tls,
            start_tls=up.starttls if not up.tls else False,
            timeout=self.timeout,
            local_hostname=self.hostname,
        )
        await client.connect()
        self.client = client
        self.in_transaction = False
        return client

    def _options(self, client: aiosmtplib.SMTP, mail_options: list[str]) -> list[str]:
        out = []
        for opt in mail_options:
            key = opt.split("=", 1)[0].upper()
            if (key == "BODY" and client.supports_extension("8bitmime")) or (
                key == "SMTPUTF8" and client.supports_extension("smtputf8")
            ):
                out.append(opt)
        return out

    async def begin(self, sender: str, mail_options: list[str]) -> str | None:
        """Open an upstream transaction; None when the upstream accepted the sender."""
        for attempt in (1, 2):
            try:
                client = await self._ensure()
                if self.in_transaction:
                    await client.rset()
                self.in_transaction, self.recipients = False, []
                await client.mail(sender, options=self._options(client, mail_options), encoding="utf-8")
            except aiosmtplib.SMTPServerDisconnected as exc:
                # an idle connection the upstream closed meanwhile: connect again, once
                self.client = None
                if attempt == 2:
                    return _refusal(exc, self.upstream)
                continue
            except Exception as exc:
                await self._forget_if_broken()
                return _refusal(exc, self.upstream)
            self.in_transaction = True
            return None
        return None  # not reached

    async def add(self, recipient: str) -> str | None:
        """Ask the upstream about one recipient; None when accepted."""
        try:
            assert self.client is not None
            await self.client.rcpt(recipient, encoding="utf-8")
        except Exception as exc:
            await self._forget_if_broken()
            return _refusal(exc, self.upstream)
        self.recipients.append(recipient)
        return None

    async def deliver(
        self, sender: str, copies: list[tuple[str, bytes]], mail_options: list[str]
    ) -> dict[str, tuple[int, str]]:
        """Send each (recipient, message) in its own transaction; the upstream's answer per recipient."""
        results: dict[str, tuple[int, str]] = {}
        if len(copies) == 1 and self.in_transaction and self.recipients == [copies[0][0]]:
            rcpt, data = copies[0]  # the transaction the client built upstream is exactly this one
            results[rcpt] = await self._data(data)
            return results
        for rcpt, data in copies:
            try:
                client = await self._ensure()
                if self.in_transaction:
                    await client.rset()
                    self.in_transaction = False
                await client.mail(sender, options=self._options(client, mail_options), encoding="utf-8")
                self.in_transaction = True
                await client.rcpt(rcpt, encoding="utf-8")
            except Exception as exc:
                await self._forget_if_broken()
                results[rcpt] = _code_text(exc, self.upstream)
                continue
            results[rcpt] = await self._data(data)
        return results

    async def _data(self, data: bytes) -> tuple[int, str]:
        try:
            assert self.client is not None
            resp = await self.client.data(data)
        except Exception as exc:
            await self._forget_if_broken()
            return _code_text(exc, self.upstream)
        finally:
            self.in_transaction = False
        return resp.code, resp.message

    async def reset(self) -> None:
        if self.client is not None and self.client.is_connected and self.in_transaction:
            try:
                await self.client.rset()
            except Exception:
                await self._forget_if_broken()
        self.in_transaction, self.recipients = False, []

    async def _forget_if_broken(self) -> None:
        if self.client is not None and not self.client.is_connected:
            self.client = None
            self.in_transaction = False

    async def close(self) -> None:
        client, self.client = self.client, None
        if client is not None and client.is_connected:
            try:
                await asyncio.wait_for(client.quit(), 5)
            except Exception:
                client.close()


def _code_text(exc: BaseException, upstream: Upstream) -> tuple[int, str]:
    if isinstance(exc, aiosmtplib.SMTPResponseException) and 400 <= exc.code < 600:
        return exc.code, exc.message
    if isinstance(exc, OSError | aiosmtplib.SMTPConnectError | aiosmtplib.SMTPServerDisconnected | TimeoutError):
        return 451, f"4.4.1 The outgoing server {upstream.where} cannot be reached ({exc}); try again later"
    return 451, f"4.4.0 The outgoing server {upstream.where} failed ({exc}); try again later"


@dataclass(slots=True)
class _Pending:
    """A message whose relay did not fully succeed: what was delivered, to resume on retry."""

    result: Instrumented
    delivered: set[str]
    expires: datetime


class _RetryMemory:
    """Messages the client will send again after a 4xx; bounded in size and time."""

    def __init__(self, size: int = 500) -> None:
        self.size = size
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
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def drop(self, key: tuple[int, str]) -> None:
        self._items.pop(key, None)


class _Server(SMTP):
    """aiosmtpd's protocol with long lines allowed and one upstream relay per client session."""

    def __init__(self, handler: _Handler, *, line_limit: int, **kwargs: Any) -> None:
        # lines up to the message size limit: real mail has lines longer than RFC 5322's 998
        self.line_length_limit = line_limit
        self.relay: _Relay | None = None
        super().__init__(handler, **kwargs)
        handler.sessions.add(self)

    def connection_lost(self, error: Exception | None) -> None:
        super().connection_lost(error)
        handler: _Handler = self.event_handler
        handler.sessions.discard(self)
        relay, self.relay = self.relay, None
        if relay is not None:
            handler.background(relay.close())


class _Handler:
    """aiosmtpd hooks: authentication, sender checks, upstream mirroring, instrumentation, relay."""

    def __init__(self, runtime: Runtime, hostname: str) -> None:
        self.runtime = runtime
        self.hostname = hostname
        self.sessions: set[_Server] = set()
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

    async def auth_PLAIN(self, server: _Server, args: list[str]) -> AuthResult:
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
        return await self._login(parts[1], parts[2])

    async def auth_LOGIN(self, server: _Server, args: list[str]) -> AuthResult:
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
        return await self._login(login, password)

    async def _login(self, login: bytes, password: bytes) -> AuthResult:
        user = await asyncio.to_thread(
            self._check, login.decode("utf-8", "replace"), password.decode("utf-8", "replace")
        )
        if user is None:
            return AuthResult(
                success=False,
                handled=False,
                message="535 5.7.8 Authentication failed: use your mailbeacon address and password",
            )
        return AuthResult(success=True, auth_data=user)

    def _check(self, login: str, password: str) -> User | None:
        address = try_normalise(login)
        if address is None:
            return None
        try:
            user = self.runtime.store.user(address)
        except NotFound:
            check_password(password, _DUMMY_HASH)  # same work either way
            return None
        return user if check_password(password, user.password_hash) else None

    # -- the transaction ----------------------------------------------------------------------

    async def handle_MAIL(
        self, server: _Server, session: Session, envelope: Envelope, address: str, mail_options: list[str]
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
            return _line(553, f"5.7.1 The sender {address} is not one of your mailbeacon addresses")
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
        self, server: _Server, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if try_normalise(address) is None:
            return _line(553, f"5.1.3 {address} is not an email address (expected name@domain)")
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

    async def handle_RSET(self, server: _Server, session: Session, envelope: Envelope) -> str:
        if server.relay is not None:
            await server.relay.reset()
        return "250 2.0.0 OK"

    async def handle_DATA(self, server: _Server, session: Session, envelope: Envelope) -> str:
        self.busy += 1
        self.idle.clear()
        try:
            return await self._data(server, session, envelope)
        finally:
            self.busy -= 1
            if not self.busy:
                self.idle.set()

    async def _data(self, server: _Server, session: Session, envelope: Envelope) -> str:
        user = _user_of(session)
        relay = server.relay
        sender = envelope.mail_from
        if user is None or relay is None or not sender:
            return "503 5.5.1 MAIL and RCPT first"
        content = envelope.original_content or b""
        refused = self._check_from(content, user)
        if refused is not None:
            await relay.reset()
            return refused
        targets: dict[str, str] = {}  # envelope address as given -> normalised (one each)
        for a in envelope.rcpt_tos:
            n = try_normalise(a) or a
            if n not in targets.values():
                targets[a] = n
        key = (user.id, hashlib.sha256(content).hexdigest())
        now = self.runtime.clock()
        pending = self.memory.get(key, now)
        if pending is not None and set(targets.values()) <= {c.address for c in pending.result.copies}:
            made: Instrumented | bytes | str = pending.result  # a retry: the same copies, the same tokens
        else:
            made = await self._instrument(content, sender, envelope.rcpt_tos)
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
        if isinstance(made, bytes):
            return _answer(targets, delivered, failed, "")
        if failed:
            self.memory.put(key, _Pending(made, delivered, now + RETRY_MEMORY))
        else:
            self.memory.drop(key)
        self.background(self._record(made, delivered, failed))
        return _answer(targets, delivered, failed, made.rfc_message_id)

    def _check_from(self, content: bytes, user: User) -> str | None:
        try:
            heads = rewrite.root_headers(content)
            values = [header_text(v) for v in heads.get_all("from", [])]
        except Exception:
            return None
        own = {a.lower() for a in user.addresses}
        for addr in header_addresses(values):
            if addr not in own:
                return _line(550, f"5.7.1 The From: address {addr} is not one of your mailbeacon addresses")
        return None

    async def _instrument(self, content: bytes, sender: str, recipients: list[str]) -> Instrumented | bytes | str:
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
            )
        except StoreUnavailable:
            return "451 4.3.0 mailbeacon cannot record the message right now (database unavailable); try again later"
        except (InvalidInput, AuthError) as exc:
            return _line(554, f"5.6.0 {exc}")
        except MailbeaconError as exc:
            return _line(451, f"4.3.0 {exc}")
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

    async def _relay(self, server: _Server, user: User) -> _Relay | str:
        try:
            upstream = upstream_for(self.runtime, user)
        except ConfigError as exc:
            return _line(451, f"4.3.5 {exc}")
        if server.relay is not None and server.relay.upstream != upstream:
            self.background(server.relay.close())
            server.relay = None
        if server.relay is None:
            server.relay = _Relay(upstream, self.runtime.settings.smtp_timeout, self.hostname)
        return server.relay


def upstream_for(runtime: Runtime, user: User) -> Upstream:
    """The user's own upstream server (stored encrypted), else the server's `upstream_smtp`."""
    try:
        url = runtime.credentials.decrypt(user.upstream_smtp) if user.upstream_smtp else ""
    except ConfigError as exc:
        raise ConfigError(f"the outgoing server settings of {user.email} cannot be read: {exc}") from exc
    url = url or runtime.settings.upstream_smtp
    if not url:
        raise ConfigError(
            "No outgoing server is configured: the administrator must set upstream_smtp "
            "(or set your own with `mailbeacon user set-upstream`)"
        )
    return Upstream.parse(url)


async def relay(runtime: Runtime, result: Instrumented) -> dict[str, tuple[int, str]]:
    """Send each copy of an instrumented message through the sender's upstream server.

    Returns the upstream's (code, text) per recipient address; raises `ConfigError` when no
    upstream is configured. For scripts and the `mailbeacon send` command.
    """
    user = await asyncio.to_thread(runtime.store.user, result.user_id)
    upstream = upstream_for(runtime, user)
    hostname = urlsplit(runtime.public_url).hostname or "mailbeacon"
    client = _Relay(upstream, runtime.settings.smtp_timeout, hostname)
    options = [] if all(c.data.isascii() for c in result.copies) else ["BODY=8BITMIME"]
    try:
        return await client.deliver(result.sender, [(c.address, c.data) for c in result.copies], options)
    finally:
        await client.close()


def _user_of(session: Session) -> User | None:
    data: object = getattr(session, "auth_data", None)
    return data if isinstance(data, User) else None


def _answer(targets: dict[str, str], delivered: set[str], failed: dict[str, tuple[int, str]], message_id: str) -> str:
    """The reply to DATA: one answer for all recipients, saying what happened to each kind."""
    if not failed:
        return _line(250, f"2.0.0 Delivered to {len(targets)} recipient(s) as {message_id or 'sent'}")
    temporary = {a: ct for a, ct in failed.items() if ct[0] < 500}
    sample_addr, (code, text) = next(iter((temporary or failed).items()))
    if temporary:
        done = f"; already delivered to {len(delivered)}, who will not get it twice when you retry" if delivered else ""
        reply_code = code if 400 <= code < 500 else 451
        return _line(reply_code, f"Not delivered to {sample_addr}: {code} {text}{done}")
    if delivered:
        return _line(
            code, f"Refused for {', '.join(sorted(failed))}: {code} {text}; delivered to {len(delivered)} other(s)"
        )
    return _line(code, text)


_DUMMY_HASH = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


def _loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _tls_context(cert: str, key: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        ctx.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load smtp_tls_cert/smtp_tls_key ({cert}, {key}): {exc}") from exc
    return ctx


class SmtpProxy:
    """A running proxy; `await stop()` closes the listener and lets transactions in flight finish."""

    def __init__(self, server: asyncio.Server, handler: _Handler) -> None:
        self._server = server
        self._handler = handler

    @property
    def address(self) -> tuple[str, int]:
        sock = self._server.sockets[0].getsockname()
        return str(sock[0]), int(sock[1])

    @property
    def port(self) -> int:
        return self.address[1]

    async def idle(self) -> None:
        """Wait until the notes taken after answering (relay results) are stored."""
        while self._handler._tasks:
            await asyncio.gather(*list(self._handler._tasks), return_exceptions=True)

    async def stop(self, grace: float = 60.0) -> None:
        """Stop listening, let messages being relayed get their answer, then close every session.

        A client whose transaction is cut before DATA ended has had nothing accepted: it retries.
        """
        self._server.close()
        try:
            await asyncio.wait_for(self._handler.idle.wait(), grace)
        except TimeoutError:
            log.warning("SMTP relays still running after %.0f s; closing their sessions", grace)
        for session in list(self._handler.sessions):
            if session.transport is not None:
                session.transport.close()
        for task in list(self._handler._tasks):
            try:
                await asyncio.wait_for(task, 5)
            except Exception:
                log.debug("background SMTP task did not finish", exc_info=True)


async def start_smtp_proxy(runtime: Runtime, *, host: str | None = None, port: int | None = None) -> SmtpProxy:
    """Listen on the `smtp` setting (or host/port given here) in the running event loop."""
    s = runtime.settings
    if host is None or port is None:
        if s.smtp in ("", "off"):
            raise ConfigError("the SMTP proxy is off (setting smtp = off); set smtp to host:port to run it")
        h, p = split_hostport(s.smtp)
        host = h if host is None else host
        port = p if port is None else port
    tls = _tls_context(s.smtp_tls_cert, s.smtp_tls_key) if s.smtp_tls_cert else None
    loopback = _loopback(host)
    if tls is None and not loopback:
        raise ConfigError(
            f"the SMTP proxy would listen on {host} without TLS, where passwords cannot be sent: "
            "set smtp_tls_cert and smtp_tls_key, or listen on 127.0.0.1"
        )
    hostname = urlsplit(runtime.public_url).hostname or "mailbeacon"
    handler = _Handler(runtime, hostname)
    loop = asyncio.get_running_loop()

    def factory() -> _Server:
        return _Server(
            handler,
            line_limit=max(s.smtp_max_size, 1001) + 2,
            data_size_limit=s.smtp_max_size,
            enable_SMTPUTF8=True,
            hostname=hostname,
            ident=_IDENT,
            tls_context=tls,
            require_starttls=tls is not None and not loopback,
            auth_require_tls=not loopback,
            auth_required=False,  # enforced at MAIL with a clear message
            timeout=300,
            loop=loop,
        )

    server = await loop.create_server(factory, host=host, port=port)
    proxy = SmtpProxy(server, handler)
    log.info("SMTP submission proxy on %s:%s (TLS %s)", *proxy.address, "on" if tls else "off")
    return proxy
