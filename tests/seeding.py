"""Test data built through the real store: a workspace, a sender and a tracked message."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mailbeacon.addresses import relation_of
from mailbeacon.model import HitKind, Message, Recipient, RecipientField, User, Workspace
from mailbeacon.passwords import hash_password
from mailbeacon.runtime import Runtime
from mailbeacon.store import NewRecipient

PASSWORD = "correct horse battery staple"


@dataclass
class Seeded:
    workspace: Workspace
    user: User
    message: Message
    recipients: list[Recipient]

    def rcpt(self, address: str) -> Recipient:
        return next(r for r in self.recipients if r.address == address)


def seed_account(rt: Runtime, email: str = "alice@acme.test", domains: Sequence[str] = ("acme.test",)) -> User:
    try:
        ws = rt.store.workspace("acme")
    except Exception:
        ws = rt.store.create_workspace("acme", list(domains), rt.clock())
    return rt.store.create_user(ws.id, email, hash_password(PASSWORD), rt.clock())


def seed_message(
    rt: Runtime,
    recipients: Sequence[str] = ("bob@client.example",),
    links: Sequence[str] = ("https://example.com/a", "https://example.com/b?x=1&y=2", "https://example.org/c"),
    *,
    user: User | None = None,
    decoy: bool = True,
) -> Seeded:
    user = user or seed_account(rt)
    ws = rt.store.workspace(user.workspace_id)
    members = rt.store.workspace_members(ws.id)
    msg, rcpts = rt.store.create_message(
        workspace_id=ws.id,
        user_id=user.id,
        rfc_message_id=f"<seed-{len(rt.store.messages(limit=10_000))}@acme.test>",
        sender=user.email,
        subject="Proposal",
        sent_at=rt.clock(),
        links=list(links),
        decoy_link=len(links) if decoy else None,
        tracking={"opens": True, "clicks": True, "replies": True, "reasons": []},
        outcome={"html": True, "instrumented": True, "failure": None, "notes": []},
        source="python",
        recipients=[
            NewRecipient(
                a,
                RecipientField.TO,
                relation_of(a, sender_addresses=user.addresses, members=members, domains=ws.domains),
            )
            for a in recipients
        ],
    )
    return Seeded(ws, user, msg, rcpts)


def open_token(rt: Runtime, s: Seeded, address: str) -> str:
    r = s.rcpt(address)
    return rt.keyring.sign(HitKind.OPEN, s.workspace.id, s.message.id, r.id)


def click_token(rt: Runtime, s: Seeded, address: str, link: int) -> str:
    r = s.rcpt(address)
    return rt.keyring.sign(HitKind.CLICK, s.workspace.id, s.message.id, r.id, link)


def decoy_token(rt: Runtime, s: Seeded, address: str) -> str:
    r = s.rcpt(address)
    return rt.keyring.sign(HitKind.DECOY, s.workspace.id, s.message.id, r.id)
