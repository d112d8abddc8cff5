"""What wakes the live streams of this process: the store's bell, and a poll for other nodes.

Every open `GET /api/v1/events/stream` waits on one `StreamHub`. It wakes them all at once when
this process commits events (the store's `bell`, rung from whichever thread wrote them), and
when the newest event id in the database grows — read once every `POLL` seconds for all streams
together, while any stream is open — so events written by another node arrive too. A woken
stream reads its own (scoped) events after its cursor. `close()` ends every stream: `serve`
calls it before the HTTP server stops, so a graceful stop does not wait for streams that
never end by themselves (clients reconnect, with `Last-Event-ID`, to another node or later).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from ..errors import StoreUnavailable
from ..store.events import Bell

log = logging.getLogger("mailbeacon.web")

#: seconds between two looks at the newest event id (events of other nodes)
POLL = 1.0


class StreamHub:
    def __init__(self, bell: Bell, newest: Callable[[], int], *, keepalive: float, poll: float = POLL) -> None:
        self.bell = bell
        self.newest = newest
        #: seconds between keep-alive comments on an idle stream
        self.keepalive = keepalive
        self.poll = poll
        self.closed = False
        self.streams = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed = asyncio.Event()
        self._poller: asyncio.Task[None] | None = None
        self._seen = -1

    def _ring(self) -> None:
        """From any thread: wake every stream (in the hub's loop)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.wake)

    def wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def ticket(self) -> asyncio.Event:
        """Take before reading: set once something new may have been written since."""
        return self._changed

    def opened(self) -> None:
        """A stream starts (in the event loop): listen to the bell, poll while any stream is open."""
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            self.bell.listen(self._ring)
        self.streams += 1
        if self._poller is None or self._poller.done():
            self._poller = asyncio.create_task(self._poll(), name="mailbeacon-stream-poll")

    def done(self) -> None:
        self.streams -= 1

    async def wait(self, ticket: asyncio.Event) -> bool:
        """Until woken (True) or closing (False)."""
        if self.closed:
            return False
        await ticket.wait()
        return not self.closed

    async def _poll(self) -> None:
        while self.streams > 0 and not self.closed:
            try:
                newest = await asyncio.to_thread(self.newest)
            except StoreUnavailable as exc:
                log.debug("live streams: %s", exc)
            else:
                if newest != self._seen:
                    if self._seen >= 0:
                        self.wake()
                    self._seen = newest
            await asyncio.sleep(self.poll)

    async def close(self) -> None:
        """End every stream (a graceful stop)."""
        self.closed = True
        self.wake()
        self.bell.forget(self._ring)
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
