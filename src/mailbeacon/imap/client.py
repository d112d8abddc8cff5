"""A small asyncio IMAP4rev1 client: the read-only subset the reply watcher needs.

The only module that speaks IMAP. Commands: CAPABILITY, STARTTLS, AUTHENTICATE PLAIN / LOGIN,
EXAMINE (read-only select: the mailbox is never changed), UID SEARCH, UID FETCH with
`BODY.PEEK[...]` (no \\Seen flag is set), IDLE (RFC 2177), NOOP, LOGOUT.

Why our own: aioimaplib is GPL-3.0-only (this project is Apache-2.0) and the standard library's
imaplib has no IDLE before Python 3.14 and blocks a thread per mailbox with no clean way to
interrupt a wait. The subset above is small, and it is tested against a real Dovecot.

Failures come out as mailbeacon errors: `AuthError` (the server refused the login),
`UpstreamTemporary` (unreachable, timed out, disconnected, unexpected answer).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
import ssl

from ..errors import AuthError, UpstreamTemporary
from .protocol import (
    _CODE,
    _FETCH_ITEM,
    _LITERAL,
    MAX_LITERAL,
    Fetched,
    FolderStatus,
    MailboxUrl,
    _internaldate,
    _Response,
    encode_folder,
)


class ImapClient:
    """One connection. Use `await ImapClient.open(url, password)`; close with `await close()`."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, url: MailboxUrl, timeout: float):
        self.reader = reader
        self.writer = writer
        self.url = url
        self.timeout = timeout
        self.capabilities: set[str] = set()
        self._tag = 0

    # -- connection -----------------------------------------------------------------------------

    @classmethod
    async def open(
        cls, url: MailboxUrl, password: str, *, io_timeout: float = 60.0, ssl_context: ssl.SSLContext | None = None
    ) -> ImapClient:
        where = f"{url.host}:{url.port}"
        ctx = ssl_context or ssl.create_default_context()
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(
                    url.host, url.port, ssl=ctx if url.scheme == "imaps" else None, limit=1024 * 1024
                ),
                io_timeout,
            )
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            raise UpstreamTemporary(f"cannot reach the IMAP server {where}: {exc or type(exc).__name__}") from exc
        client = cls(reader, writer, url, io_timeout)
        try:
            await client._greeting()
            if url.scheme == "imap+starttls" or (url.scheme == "imap" and "STARTTLS" in client.capabilities):
                await client._starttls(ctx)
            await client._login(password)
        except BaseException:
            await client.close()
            raise
        return client

    async def _greeting(self) -> None:
        resp = await self._read()
        if resp.line.upper().startswith(b"* BYE"):
            raise UpstreamTemporary(f"the IMAP server closed the connection: {resp.line.decode(errors='replace')}")
        self._take_capabilities(resp.line)
        if not self.capabilities:
            await self.command("CAPABILITY")

    def _take_capabilities(self, line: bytes) -> None:
        m = _CODE.search(line)
        words: list[bytes] = []
        if m and m.group(1).upper() == b"CAPABILITY" and m.group(2):
            words = m.group(2).split()
        elif line.upper().startswith(b"* CAPABILITY "):
            words = line.split()[2:]
        if words:
            self.capabilities = {w.decode("ascii", "replace").upper() for w in words}

    async def _starttls(self, ctx: ssl.SSLContext) -> None:
        if "STARTTLS" not in self.capabilities:
            raise UpstreamTemporary(f"{self.url.host} does not offer STARTTLS: use imaps:// or imap://")
        await self.command("STARTTLS")
        try:
            await self.writer.start_tls(ctx, server_hostname=self.url.host)
        except (OSError, ssl.SSLError) as exc:
            raise UpstreamTemporary(f"TLS with {self.url.host} failed: {exc}") from exc
        self.capabilities = set()
        await self.command("CAPABILITY")

    async def _login(self, password: str) -> None:
        user = self.url.user
        if "LOGINDISABLED" in self.capabilities and "AUTH=PLAIN" not in self.capabilities:
            raise AuthError(f"{self.url.host} refuses logins without TLS: use imaps://")
        try:
            if "AUTH=PLAIN" in self.capabilities:
                blob = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
                if "SASL-IR" in self.capabilities:
                    _, done = await self.command(f"AUTHENTICATE PLAIN {blob}", secret=True)
                else:
                    _, done = await self.command("AUTHENTICATE PLAIN", continuation=blob.encode())
            else:
                _, done = await self.command_literals("LOGIN", [user.encode(), password.encode()])
        except _No as exc:
            if "[UNAVAILABLE]" in str(exc).upper():  # RFC 5530: a temporary failure (e.g. shutting down)
                raise UpstreamTemporary(f"the IMAP server {self.url.host} cannot log in now: {exc}") from None
            raise AuthError(
                f"the IMAP server {self.url.host} refused the login for {user}: {exc}. Check the user and password."
            ) from None
        self._take_capabilities(done.line)
        if not any(c for c in self.capabilities if c not in ("IMAP4REV1",)) or "IDLE" not in self.capabilities:
            await self.command("CAPABILITY")

    async def close(self) -> None:
        """Log out politely when possible, then close the socket."""
        with contextlib.suppress(Exception):
            if not self.writer.is_closing():
                self._tag += 1
                self.writer.write(f"Z{self._tag} LOGOUT\r\n".encode())
                await asyncio.wait_for(self.writer.drain(), 2)
        self.writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.writer.wait_closed(), 2)

    # -- protocol -----------------------------------------------------------------------------------

    async def _readline(self, wait: float | None = None) -> bytes:
        try:
            line = await asyncio.wait_for(self.reader.readline(), self.timeout if wait is None else wait)
        except TimeoutError:
            raise
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            raise UpstreamTemporary(f"the connection to {self.url.host} broke: {exc}") from exc
        if not line:
            raise UpstreamTemporary(f"{self.url.host} closed the connection")
        return line

    async def _read(self, wait: float | None = None) -> _Response:
        line = await self._readline(wait)
        literals: list[bytes] = []
        text = line
        while True:
            m = _LITERAL.search(text)
            if not m:
                break
            size = int(m.group(1))
            if size > MAX_LITERAL:
                raise UpstreamTemporary(f"{self.url.host} sent a {size}-byte literal; refusing")
            try:
                data = await asyncio.wait_for(self.reader.readexactly(size), self.timeout)
            except (OSError, asyncio.IncompleteReadError) as exc:
                raise UpstreamTemporary(f"the connection to {self.url.host} broke: {exc}") from exc
            literals.append(data)
            text = text[: m.end()].rstrip(b"\r\n") + await self._readline()
        return _Response(text.rstrip(b"\r\n"), tuple(literals))

    def _next_tag(self) -> str:
        self._tag += 1
        return f"M{self._tag:04d}"

    async def _send(self, data: bytes) -> None:
        try:
            self.writer.write(data)
            await asyncio.wait_for(self.writer.drain(), self.timeout)
        except (OSError, TimeoutError) as exc:
            raise UpstreamTemporary(f"cannot write to {self.url.host}: {exc}") from exc

    async def _finish(self, tag: str) -> tuple[list[_Response], _Response]:
        untagged: list[_Response] = []
        prefix = tag.encode() + b" "
        while True:
            resp = await self._read()
            if resp.line.startswith(prefix):
                status = resp.line[len(prefix) :].split(b" ", 1)[0].upper()
                if status != b"OK":
                    raise _No(resp.line[len(prefix) :].decode("utf-8", "replace"))
                return untagged, resp
            if resp.line.upper().startswith(b"* BYE"):
                raise UpstreamTemporary(f"{self.url.host} said goodbye: {resp.line.decode(errors='replace')}")
            if resp.line.upper().startswith(b"* CAPABILITY"):
                self._take_capabilities(resp.line)
            untagged.append(resp)

    async def command(
        self, text: str, *, secret: bool = False, continuation: bytes | None = None
    ) -> tuple[list[_Response], _Response]:
        """Send one command; returns (untagged responses, tagged OK). A NO/BAD raises `_No`."""
        del secret  # nothing is logged; kept to mark commands carrying credentials
        tag = self._next_tag()
        await self._send(f"{tag} {text}\r\n".encode())
        if continuation is not None:
            resp = await self._read()
            if not resp.line.startswith(b"+"):
                raise _No(resp.line.decode("utf-8", "replace"))
            await self._send(continuation + b"\r\n")
        try:
            return await self._finish(tag)
        except TimeoutError as exc:
            raise UpstreamTemporary(f"{self.url.host} did not answer {text.split()[0]} in time") from exc

    async def command_literals(self, name: str, args: list[bytes]) -> tuple[list[_Response], _Response]:
        """A command whose arguments are sent as synchronising literals (any bytes are safe)."""
        tag = self._next_tag()
        head = f"{tag} {name}".encode()
        for arg in args:
            await self._send(head + b" {" + str(len(arg)).encode() + b"}\r\n")
            resp = await self._read()
            if not resp.line.startswith(b"+"):
                raise _No(resp.line.decode("utf-8", "replace"))
            head = arg
        await self._send(head + b"\r\n")
        return await self._finish(tag)

    # -- what the watcher uses -----------------------------------------------------------------

    async def examine(self, folder: str) -> FolderStatus:
        """Open `folder` read-only."""
        try:
            untagged, _ = await self.command(f"EXAMINE {encode_folder(folder)}")
        except _No as exc:
            raise FolderUnavailable(f"cannot open folder '{folder}' on {self.url.host}: {exc}") from None
        uidvalidity, uidnext, exists = 0, None, 0
        for r in untagged:
            m = _CODE.search(r.line)
            if m and m.group(1).upper() == b"UIDVALIDITY" and m.group(2):
                uidvalidity = int(m.group(2).split()[0])
            elif m and m.group(1).upper() == b"UIDNEXT" and m.group(2):
                uidnext = int(m.group(2).split()[0])
            parts = r.line.split()
            if len(parts) == 3 and parts[2].upper() == b"EXISTS" and parts[1].isdigit():
                exists = int(parts[1])
        return FolderStatus(uidvalidity, uidnext, exists)

    async def uid_search(self, criteria: str) -> list[int]:
        try:
            untagged, _ = await self.command(f"UID SEARCH {criteria}")
        except _No as exc:
            raise UpstreamTemporary(f"search failed on {self.url.host}: {exc}") from None
        uids: list[int] = []
        for r in untagged:
            parts = r.line.split()
            if len(parts) >= 2 and parts[1].upper() == b"SEARCH":
                uids += [int(p) for p in parts[2:] if p.isdigit()]
        return sorted(set(uids))

    async def fetch(self, uids: list[int], section: str) -> list[Fetched]:
        """`UID FETCH` of `BODY.PEEK[section]` (e.g. `HEADER`, or `]<0.4194304>` style partials)."""
        if not uids:
            return []
        spec = ",".join(str(u) for u in uids)
        try:
            untagged, _ = await self.command(f"UID FETCH {spec} (UID RFC822.SIZE INTERNALDATE BODY.PEEK[{section})")
        except _No as exc:
            raise UpstreamTemporary(f"fetch failed on {self.url.host}: {exc}") from None
        out: list[Fetched] = []
        for r in untagged:
            if b" FETCH " not in r.line.upper()[:40]:
                continue
            uid, size, when, data, got_body = None, None, None, b"", False
            for m in _FETCH_ITEM.finditer(r.line):
                key, value = m.group(1).upper(), m.group(2)
                if key == b"UID":
                    uid = int(value)
                elif key == b"RFC822.SIZE":
                    size = int(value)
                elif key == b"INTERNALDATE":
                    when = _internaldate(value)
                else:
                    got_body = True
                    if m.group(3) is not None:
                        index = _literal_index(r.line, m.start(2))
                        data = r.literals[index] if index < len(r.literals) else b""
                    elif value.startswith(b'"'):
                        data = value[1:-1].replace(b'\\"', b'"').replace(b"\\\\", b"\\")
            if uid is not None and got_body:
                out.append(Fetched(uid, size, when, data))
        return sorted(out, key=lambda f: f.uid)

    async def idle(self, wait: float) -> bool:
        """IDLE for up to `wait` seconds; True as soon as new mail is announced (EXISTS/RECENT)."""
        tag = self._next_tag()
        await self._send(f"{tag} IDLE\r\n".encode())
        changed = False
        while True:  # untagged news may come before the continuation
            resp = await self._read()
            if resp.line.startswith(b"+"):
                break
            if resp.line.startswith(tag.encode()):
                raise UpstreamTemporary(f"{self.url.host} refused IDLE: {resp.line.decode(errors='replace')}")
            changed = changed or _announces_mail(resp.line)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while not changed:
            left = deadline - loop.time()
            if left <= 0:
                break
            try:
                r = await self._read(wait=left)
            except TimeoutError:
                break
            if r.line.upper().startswith(b"* BYE"):
                raise UpstreamTemporary(f"{self.url.host} ended the session: {r.line.decode(errors='replace')}")
            changed = _announces_mail(r.line)
        await self._send(b"DONE\r\n")
        try:
            await self._finish(tag)
        except TimeoutError as exc:
            raise UpstreamTemporary(f"{self.url.host} did not end IDLE in time") from exc
        return changed


def _announces_mail(line: bytes) -> bool:
    words = line.upper().split()
    return len(words) >= 3 and words[0] == b"*" and words[2] in (b"EXISTS", b"RECENT")


def _literal_index(line: bytes, pos: int) -> int:
    """Which literal (0-based) a `{n}` marker at `pos` of a response line refers to."""
    return len(_LITERAL_MARK.findall(line[:pos]))


_LITERAL_MARK = re.compile(rb"\{\d+\+?\}")


class _No(Exception):
    """The server answered NO or BAD."""


class FolderUnavailable(UpstreamTemporary):
    """A folder cannot be opened (it does not exist, or access is denied); the others still can."""
