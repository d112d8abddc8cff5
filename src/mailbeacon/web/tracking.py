"""The tracking endpoints, hand-written raw ASGI: this is the hot path.

    GET|HEAD /o/<token>[.gif]   → 200, the 43-byte transparent GIF, always (also for bad tokens,
                                  then nothing is recorded; also when the database is down)
    GET|HEAD /c/<token>         → 302 to the link's original URL, looked up by the token's message
                                  and link index (cached) — never taken from the request.
                                  A bad token gets a 404 page, never a redirect.
    GET|HEAD /c/<decoy token>   → 200, an empty page (the hidden decoy link; the hit marks a scanner)

Answering never waits for the database: hits go to the intake (journal + queue); the answer
leaves once the hit is in the journal file (one write per event-loop iteration). A framework
router costs a third of the throughput here (see docs/benchmarks.md), hence raw ASGI; every
other path is passed to the Starlette app.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ..errors import StoreUnavailable
from ..intake import Intake
from ..model import Hit, HitKind
from ..runtime import Runtime
from ..tokens import InvalidToken

log = logging.getLogger("mailbeacon.web")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: 1x1 transparent GIF, byte-identical to nginx's empty_gif
GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x01\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x01\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02L\x01\x00;"
)
NO_STORE = b"no-store, no-cache, max-age=0, must-revalidate"
_GIF_HEADERS = [
    (b"content-type", b"image/gif"),
    (b"content-length", b"43"),
    (b"cache-control", NO_STORE),
    (b"pragma", b"no-cache"),
    (b"expires", b"0"),
]
_PAGE_404 = (
    b"<!doctype html><meta charset=utf-8><title>Link not valid</title>"
    b"<p>This link is not valid. If you copied it from an email, check that it was copied completely.</p>"
)
_PAGE_503 = (
    b"<!doctype html><meta charset=utf-8><title>Try again</title>"
    b"<p>This link cannot be opened right now. Please try again in a moment.</p>"
)
_PAGE_DECOY = b"<!doctype html><meta charset=utf-8><title></title>"

#: request headers kept with a hit (lower-case); prefixes match families such as sec-fetch-*
HEADER_NAMES = frozenset(
    {
        b"accept",
        b"accept-language",
        b"referer",
        b"via",
        b"purpose",
        b"sec-purpose",
        b"x-purpose",
        b"x-moz",
        b"x-native-host",
        b"from",
        b"dnt",
    }
)
HEADER_PREFIXES = (b"sec-fetch-", b"sec-ch-ua")
MAX_VALUE = 512
MAX_HEADERS = 4096
MAX_UA = 1024
#: the raw ASGI routes of this module (path pattern, methods), for documentation and tests
TRACKING_ROUTES = (("/o/{token}", ("GET", "HEAD")), ("/c/{token}", ("GET", "HEAD")))
_PIXEL_PREFIX, _CLICK_PREFIX = (path.partition("{")[0] for path, _ in TRACKING_ROUTES)
DEVICE_COOKIE = "mb_device"
DEVICE_COOKIE_PURPOSE = "device-cookie"


class LinkCache:
    """(message id, link index) → original URL; bounded, oldest entries dropped first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._urls: dict[tuple[int, int], str | None] = {}

    def get(self, key: tuple[int, int]) -> str | bool | None:
        """The URL, None for a known-missing link, False when not cached."""
        return self._urls.get(key, False)

    def put(self, key: tuple[int, int], url: str | None) -> None:
        if len(self._urls) >= self.size:
            self._urls.pop(next(iter(self._urls)))
        self._urls[key] = url


class ClientAddress:
    """The client IP: the socket peer, or X-Forwarded-For when the peer is a trusted proxy."""

    def __init__(self, trusted: tuple[str, ...]) -> None:
        self.networks = [ipaddress.ip_network(c, strict=False) for c in trusted]

    def _trusted(self, ip: str) -> bool:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(addr in n for n in self.networks)

    def resolve(self, peer: str, forwarded: str | None) -> str:
        if not forwarded or not self.networks or not self._trusted(peer):
            return peer
        for part in reversed(forwarded.split(",")):
            ip = part.strip()
            if not ip:
                continue
            if not self._trusted(ip):
                try:
                    return str(ipaddress.ip_address(ip))
                except ValueError:
                    return peer
        return peer


