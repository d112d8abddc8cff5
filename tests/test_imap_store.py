"""The store part behind the watcher (mailboxes, checkpoints), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete

from conftest import FakeClock
from mailbeacon.errors import Conflict, NotFound
from mailbeacon.runtime import Runtime
from mailbeacon.store import schema
from mailbeacon.store.mailboxes import Checkpoint
from seeding import seed_account, seed_message


def test_mailboxes_state_and_checkpoints(any_runtime: Runtime, clock: FakeClock) -> None:
    store = any_runtime.store
    user = seed_account(any_runtime, "seller@acme.test")
    box = store.add_mailbox(user.id, "imaps://seller@imap.acme.test:993", "enc", ["INBOX", "Replies"], clock())
    assert (box.state, box.folders, box.last_error, box.last_ok_at) == ("new", ("INBOX", "Replies"), None, None)
    with pytest.raises(Conflict):
        store.add_mailbox(user.id, "imaps://seller@imap.acme.test:993", "enc", [], clock())

    store.set_mailbox_state(box.id, "error", error="t: cannot reach")
    store.set_mailbox_state(box.id, "connected", ok_at=clock(), seen_at=clock())
    got = store.mailbox(box.id)
    assert (got.state, got.last_error, got.last_ok_at, got.last_seen_at) == (
        "connected",
        "t: cannot reach",
        clock(),
        clock(),
    )
    with pytest.raises(ValueError, match="unknown mailbox state"):
        store.set_mailbox_state(box.id, "sleeping")

    assert store.checkpoint(box.id, "INBOX") is None
    store.save_checkpoint(box.id, "INBOX", 7, 10)
    store.save_checkpoint(box.id, "INBOX", 7, 4)  # an older batch finishing late never moves it back
    assert store.checkpoint(box.id, "INBOX") == Checkpoint(7, 10)
    store.save_checkpoint(box.id, "INBOX", 9, 2)  # new UIDVALIDITY: the old numbers mean nothing
    assert store.checkpoint(box.id, "INBOX") == Checkpoint(9, 2)
    store.save_checkpoint(box.id, "Replies", 1, 5)
    assert store.checkpoint(box.id, "Replies") == Checkpoint(1, 5)
    with store.engine.begin() as conn:
        conn.execute(delete(schema.mailbox_folders).where(schema.mailbox_folders.c.mailbox_id == box.id))
    assert store.checkpoint(box.id, "INBOX") is None

    assert [b.id for b in store.mailboxes(user.id)] == [box.id]
    store.remove_mailbox(box.id)
    assert store.mailboxes() == []
    with pytest.raises(NotFound):
        store.mailbox(box.id)


def test_sent_mail_lookups(any_runtime: Runtime, clock: FakeClock) -> None:
    store = any_runtime.store
    user = seed_account(any_runtime, "seller@acme.test")
    assert store.first_sent_at(user.id) is None
    first = clock()
    seed_message(any_runtime, ["bob@client.example"], user=user)
    clock.advance(3600)
    seed_message(any_runtime, ["carol@client.example"], user=user)
    assert store.first_sent_at(user.id) == first
    other = seed_account(any_runtime, "other@acme.test")
    assert store.sent_to_address("BOB@client.example", user_id=user.id)
    assert not store.sent_to_address("bob@client.example", user_id=other.id)
    assert store.sent_to_address("bob@client.example", workspace_id=user.workspace_id)
    assert not store.sent_to_address("dave@client.example")
    assert first + timedelta(hours=1) == clock()
