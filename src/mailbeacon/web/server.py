"""Running the HTTP app inside mailbeacon's own event loop: granian (embedded) or uvicorn.

The only module that imports an HTTP server. Signals are handled by `mailbeacon serve`, not
by the HTTP server, so that stopping is one orderly sequence for every part.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Generator
from typing import Any

from ..config import Settings, split_hostport
from ..errors import ConfigError

log = logging.getLogger("mailbeacon.web")


class HttpServer:
    """An HTTP server for an ASGI app; `start()` binds, `stop()` finishes in-flight requests."""

    def __init__(self, app: Any, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.host, self.port = split_hostport(settings.http)
        self._task: asyncio.Task[None] | None = None
        self._impl: Any = None

    async def start(self) -> None:
        if self.settings.http_server == "granian":
            await self._start_granian()
        else:
            await self._start_uvicorn()

    async def _start_granian(self) -> None:
        from granian.constants import Interfaces
        from granian.log import LogLevels
        from granian.server.embed import Server

        level = LogLevels.debug if self.settings.log_level == "debug" else LogLevels.error
        server = Server(
            self.app,
            address=self.host,
            port=self.port,
            interface=Interfaces.ASGINL,
            websockets=False,
            log_level=level,
            backlog=1024,
        )
        self._impl = server
        self._task = asyncio.create_task(server.serve())
        await self._wait_listening()

    async def _start_uvicorn(self) -> None:
        import uvicorn

        class _Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Generator[None, None, None]:
                yield

        config = uvicorn.Config(
            self.app,
            host=self.host,
            port=self.port,
            lifespan="off",
            log_level="warning" if self.settings.log_level == "info" else self.settings.log_level,
            access_log=False,
            loop="none",
            http="httptools",
        )
        server = _Server(config)
        self._impl = server
        self._task = asyncio.create_task(server.serve())
        await self._wait_listening()

    async def _wait_listening(self, within: float = 10.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        while loop.time() < deadline:
            if self._task is not None and self._task.done():
                exc = self._task.exception()
                raise ConfigError(f"the HTTP server could not start on {self.settings.http}: {exc}")
            try:
                _, writer = await asyncio.open_connection(host, self.port)
                writer.close()
                await writer.wait_closed()
                return
            except OSError:
                await asyncio.sleep(0.02)
        raise ConfigError(f"the HTTP server did not start listening on {self.settings.http}")

    async def stop(self) -> None:
        if self._impl is None or self._task is None:
            return
        if self.settings.http_server == "granian":
            self._impl.stop()
        else:
            self._impl.should_exit = True
        try:
            await asyncio.wait_for(self._task, 15)
        except (TimeoutError, Exception) as exc:  # the server is going away either way
            log.warning("HTTP server stopped uncleanly: %s", exc)