class TrackingApp:
    """Raw ASGI: the pixel and click endpoints; everything else goes to `fallback`."""

    def __init__(self, runtime: Runtime, intake: Intake, fallback: ASGIApp) -> None:
        self.rt = runtime
        self.keyring = runtime.keyring
        self.clock = runtime.clock
        self.intake = intake
        self.fallback = fallback
        self.links = LinkCache(runtime.settings.click_cache_size)
        self.client = ClientAddress(runtime.settings.trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path.startswith(_PIXEL_PREFIX):
                await self.pixel(scope, path[3:], send)
                return
            if path.startswith(_CLICK_PREFIX):
                await self.click(scope, path[3:], send)
                return
        await self.fallback(scope, receive, send)

    # -- hits ---------------------------------------------------------------------------------

    def _hit(self, scope: Scope, kind: HitKind, ws: int, msg: int, rcpt: int, link: int | None) -> Hit:
        ua = ""
        kept: dict[str, str] = {}
        size = 0
        forwarded = None
        device = None
        for name, value in scope["headers"]:
            if name == b"user-agent":
                ua = value[:MAX_UA].decode("latin-1")
            elif name in HEADER_NAMES or name.startswith(HEADER_PREFIXES):
                if size < MAX_HEADERS:
                    v = value[:MAX_VALUE].decode("latin-1")
                    kept[name.decode("latin-1")] = v
                    size += len(name) + len(v)
            elif name == b"cookie":
                device = self._device(value)
            elif name == b"x-forwarded-for":
                forwarded = value.decode("latin-1")
        client = scope.get("client")
        peer = client[0] if client else ""
        ip = self.client.resolve(peer, forwarded) if forwarded else peer
        return Hit(
            uid=self.intake.new_uid(),
            kind=kind,
            workspace_id=ws,
            message_id=msg,
            recipient_id=rcpt,
            at=self.clock(),
            link=link,
            method=scope["method"],
            ip=ip,
            user_agent=ua,
            headers=kept,
            device_id=device,
        )

    def _device(self, cookie: bytes) -> str | None:
        text = cookie.decode("latin-1")
        start = text.find(DEVICE_COOKIE + "=")
        if start < 0:
            return None
        value = text[start + len(DEVICE_COOKIE) + 1 :].split(";", 1)[0].strip().strip('"')
        return self.keyring.verify_value(DEVICE_COOKIE_PURPOSE, value)

    # -- endpoints ----------------------------------------------------------------------------

    async def pixel(self, scope: Scope, token: str, send: Send) -> None:
        method = scope["method"]
        if method not in ("GET", "HEAD"):
            await _respond(send, 405, b"", [(b"allow", b"GET, HEAD")], head=False)
            return
        if token.endswith(".gif"):
            token = token[:-4]
        try:
            c = self.keyring.verify(token)
        except InvalidToken:
            c = None
        if c is not None and c.kind is HitKind.OPEN:
            await self._record(scope, HitKind.OPEN, c.workspace_id, c.message_id, c.recipient_id, None)
        await send({"type": "http.response.start", "status": 200, "headers": _GIF_HEADERS})
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else GIF})

    async def click(self, scope: Scope, token: str, send: Send) -> None:
        method = scope["method"]
        head = method == "HEAD"
        if method not in ("GET", "HEAD"):
            await _respond(send, 405, b"", [(b"allow", b"GET, HEAD")], head=False)
            return
        try:
            c = self.keyring.verify(token)
        except InvalidToken:
            c = None
        if c is None or c.kind is HitKind.OPEN:
            await _page(send, 404, _PAGE_404, head)
            return
        if c.kind is HitKind.DECOY:
            await self._record(scope, HitKind.DECOY, c.workspace_id, c.message_id, c.recipient_id, None)
            await _page(send, 200, _PAGE_DECOY, head, robots=True)
            return
        assert c.link is not None
        key = (c.message_id, c.link)
        url = self.links.get(key)
        if url is False:
            try:
                url = await asyncio.to_thread(self.rt.store.link_url, c.message_id, c.link)
            except StoreUnavailable:  # not recorded: the person will retry and that click counts
                await _page(send, 503, _PAGE_503, head, extra=[(b"retry-after", b"5")])
                return
            self.links.put(key, url)
        if not url:
            await _page(send, 404, _PAGE_404, head)
            return
        await self._record(scope, HitKind.CLICK, c.workspace_id, c.message_id, c.recipient_id, c.link)
        assert isinstance(url, str)
        await send(
            {
                "type": "http.response.start",
                "status": 302,
                "headers": [
                    (b"location", url.encode("utf-8")),
                    (b"cache-control", NO_STORE),
                    (b"referrer-policy", b"no-referrer"),
                    (b"content-length", b"0"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b""})

    async def _record(self, scope: Scope, kind: HitKind, ws: int, msg: int, rcpt: int, link: int | None) -> None:
        """Record a hit and wait until it is in the journal (the answer may then leave)."""
        try:
            self.intake.record(self._hit(scope, kind, ws, msg, rcpt, link))
            written = self.intake.written()
            if written is not None:
                await written
        except Exception:  # answering comes first
            log.exception("recording a %s hit failed", kind.value)


async def _page(
    send: Send,
    status: int,
    body: bytes,
    head: bool,
    *,
    robots: bool = False,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [(b"content-type", b"text/html; charset=utf-8"), (b"cache-control", NO_STORE)]
    if robots:
        headers.append((b"x-robots-tag", b"noindex, nofollow"))
    await _respond(send, status, body, headers + (extra or []), head=head)


async def _respond(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]], *, head: bool) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})
