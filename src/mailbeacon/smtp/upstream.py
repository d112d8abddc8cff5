"""The upstream side of the proxy: the real outgoing server, reached with aiosmtplib."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

import aiosmtplib

from ..errors import ConfigError
from ..instrumentation import Instrumented
from ..model import User
from ..runtime import Runtime


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


def reply_line(code: int, text: str) -> str:
    """One SMTP reply line: the code and a single line of text."""
    text = " ".join(str(text).split())[:400]
    return f"{code} {text}"


def refusal(exc: BaseException, upstream: Upstream) -> str:
    """The reply for a failed upstream step: its own code and text, or 451 when it could not answer."""
    return reply_line(*code_text(exc, upstream))


class UpstreamSession:
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
                    return refusal(exc, self.upstream)
                continue
            except Exception as exc:
                await self._forget_if_broken()
                return refusal(exc, self.upstream)
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
            return refusal(exc, self.upstream)
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
                results[rcpt] = code_text(exc, self.upstream)
                continue
            results[rcpt] = await self._data(data)
        return results

    async def _data(self, data: bytes) -> tuple[int, str]:
        try:
            assert self.client is not None
            resp = await self.client.data(data)
        except Exception as exc:
            await self._forget_if_broken()
            return code_text(exc, self.upstream)
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


def code_text(exc: BaseException, upstream: Upstream) -> tuple[int, str]:
    if isinstance(exc, aiosmtplib.SMTPResponseException) and 400 <= exc.code < 600:
        return exc.code, exc.message
    if isinstance(exc, OSError | aiosmtplib.SMTPConnectError | aiosmtplib.SMTPServerDisconnected | TimeoutError):
        return 451, f"4.4.1 The outgoing server {upstream.where} cannot be reached ({exc}); try again later"
    return 451, f"4.4.0 The outgoing server {upstream.where} failed ({exc}); try again later"


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
    upstream = await asyncio.to_thread(upstream_for, runtime, user)
    hostname = urlsplit(runtime.public_url).hostname or "mailbeacon"
    client = UpstreamSession(upstream, runtime.settings.smtp_timeout, hostname)
    options = [] if all(c.data.isascii() for c in result.copies) else ["BODY=8BITMIME"]
    try:
        return await client.deliver(result.sender, [(c.address, c.data) for c in result.copies], options)
    finally:
        await client.close()
