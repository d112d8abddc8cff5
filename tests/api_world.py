"""A running `mailbeacon serve` on loopback with two workspaces, for the REST API tests.

Workspace A: alice (admin, the first user), carol (member); workspace B: bert (admin).
Each has an API key; alice and carol each sent a tracked message; alice has a paired device.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from conftest import FakeClock, make_settings
from mailbeacon.model import Reply, ReplyKind
from mailbeacon.passwords import hash_password
from mailbeacon.pipeline import Pipeline
from mailbeacon.runtime import Runtime
from seeding import PASSWORD, Seeded, seed_message
from serving import ServeProcess, free_port


@dataclass
class World:
    rt: Runtime
    url: str
    keys: dict[str, str] = field(default_factory=dict)  # user -> API key
    key_ids: dict[str, int] = field(default_factory=dict)
    users: dict[str, int] = field(default_factory=dict)
    messages: dict[str, Seeded] = field(default_factory=dict)
    device: str = ""
    mailbox: int = 0
    webhook: int = 0
    server: ServeProcess | None = None

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    def client(self, who: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.auth(who) if who else None, timeout=30)


def start_world(tmp: Path, before_serve: Callable[[World], None] | None = None, **settings: object) -> Iterator[World]:
    port = free_port()
    db = f"sqlite:///{tmp / 'api.db'}"
    public = str(settings.pop("public_url", f"http://127.0.0.1:{port}"))
    rt = Runtime.open(make_settings(tmp, db, public_url=public), clock=FakeClock(datetime.now(UTC)), migrate=True)
    w = World(rt=rt, url=f"http://127.0.0.1:{port}")
    now = rt.clock()
    a = rt.store.create_workspace("a", ["acme.test"], now)
    b = rt.store.create_workspace("b", ["beta.test"], now)
    for who, ws, email in (
        ("alice", a, "alice@acme.test"),
        ("carol", a, "carol@acme.test"),
        ("bert", b, "bert@beta.test"),
    ):
        user = rt.store.create_user(ws.id, email, hash_password(PASSWORD), now)
        w.users[who] = user.id
        w.keys[who] = f"mbt_{who}_key_for_tests"
        w.key_ids[who] = rt.store.add_api_token(user.id, w.keys[who], "tests", now).id
    w.messages["alice"] = seed_message(rt, user=rt.store.user(w.users["alice"]))
    w.messages["carol"] = seed_message(rt, ("dan@client.example",), user=rt.store.user(w.users["carol"]))
    w.messages["bert"] = seed_message(rt, ("erin@client.example",), user=rt.store.user(w.users["bert"]))
    # an event of A's (bob's out-of-office answer to alice): the isolation walk lists B's events
    alice_msg = w.messages["alice"]
    auto = Reply(alice_msg.message.id, alice_msg.recipients[0].id, "<world-auto@client.example>",
                 ReplyKind.AUTO_REPLY, "bob@client.example", now, source="api")  # fmt: skip
    assert [e.kind for e in rt.store.events_after(a.id)] == [] and Pipeline(rt).record_replies([auto])
    w.device = rt.store.add_device(w.users["alice"], "extension", "Chrome", now).public_id
    sealed = rt.credentials.encrypt("imap password")
    w.mailbox = rt.store.add_mailbox(w.users["alice"], "imaps://alice@127.0.0.1:9", sealed, ["INBOX"], now).id
    # on loopback: refused at delivery (SSRF) unless the world allows private receivers
    hook_secret = rt.credentials.encrypt("whsec_" + "A" * 32)
    w.webhook = rt.store.add_webhook(a.id, "http://127.0.0.1:9/alice-hooks", [], hook_secret, "A's", now).id
    if before_serve is not None:  # more data, written before the server's pipeline runs
        before_serve(w)
    yield from serve(w, tmp, db, public, port, settings)


def serve_existing(tmp: Path, db: str, **settings: object) -> Iterator[World]:
    """`mailbeacon serve` over a database seeded already (`db`); `World.rt` opens it too."""
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    rt = Runtime.open(make_settings(tmp, db, public_url=public), clock=FakeClock(datetime.now(UTC)), migrate=True)
    yield from serve(World(rt=rt, url=public), tmp, db, public, port, settings)


def serve(w: World, tmp: Path, db: str, public: str, port: int, settings: dict[str, object]) -> Iterator[World]:
    w.server = ServeProcess(tmp, db, port=port, public_url=public, **{k: str(v) for k, v in settings.items()})
    w.server.start()
    yield w
    w.server.close()
    w.rt.close()
