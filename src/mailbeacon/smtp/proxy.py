"""The listener: `start_smtp_proxy(runtime)` in the running event loop, `await proxy.stop()`."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import ssl
from urllib.parse import urlsplit

from ..config import split_hostport
from ..errors import ConfigError
from ..reachability import public_url_warning
from ..runtime import Runtime
from .session import Handler, Server

log = logging.getLogger("mailbeacon.smtp")
# aiosmtpd itself sets a deprecated attribute on every login and then warns about it
logging.getLogger("mail.log").addFilter(lambda record: "login_data is deprecated" not in record.getMessage())
_IDENT = "mailbeacon"


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

    def __init__(self, server: asyncio.Server, handler: Handler) -> None:
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
    handler = Handler(runtime, hostname)
    loop = asyncio.get_running_loop()

    def factory() -> Server:
        return Server(
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
    warning = public_url_warning(runtime.public_url)
    if warning:
        log.warning("%s", warning)
    return proxy
