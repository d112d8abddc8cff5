"""Stored activity for the charts' tests: emails sent at given times, settled hits with their
verdicts and counter deltas, replies — written as the pipeline writes them (one transaction each)."""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from mailbeacon.addresses import relation_of
from mailbeacon.model import Hit, HitKind, Reason, RecipientField, Reply, ReplyKind, User, Verdict, VerdictClass
from mailbeacon.runtime import Runtime
from mailbeacon.stats import hit_delta, reply_delta
from mailbeacon.store import NewRecipient
from seeding import Seeded

UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"


def send(rt: Runtime, user: User, subject: str, at: datetime, recipients: Sequence[str]) -> Seeded:
    ws = rt.store.workspace(user.workspace_id)
    members = rt.store.workspace_members(ws.id)
    msg, rcpts = rt.store.create_message(
        workspace_id=ws.id,
        user_id=user.id,
        rfc_message_id=f"<{uuid.uuid4().hex}@acme.test>",
        sender=user.email,
        subject=subject,
        sent_at=at,
        links=["https://example.com/offer", "https://example.com/pricing"],
        decoy_link=2,
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


def hit(rt: Runtime, s: Seeded, address: str, kind: HitKind, cls: VerdictClass, at: datetime) -> None:
    """A settled hit of `address` at `at`, decided `cls`, counted."""
    r = s.rcpt(address)
    link = 0 if kind is HitKind.CLICK else None
    raw = Hit(uuid.uuid4().hex, kind, s.workspace.id, s.message.id, r.id, at, link, ip="81.2.69.160", user_agent=UA)
    rt.store.insert_hits([raw])
    stored = next(sv.hit for sv in rt.store.hits_with_verdicts(recipient_id=r.id) if sv.hit.uid == raw.uid)
    verdict = Verdict(cls, (Reason("seeded", "seeded for the charts' tests"),))
    rt.store.record_verdicts([(stored, verdict, None)], at, [(r.id, s.message.id, hit_delta(kind, link, at, cls))])


def reply(rt: Runtime, s: Seeded, address: str, at: datetime, kind: ReplyKind = ReplyKind.REPLY) -> None:
    r = s.rcpt(address)
    got = Reply(s.message.id, r.id, f"<{uuid.uuid4().hex}@client.example>", kind, address, at, source="api")
    rt.store.add_replies([got], at, lambda x: reply_delta(x.kind, x.at))


SUBJECTS = (
    "Proposal for the Q1 rollout",
    "Follow-up: pricing questions",
    "Your trial ends Friday",
    "Meeting notes and next steps",
    "Invoice 2026-114",
    "Quick question about the contract",
    "New integration: what changes for you",
    "Re: onboarding call",
)
PEOPLE = ("dana", "eli", "fatima", "george", "hana", "ivan", "jun", "kofi", "lena", "marta", "nils", "oskar")
DOMAINS = ("client.example", "bigcorp.example", "shop.example", "univ.example")


def realistic(rt: Runtime, senders: Sequence[User], end: datetime, days: int = 21, seed: int = 15) -> int:
    """About two emails a working day per sender over `days` days up to `end`, with people opening
    (some through image blocking: clicks only), privacy prefetches, link scanners, the sender's own
    views, replies and out-of-office answers. Returns how many emails were sent."""
    rnd = random.Random(seed)
    n = 0
    for back in range(days, 0, -1):
        day = end - timedelta(days=back)
        if day.weekday() >= 5:
            continue
        for user in senders:
            for _ in range(rnd.randint(1, 3)):
                at = day.replace(hour=rnd.randint(8, 17), minute=rnd.randint(0, 59), second=0, microsecond=0)
                people = rnd.sample(PEOPLE, rnd.randint(1, 3))
                addrs = [f"{p}@{rnd.choice(DOMAINS)}" for p in people]
                s = send(rt, user, rnd.choice(SUBJECTS), at, addrs)
                n += 1
                for a in addrs:
                    _play(rt, s, a, at, end, rnd)
    return n


def _play(rt: Runtime, s: Seeded, address: str, sent: datetime, end: datetime, rnd: random.Random) -> None:
    def later(low: float, high: float) -> datetime | None:
        at = sent + timedelta(minutes=rnd.uniform(low, high))
        return at if at < end else None

    if rnd.random() < 0.3 and (at := later(0.1, 1)):  # Apple MPP: a prefetch minutes after delivery
        hit(rt, s, address, HitKind.OPEN, VerdictClass.MACHINE_OPEN, at)
    if rnd.random() < 0.2 and (at := later(0.05, 0.5)):  # a gateway's scanner opens every link
        hit(rt, s, address, HitKind.CLICK, VerdictClass.SCANNER, at)
    if rnd.random() < 0.25 and (at := later(1, 30)):  # the sender re-reads it in the Sent folder
        hit(rt, s, address, HitKind.OPEN, VerdictClass.SELF, at)
    roll = rnd.random()
    if roll < 0.55:
        typical = rnd.choice((3, 15, 15, 60, 60, 60, 240, 240, 600, 900, 2000, 5000))  # minutes
        first = later(typical * 0.5, typical * 1.5)
        if first is None:
            return
        for k in range(rnd.choice((1, 1, 2, 3))):
            again = first + timedelta(hours=k * rnd.uniform(1, 30))
            if again < end:
                hit(rt, s, address, HitKind.OPEN, VerdictClass.HUMAN, again)
        if rnd.random() < 0.35 and (click := first + timedelta(minutes=2)) < end:
            hit(rt, s, address, HitKind.CLICK, VerdictClass.HUMAN, click)
        if rnd.random() < 0.3 and (answer := first + timedelta(hours=rnd.uniform(0.2, 20))) < end:
            reply(rt, s, address, answer)
    elif roll < 0.65 and (at := later(30, 2000)):  # images blocked: a click proves the reading (R5)
        hit(rt, s, address, HitKind.CLICK, VerdictClass.HUMAN, at)
    elif roll < 0.7 and (at := later(1, 5)):
        reply(rt, s, address, at, ReplyKind.AUTO_REPLY)
