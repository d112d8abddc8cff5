"""The delivery worker `mailbeacon serve` runs beside the pipeline: outbox → deliveries → receivers.

Each round fans the new outbox events out to the deliveries of the endpoints they match, claims
the due deliveries (each by one node: see store/webhooks.py) and sends them, several at once.
An answer 2xx is delivered; anything else is tried again on the schedule of schedule.py, for
24 hours, at least once in effect (the receiver tells retries apart by `webhook-id`). A round
that fails is logged and tried again; the task is started again should it end (`/healthz`
shows `webhooks`). Time comes from the runtime's clock, so tests move it instead of waiting.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..errors import StoreUnavailable
from ..runtime import Runtime
from ..store.deliveries import Claimed, Delivery
from ..supervise import restarting
from .schedule import Random, disable_reason, next_attempt
from .sender import Outcome, Sender

log = logging.getLogger("mailbeacon.webhooks")

#: deliveries sent at once per round, and the seconds between rounds when nothing is due
BATCH = 20
IDLE = 1.0
#: seconds before a worker task that ended unexpectedly is started again
RESTART_AFTER = 1.0
#: seconds without a completed round after which the worker counts as stalled
STALLED_AFTER = 120.0


@dataclass
class WorkerState:
    """What the worker has done, for `/healthz` and tests."""

    delivered: int = 0
    failed_attempts: int = 0
    restarts: int = 0
    last_round_at: datetime | None = None
    last_error: str | None = None


def sample_event(webhook_id: int, now: datetime) -> tuple[str, dict[str, object]]:
    """The `webhook-id` and body of a test event (`POST /api/v1/webhooks/{id}/test`)."""
    msg_id = f"test_{secrets.token_hex(8)}"
    return msg_id, {
        "type": "test",
        "timestamp": now.isoformat().replace("+00:00", "Z"),
        "data": {"webhook_id": webhook_id, "text": "A test event from mailbeacon: this endpoint receives webhooks."},
    }


class WebhookWorker:
    def __init__(self, runtime: Runtime, *, rnd: Random = random.random, sender: Sender | None = None) -> None:
        self.rt = runtime
        self.store = runtime.store
        self.rnd = rnd
        s = runtime.settings
        self.sender = sender or Sender(
            lambda: runtime.credentials, runtime.clock, allow_private=s.webhook_allow_private, timeout=s.webhook_timeout
        )
        #: how long a claimed delivery is left to its sender before another may try it
        self.hold = timedelta(seconds=2 * s.webhook_timeout + 30)
        self.state = WorkerState()
        self.task: asyncio.Task[None] | None = None

    async def round(self) -> int:
        """Fan out, then send what is due. Returns the deliveries attempted."""
        now = self.rt.clock()
        await asyncio.to_thread(self.store.fan_out, now)
        claimed = await asyncio.to_thread(self.store.claim_due, now, self.hold, limit=BATCH)
        await asyncio.gather(*(self._attempt(c) for c in claimed))
        self.state.last_round_at = self.rt.clock()
        return len(claimed)

    async def send_now(self, delivery_id: int) -> Delivery:
        """Attempt one delivery now (a test event); if another sender holds it, its state as it is."""
        claimed = await asyncio.to_thread(self.store.claim_due, self.rt.clock(), self.hold, delivery_id=delivery_id)
        if not claimed:
            return await asyncio.to_thread(self.store.delivery, delivery_id)
        return await self._attempt(claimed[0])

    async def _attempt(self, c: Claimed) -> Delivery:
        try:
            outcome = await self.sender.send(c)
        except Exception as exc:  # whatever went wrong, it is this attempt's failure, not the round's
            log.exception("sending delivery %s failed", c.delivery.id)
            outcome = Outcome(None, f"{type(exc).__name__}: {exc}")
        now = self.rt.clock()
        if outcome.ok:
            assert outcome.status is not None
            await asyncio.to_thread(self.store.record_delivered, c.delivery, now, outcome.status)
            self.state.delivered += 1
            return await asyncio.to_thread(self.store.delivery, c.delivery.id)
        self.state.failed_attempts += 1
        log.info("webhook delivery %s to %s failed: %s", c.delivery.msg_id, c.url, outcome.error)
        return await asyncio.to_thread(
            self.store.record_failed,
            c.delivery,
            now,
            outcome.status,
            outcome.error or "failed",
            lambda first, attempts: next_attempt(first, attempts, now, self.rnd),
            lambda since: disable_reason(since, now),
        )

    async def run(self, stop: asyncio.Event, idle: float = IDLE, pause: float = 2.0) -> None:
        """Loop until `stop` is set; a round that fails is logged and tried again after `pause` seconds."""
        while not stop.is_set():
            try:
                n = await self.round()
            except StoreUnavailable as exc:
                self.state.last_error = str(exc)
                await _wait(stop, pause)
                continue
            except Exception as exc:
                log.exception("webhook round failed")
                self.state.last_error = f"{type(exc).__name__}: {exc}"
                await _wait(stop, pause)
                continue
            self.state.last_error = None
            if n < BATCH:
                await _wait(stop, idle)
        await self.sender.close()

    def start(
        self, stop: asyncio.Event, *, restart_after: float = RESTART_AFTER, **options: float
    ) -> asyncio.Task[None]:
        """Run the loop as a task that is started again if it ends before `stop` is set."""

        def started(task: asyncio.Task[None]) -> None:
            self.state.last_round_at = self.rt.clock()
            self.task = task

        return restarting(
            lambda: self.run(stop, **options),
            what="webhook worker",
            stop=stop,
            state=self.state,
            restart_after=restart_after,
            started=started,
        )

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    def health(self, now: datetime) -> dict[str, object]:
        last = self.state.last_round_at
        stalled = not self.running or last is None or (now - last).total_seconds() > STALLED_AFTER
        return {
            "running": self.running,
            "stalled": stalled,
            "last_round_at": last.isoformat().replace("+00:00", "Z") if last else None,
            "delivered": self.state.delivered,
            "failed_attempts": self.state.failed_attempts,
            "restarts": self.state.restarts,
            "last_error": self.state.last_error,
        }


async def _wait(event: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(event.wait(), seconds)
    except TimeoutError:
        pass
