"""One run of the demo: a throw-away mailbeacon, the day played on it, the check, then serving.

Everything lives in a new temporary directory (database, journal, keys), removed at the end;
the user's settings, database and data directory are never read or touched. In-process:
`Service` (HTTP, SMTP proxy, pipeline) on the demo's clock, with a local SMTP sink as upstream.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import signal
import socket
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from ..config import load_settings
from ..passwords import hash_password, new_password
from ..runtime import Runtime
from ..service import Service, ensure_ports
from ..smtp import SmtpProxy
from ..smtp.sink import Sink, start_sink
from ..stats import Counts
from . import check
from .everyday import everyday_sends
from .play import Copy, DemoClock, Player, wait_for
from .script import DOMAIN, EXPECTED, MAYA, SCENARIO_SENDS, SEND_EVERY, SENDERS, WORKSPACE, Expected, Send

#: the minutes past the last step before the demo's "now": every verdict has settled by then
AFTER_LAST = 5 * 60.0


@dataclass
class Demo:
    """What to play and where; tests replace `sends` or `expected` to see the check fail."""

    http_port: int = 0  # 0: a free port
    smtp_port: int = 0
    sends: Sequence[Send] = field(default_factory=lambda: (*SCENARIO_SENDS, *everyday_sends()))
    expected: Sequence[Expected] = EXPECTED
    say: Callable[[str], None] = print
    #: after the check: None to stop, else awaited while serving (the default waits for Ctrl-C)
    serve: Callable[[], asyncio.Future[None]] | None = None
    passwords: dict[str, str] = field(default_factory=dict)
    copies: dict[str, Copy] = field(default_factory=dict)
    rows: list[check.Row] = field(default_factory=list)

    async def run(self) -> bool:
        """Play the day (and serve, if asked); True when every check came out as expected."""
        for name in ("mailbeacon", "mail.log"):
            logging.getLogger(name).setLevel(logging.ERROR)  # the demo's own loopback URLs are no news
        tmp = Path(tempfile.mkdtemp(prefix="mailbeacon-demo-"))
        sink = await start_sink()
        try:
            return await self._run(tmp, sink)
        finally:
            await sink.stop()
            shutil.rmtree(tmp, ignore_errors=True)

    async def _run(self, tmp: Path, sink: Sink) -> bool:
        port = self.http_port or free_port()
        url = f"http://127.0.0.1:{port}"
        settings = load_settings(
            environ={},
            overrides={
                "database_url": f"sqlite:///{tmp / 'demo.db'}",
                "data_dir": str(tmp / "data"),
                "http": f"127.0.0.1:{port}",
                "smtp": f"127.0.0.1:{self.smtp_port}",
                "public_url": url,
                "upstream_smtp": f"smtp://127.0.0.1:{sink.port}",
                "trusted_proxies": "127.0.0.1/32",  # the demo's requests say whose address they come from
                "writer_interval": 0.01,
            },
        )
        ensure_ports(settings)
        times, end = self._times(datetime.now(UTC))
        clock = DemoClock(times[0] - timedelta(minutes=30))
        rt = Runtime.open(settings, clock=clock)
        service = Service(rt, with_watchers=False)
        try:
            await service.start()
            self._accounts(rt)
            smtp_port = next(p.port for _, p in service.parts if isinstance(p, SmtpProxy))
            await self._play(rt, service, sink, clock, url, ("127.0.0.1", smtp_port), times, end)
            self.rows = check.rows(self.expected, self._counts(rt), sent=len(self.sends), relayed=len(sink.received))
            for text in check.table(self.rows):
                self.say(text)
            self.say(check.summary(self.rows))
            if self.serve is not None:
                clock.run()
                if service.webhooks is not None:  # a round on the clock as it runs now (it jumped while playing)
                    await service.webhooks.round()
                self._welcome(url, smtp_port)
                await self.serve()
        finally:
            await service.stop()
            rt.close()
        return all(r.ok for r in self.rows)

    def _times(self, now: datetime) -> tuple[list[datetime], datetime]:
        """When each email goes out, so that the day ends (every verdict settled) about now."""
        offsets = [i * SEND_EVERY for i in range(len(self.sends))]
        last = max(
            o + max((s.after for s in send.steps), default=0) for o, send in zip(offsets, self.sends, strict=True)
        )
        start = (now - timedelta(seconds=last + AFTER_LAST)).replace(microsecond=0)
        return [start + timedelta(seconds=o) for o in offsets], now.replace(microsecond=0)

    def _accounts(self, rt: Runtime) -> None:
        """The workspace and its two senders (setup, as `mailbeacon user add` would make them)."""
        now = rt.clock()
        ws = rt.store.create_workspace(WORKSPACE, [DOMAIN], now)
        for s in SENDERS:
            self.passwords[s.email] = new_password()
            user = rt.store.create_user(ws.id, s.email, hash_password(self.passwords[s.email]), now, is_admin=s.admin)
            rt.store.add_address(user.id, s.other_address)

    async def _play(
        self,
        rt: Runtime,
        service: Service,
        sink: Sink,
        clock: DemoClock,
        url: str,
        smtp: tuple[str, int],
        times: list[datetime],
        end: datetime,
    ) -> None:
        intake = service.intake
        assert intake is not None

        async def stored() -> None:
            await wait_for(lambda: intake.pending == 0, "the hits to be stored")

        async def settled() -> None:
            await stored()
            await wait_for(lambda: rt.store.waiting_since(clock()) is None, "the pipeline to settle every verdict")

        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            player = Player(rt, clock, http, stored, self.passwords)
            await player.pair(MAYA)
            self.copies = player.copies
            await player.play(sink, self.sends, times, smtp)
            await player.at(end)
            await settled()

    def _counts(self, rt: Runtime) -> dict[str, Counts]:
        ids = {s.scenario: rt.keyring.verify(self.copies[s.to].pixel).recipient_id for s in self.sends if s.scenario}
        found = rt.store.counts(ids.values())
        return {key: found[rid] for key, rid in ids.items()}

    def _welcome(self, url: str, smtp_port: int) -> None:
        self.say(
            "\nThe demo is running (a throw-away database; it is gone when you stop it).\n"
            f"  dashboard     {url}/app\n"
            f"  sign in at    {url}/signin\n"
            f"  as            {MAYA.email}\n"
            f"  password      {self.passwords[MAYA.email]}\n"
            f"  SMTP proxy    127.0.0.1:{smtp_port}   (AUTH with the same address and password)\n"
            f"  API docs      {url}/api/v1/docs\n\n"
            "Press Ctrl-C to stop."
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def until_signalled() -> asyncio.Future[None]:
    """A future that ends at SIGINT or SIGTERM (Ctrl-C)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def stop() -> None:
        if not done.done():
            done.set_result(None)

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    return done
