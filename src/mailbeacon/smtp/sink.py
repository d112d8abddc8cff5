"""A local SMTP server that keeps what it receives: the upstream of `mailbeacon demo`.

    sink = await start_sink()          # 127.0.0.1, a free port, in the running event loop
    ... relay to smtp://127.0.0.1:{sink.port} ...
    sink.to("bob@client.example")      # the copies delivered to that address
    await sink.stop()

Nothing leaves the machine: every message is accepted and kept in memory.
"""

from __future__ import annotations

import asyncio
import email
from dataclasses import dataclass, field
from email.message import Message
from email.policy import compat32
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass(frozen=True)
class Delivery:
    """One message as the upstream received it."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes

    def message(self) -> Message:
        return email.message_from_bytes(self.data, policy=compat32)


@dataclass
class _Keep:
    received: list[Delivery] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        self.received.append(Delivery(str(envelope.mail_from or ""), tuple(envelope.rcpt_tos), data))
        return "250 2.0.0 kept by the demo's local sink"


class Sink:
    """A running sink; `received` lists every message in the order it came."""

    def __init__(self, server: asyncio.Server, keep: _Keep) -> None:
        self._server = server
        self._keep = keep

    @property
    def port(self) -> int:
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def received(self) -> list[Delivery]:
        return list(self._keep.received)

    def to(self, address: str) -> list[Delivery]:
        return [d for d in self._keep.received if address.lower() in (a.lower() for a in d.rcpt_tos)]

    async def stop(self) -> None:
        self._server.close()
        await self._server.wait_closed()


async def start_sink(host: str = "127.0.0.1", port: int = 0) -> Sink:
    keep = _Keep()
    loop = asyncio.get_running_loop()

    def factory() -> Any:
        return SMTP(keep, hostname="sink.mailbeacon.demo", enable_SMTPUTF8=True, loop=loop)

    server = await loop.create_server(factory, host=host, port=port)
    return Sink(server, keep)
