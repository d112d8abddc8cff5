"""A background task of `serve` that is started again when it ends unexpectedly.

The pipeline and the webhook worker each run one: an exception that escapes their loop (a bug,
an error nobody foresaw) is logged, counted in their health state (`/healthz`) and the loop is
started again `restart_after` seconds later — unless the server is stopping.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

log = logging.getLogger("mailbeacon")


class Restarts(Protocol):
    """The part of a task's health state that restarts change."""

    restarts: int
    last_error: str | None


def restarting(
    run: Callable[[], Coroutine[Any, Any, None]],
    *,
    what: str,
    stop: asyncio.Event,
    state: Restarts,
    restart_after: float,
    started: Callable[[asyncio.Task[None]], None],
) -> asyncio.Task[None]:
    """Run `run()` as a task named after `what`; `started(task)` is told of it and of each restart."""
    task = asyncio.create_task(run(), name=f"mailbeacon-{what.replace(' ', '-')}")
    started(task)

    def ended(t: asyncio.Task[None]) -> None:
        if stop.is_set():
            return
        exc = None if t.cancelled() else t.exception()
        state.restarts += 1
        state.last_error = f"the {what} task ended: {exc!r}"
        log.error("the %s stopped unexpectedly (%r); starting it again", what, exc, exc_info=exc)

        def again() -> None:
            if not stop.is_set():
                restarting(run, what=what, stop=stop, state=state, restart_after=restart_after, started=started)

        asyncio.get_running_loop().call_later(restart_after, again)

    task.add_done_callback(ended)
    return task
