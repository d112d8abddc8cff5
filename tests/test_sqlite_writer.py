"""SQLite: one write path for the whole process — every writer at once, no lock timeout.

The store is opened with `busy_timeout` 0, so any two write transactions of this process that
met inside SQLite would fail at once with "database is locked". They must never meet: the
store's one write lock lets them take turns.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from conftest import FakeClock, make_settings
from mailbeacon.intake import Intake
from mailbeacon.model import Hit, HitKind, Reply, ReplyKind
from mailbeacon.pipeline import Pipeline
from mailbeacon.runtime import Runtime, load_keyring
from mailbeacon.store import Store
from mailbeacon.store.base import make_engine
from seeding import seed_message

ROUNDS = 60


def _runtime(tmp_path: Path, url: str, clock: FakeClock) -> Runtime:
    store = Store(make_engine(url, busy_timeout_ms=0))
    settings = make_settings(tmp_path, url)
    keyring, _box = load_keyring(settings, store, clock)
    return Runtime(settings, store, keyring, clock)


async def test_every_writer_at_once_never_waits_on_a_lock(sqlite_url: str, tmp_path: Path, clock: FakeClock) -> None:
    rt = _runtime(tmp_path, sqlite_url, clock)
    store = rt.store
    s = seed_message(rt, ["bob@client.example", "carol@client.example"])
    token = "mbt_writer_test_token"
    store.add_api_token(s.user.id, token, "t", clock())
    mailbox = store.add_mailbox(s.user.id, "imaps://alice@127.0.0.1", "x", ["INBOX"], clock())
    device = store.add_device(s.user.id, "extension", "laptop", clock())
    intake = Intake(store, tmp_path / "journal", batch_size=20, interval=0.001)
    intake.start(asyncio.get_running_loop())
    pipeline = Pipeline(rt, batch=50)
    errors: list[BaseException] = []
    start = threading.Barrier(5)

    def worker(step: Callable[[int], object]) -> Callable[[], None]:
        def run() -> None:
            start.wait()
            for i in range(ROUNDS):
                try:
                    step(i)
                except BaseException as exc:  # every failure counts, whatever it is
                    errors.append(exc)

        return run

    def pipeline_step(i: int) -> None:
        pipeline.tick()

    def api_step(i: int) -> None:  # what an API request writes: token use, device touch
        store.user_for_api_token(token, clock())
        store.touch_device(device.public_id, clock())

    def imap_step(i: int) -> None:  # what a mailbox watcher writes: state, checkpoint, a reply
        store.set_mailbox_state(mailbox.id, "connected", ok_at=clock())
        store.save_checkpoint(mailbox.id, "INBOX", 7, i + 1)
        reply = Reply(
            message_id=s.message.id,
            recipient_id=s.recipients[i % 2].id,
            rfc_message_id=f"<reply-{i}@client.example>",
            kind=ReplyKind.REPLY,
            from_address=s.recipients[i % 2].address,
            at=clock(),
            mailbox_id=mailbox.id,
        )
        Pipeline(rt).record_replies([reply])

    def smtp_step(i: int) -> None:  # what the SMTP proxy writes: a tracked message
        seed_message(rt, [f"r{i}@client.example"], user=s.user)

    threads = [threading.Thread(target=worker(f)) for f in (pipeline_step, api_step, imap_step, smtp_step)]
    for t in threads:
        t.start()
    start.wait()
    for i in range(ROUNDS * 10):  # the intake's writer thread stores these meanwhile
        intake.record(
            Hit(
                uid=f"h{i}",
                kind=HitKind.OPEN,
                workspace_id=s.workspace.id,
                message_id=s.message.id,
                recipient_id=s.recipients[i % 2].id,
                at=clock() + timedelta(milliseconds=i),
                ip="198.51.100.7",
                user_agent="Mozilla/5.0",
            )
        )
        if i % 50 == 0:
            await asyncio.sleep(0)
    for t in threads:
        await asyncio.to_thread(t.join, 120)
    await intake.stop()
    assert not errors, [repr(e) for e in errors[:5]]
    assert intake.state.store_down is False and intake.state.last_error is None
    assert store.count_hits() == ROUNDS * 10
    assert len(store.replies(message_id=s.message.id)) == ROUNDS
    assert len(store.messages(limit=10_000)) == ROUNDS + 1
    store.close()
