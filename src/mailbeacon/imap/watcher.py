"""The mailbox watcher: one task per mailbox, IDLE where offered, polling otherwise.

Per mailbox and folder the watcher keeps a checkpoint (UIDVALIDITY and the last UID handled) in
`mailbox_folders`, written after each batch is recorded: after a restart nothing is missed, and
what is seen again is not counted twice (the store keeps each inbound message once per tracked
email). It reads headers first (`BODY.PEEK[HEADER]`) and fetches a body only when the headers say
it may concern tracked mail; folders are opened with EXAMINE, so nothing in the mailbox changes.
A failing mailbox records its error and backs off; the others carry on. With several
`mailbeacon serve` nodes, a lease per mailbox lets exactly one of them watch it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..errors import AuthError, MailbeaconError
from ..inbound import StoreView, take_in
from ..pipeline import Pipeline
from ..replies import needs_body
from ..runtime import Runtime
from ..store.mailboxes import Mailbox
from .client import FolderUnavailable, ImapClient
from .protocol import parse_url

log = logging.getLogger("mailbeacon.imap")

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True, slots=True)
class WatchOptions:
    #: seconds between checks without IDLE, and between IDLE renewals
    poll_interval: float = 60.0
    #: first reconnect delay after a failure; doubles up to `backoff_max`
    backoff_initial: float = 2.0
    backoff_max: float = 300.0
    #: seconds to wait for any single server answer
    io_timeout: float = 60.0
    #: bytes of a message fetched at most (the start of the message: headers, text, quoted HTML)
    body_limit: int = 4 * 1024 * 1024
    #: messages per header fetch (and per checkpoint)
    batch: int = 50

    @property
    def lease_ttl(self) -> float:
        return max(3 * self.poll_interval, 90.0) + self.io_timeout


def backoff_delay(failures: int, options: WatchOptions, jitter: float = 0.5) -> float:
    """Seconds to wait after `failures` consecutive failures (`jitter` in [0, 1): ±20 %)."""
    if failures <= 0:
        return 0.0
    base = min(options.backoff_initial * 2.0 ** min(failures - 1, 60), options.backoff_max)
    return base * (0.8 + 0.4 * jitter)


def imap_date(when: datetime) -> str:
    return f"{when.day}-{_MONTHS[when.month - 1]}-{when.year}"


@dataclass
class CheckResult:
    """What one pass over a mailbox did."""

    messages: int = 0
    fetched: int = 0
    recorded: int = 0
    folders: dict[str, int] = field(default_factory=dict)
    #: UIDNEXT of each folder as seen during the pass
    uidnext: dict[str, int | None] = field(default_factory=dict)


class MailboxWatcher:
    """Watches one mailbox until cancelled; what it finds is recorded through `pipeline`."""

    def __init__(self, pipeline: Pipeline, mailbox_id: int, options: WatchOptions, owner: str) -> None:
        self.pipeline = pipeline
        self.runtime = pipeline.rt
        self.mailbox_id = mailbox_id
        self.options = options
        self.owner = owner
        self.failures = 0
        self.client: ImapClient | None = None

    @property
    def lease(self) -> str:
        return f"imap:{self.mailbox_id}"

    async def _state(
        self, state: str, *, error: str | None = None, ok_at: datetime | None = None, seen_at: datetime | None = None
    ) -> None:
        try:
            await asyncio.to_thread(
                self.runtime.store.set_mailbox_state, self.mailbox_id, state, error=error, ok_at=ok_at, seen_at=seen_at
            )
        except MailbeaconError as exc:
            log.warning("mailbox %s: cannot record state %s: %s", self.mailbox_id, state, exc)

    async def connect(self, mailbox: Mailbox) -> ImapClient:
        url = parse_url(mailbox.url)
        password = self.runtime.credentials.decrypt(mailbox.password)
        return await ImapClient.open(url, password, io_timeout=self.options.io_timeout)

    async def check(self, client: ImapClient, mailbox: Mailbox) -> CheckResult:
        """One pass over every folder of the mailbox."""
        result = CheckResult()
        problems: list[str] = []
        for folder in mailbox.folders:
            try:
                result.folders[folder] = await self._sync_folder(client, mailbox, folder, result)
            except FolderUnavailable as exc:  # one missing folder does not stop the others
                problems.append(str(exc))
        now = self.runtime.clock()
        error = f"{now.isoformat(timespec='seconds')}: {'; '.join(problems)}" if problems else None
        await self._state("connected", ok_at=now, error=error)
        log.info(
            "mailbox %s checked: %d new message(s), %d read in full, %d recorded%s",
            mailbox.id,
            result.messages,
            result.fetched,
            result.recorded,
            f"; {len(problems)} folder(s) unavailable" if problems else "",
        )
        return result

    async def _sync_folder(self, client: ImapClient, mailbox: Mailbox, folder: str, result: CheckResult) -> int:
        store = self.runtime.store
        status = await client.examine(folder)
        result.uidnext[folder] = status.uidnext
        cp = await asyncio.to_thread(store.checkpoint, mailbox.id, folder)
        if cp is None or cp.uidvalidity != status.uidvalidity:
            first = await asyncio.to_thread(store.first_sent_at, mailbox.user_id)
            if first is None:
                # nothing tracked was ever sent: no message here can answer one
                last = (status.uidnext - 1) if status.uidnext else 0
                if not status.uidnext and status.exists:
                    found = await client.uid_search("ALL")
                    last = found[-1] if found else 0
                await asyncio.to_thread(store.save_checkpoint, mailbox.id, folder, status.uidvalidity, last)
                return 0
            last_uid = 0
            uids = await client.uid_search(f"SINCE {imap_date(first - timedelta(days=1))}")
        else:
            last_uid = cp.last_uid
            if status.uidnext is not None and status.uidnext <= last_uid + 1:
                return 0
            uids = await client.uid_search(f"UID {last_uid + 1}:*")
        uids = [u for u in uids if u > last_uid]
        view = StoreView(store, user_id=mailbox.user_id)
        done = 0
        for start in range(0, len(uids), self.options.batch):
            chunk = uids[start : start + self.options.batch]
            heads = await client.fetch(chunk, "HEADER]")
            for head in heads:
                why = await asyncio.to_thread(needs_body, head.data, view)
                if why:
                    full = await client.fetch([head.uid], f"]<0.{self.options.body_limit}>")
                    raw = full[0].data if full else head.data
                    result.fetched += 1
                    outcome = await asyncio.to_thread(
                        take_in,
                        self.pipeline,
                        raw,
                        user_id=mailbox.user_id,
                        source="imap",
                        mailbox_id=mailbox.id,
                        received_at=head.internaldate or self.runtime.clock(),
                    )
                    result.recorded += len(outcome.recorded)
                done += 1
            result.messages += len(heads)
            await asyncio.to_thread(store.save_checkpoint, mailbox.id, folder, status.uidvalidity, chunk[-1])
            if heads:
                await self._state("connected", seen_at=self.runtime.clock())
        return done

    async def _renew_lease(self) -> bool:
        now = self.runtime.clock()
        return bool(
            await asyncio.to_thread(
                self.runtime.store.acquire_lease, self.lease, self.owner, now, self.options.lease_ttl
            )
        )

    async def run(self) -> None:
        """Connect, check, wait for news (IDLE or polling), again; on failure back off and retry."""
        try:
            while True:
                if not await self._lease_or_wait():
                    continue
                try:
                    await self._session()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # any failure: record it, back off, retry
                    if not isinstance(exc, (MailbeaconError, OSError, TimeoutError)):
                        log.exception("mailbox %s: unexpected failure", self.mailbox_id)
                    self.failures += 1
                    delay = backoff_delay(self.failures, self.options, random.random())
                    when = self.runtime.clock().isoformat(timespec="seconds")
                    await self._state("error", error=f"{when}: {exc}")
                    log.warning("mailbox %s: %s (retrying in %.0f s)", self.mailbox_id, exc, delay)
                    if isinstance(exc, AuthError):
                        delay = max(delay, self.options.poll_interval)
                    await asyncio.sleep(delay)
                finally:
                    if self.client is not None:
                        client, self.client = self.client, None
                        await client.close()
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(asyncio.to_thread(self.runtime.store.release_lease, self.lease, self.owner))

    async def _lease_or_wait(self) -> bool:
        try:
            held = await self._renew_lease()
        except MailbeaconError as exc:
            log.warning("mailbox %s: lease: %s", self.mailbox_id, exc)
            held = False
        if not held:
            await asyncio.sleep(self.options.poll_interval)
        return held

    async def _session(self) -> None:
        mailbox = await asyncio.to_thread(self.runtime.store.mailbox, self.mailbox_id)
        self.client = client = await self.connect(mailbox)
        while True:
            result = await self.check(client, mailbox)
            self.failures = 0
            if not await self._renew_lease():
                return
            if "IDLE" in client.capabilities:
                first = mailbox.folders[0]
                status = await client.examine(first)
                if status.uidnext is None or status.uidnext == result.uidnext.get(first):
                    await client.idle(self.options.poll_interval)
                # else: mail came in since the pass: go round again at once
            else:
                await asyncio.sleep(self.options.poll_interval)
            mailbox = await asyncio.to_thread(self.runtime.store.mailbox, self.mailbox_id)


class Watchers:
    """All mailbox watchers of this process. Picks up added and removed mailboxes by itself."""

    def __init__(self, pipeline: Pipeline, options: WatchOptions) -> None:
        self.pipeline = pipeline
        self.runtime = pipeline.rt
        self.options = options
        self.owner = f"watcher:{secrets.token_hex(4)}"
        self.tasks: dict[int, asyncio.Task[None]] = {}
        self._supervisor: asyncio.Task[None] | None = None

    async def start(self) -> None:
        try:
            await self.refresh()
        except MailbeaconError as exc:  # the database is away: the supervisor tries again
            log.warning("cannot list mailboxes: %s", exc)
        self._supervisor = asyncio.create_task(self._supervise(), name="mailbeacon-imap-supervisor")

    async def refresh(self) -> None:
        """Start watchers for new mailboxes, stop those of removed ones."""
        ids = {m.id for m in await asyncio.to_thread(self.runtime.store.mailboxes)}
        for mid in ids - set(self.tasks):
            watcher = MailboxWatcher(self.pipeline, mid, self.options, self.owner)
            self.tasks[mid] = asyncio.create_task(watcher.run(), name=f"mailbeacon-imap-{mid}")
        for mid in set(self.tasks) - ids:
            await self._cancel(mid)
        for mid, task in list(self.tasks.items()):
            if task.done():  # a watcher never ends by itself; if it crashed, start it again
                exc = task.exception() if not task.cancelled() else None
                log.error("mailbox %s watcher ended unexpectedly: %r", mid, exc)
                del self.tasks[mid]

    async def _supervise(self) -> None:
        while True:
            await asyncio.sleep(self.options.poll_interval)
            try:
                await self.refresh()
            except MailbeaconError as exc:
                log.warning("cannot list mailboxes: %s", exc)

    async def _cancel(self, mid: int) -> None:
        task = self.tasks.pop(mid)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task

    async def stop(self) -> None:
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        for mid in list(self.tasks):
            await self._cancel(mid)
            with contextlib.suppress(MailbeaconError):
                await asyncio.to_thread(self.runtime.store.set_mailbox_state, mid, "stopped")


def options_from(runtime: Runtime, **overrides: float) -> WatchOptions:
    values: dict[str, float] = {"poll_interval": runtime.settings.imap_poll_interval, **overrides}
    if "body_limit" in values:
        values["body_limit"] = int(values["body_limit"])
    if "batch" in values:
        values["batch"] = int(values["batch"])
    return WatchOptions(**values)  # type: ignore[arg-type]


async def start_watchers(pipeline: Pipeline, **overrides: float) -> Watchers:
    """Start watching every configured mailbox (what `mailbeacon serve` runs); `await w.stop()`."""
    watchers = Watchers(pipeline, options_from(pipeline.rt, **overrides))
    await watchers.start()
    return watchers


async def check_mailbox(pipeline: Pipeline, mailbox_id: int, **overrides: float) -> CheckResult:
    """Connect once, handle everything new in every folder, disconnect (`mailbeacon mailbox check`)."""
    runtime = pipeline.rt
    watcher = MailboxWatcher(pipeline, mailbox_id, options_from(runtime, **overrides), "check")
    mailbox = await asyncio.to_thread(runtime.store.mailbox, mailbox_id)
    try:
        client = await watcher.connect(mailbox)
    except MailbeaconError as exc:
        when = runtime.clock().isoformat(timespec="seconds")
        await watcher._state("error", error=f"{when}: {exc}")
        raise
    try:
        return await watcher.check(client, mailbox)
    finally:
        await client.close()
