"""Facts for the "why" answer from the labelled corpus: real hits, classified by the real rules.

`pure_facts` runs a scenario through `classify` (no store) and builds the facts record by hand;
`replay` stores the same scenario through the real store and pipeline, so that `Store.why_facts`
must come to the same facts (the end-to-end tests check that both give the same answer).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

from conftest import CORPUS, FakeClock
from mailbeacon.addresses import relation_of
from mailbeacon.diagnose import DeviceFact, Facts, HitFact, Injection, MailboxFact, ReplyFact
from mailbeacon.errors import NotFound
from mailbeacon.evaluate import Scenario, parse, run_scenario
from mailbeacon.model import HitKind, Message, Recipient, RecipientField, Relation, Reply, ReplyKind, TrackingChoice
from mailbeacon.passwords import hash_password
from mailbeacon.pipeline import Pipeline
from mailbeacon.runtime import Runtime
from mailbeacon.store import NewRecipient

SCENARIOS = {s.name: s for s in parse((CORPUS / "labelled-hits.jsonl").read_text().splitlines())}
PUBLIC_URL = "https://t.acme.com"
TRACKING: dict[str, Any] = {"opens": True, "clicks": True, "replies": True, "reasons": []}
SETTLE = 120.0
#: the sender's mailbox, checked this long before the answer is asked (when healthy)
MAILBOX_URL = "imaps://alice@imap.acme.test:993"
CHECKED = timedelta(minutes=5)
#: the sender's extension last reported a view this long before the answer is asked (when healthy)
EXTENSION_SEEN = timedelta(hours=2)
Inbound = tuple[tuple[ReplyKind, float], ...]


def scenario(name: str, until: int | None = None) -> Scenario:
    """A labelled scenario, optionally cut to its first `until` events."""
    sc = SCENARIOS[name]
    return dataclasses.replace(sc, events=sc.events[:until]) if until is not None else sc


def outcome(sc: Scenario, **more: Any) -> dict[str, Any]:
    return {
        "html": True,
        "instrumented": True,
        "failure": None,
        "notes": [],
        "pixel": True,
        "decoy": True,
        "public_url": PUBLIC_URL,
        **more,
    }


def end_of(sc: Scenario) -> datetime:
    """When the answer is asked: every hit of the scenario settled."""
    last = max((e.at for e in sc.events), default=sc.message.sent_at)
    return last + timedelta(seconds=SETTLE + 1)


def relation(sc: Scenario) -> Relation:
    m = sc.message
    return relation_of(
        sc.recipient,
        sender_addresses=m.sender_addresses | {m.sender},
        members=m.workspace_members | m.sender_addresses | {m.sender},
        domains=m.workspace_domains,
    )


def _inbound(sc: Scenario, replies: Inbound) -> list[tuple[ReplyKind, datetime, int]]:
    out = [(e.reply_kind, e.at, e.index) for e in sc.events if e.reply_kind is not None]
    out += [(k, sc.message.sent_at + timedelta(seconds=s), 1000 + i) for i, (k, s) in enumerate(replies)]
    return sorted(out, key=lambda r: r[1])


def pure_facts(sc: Scenario, *, healthy: bool = True, replies: Inbound = (), **overrides: Any) -> Facts:
    """The facts record of a scenario, with verdicts from the pure classifier.

    `healthy`: the sender has a connected mailbox and an extension that reported a view lately.
    `replies`: more inbound messages (kind, seconds after sending) besides the scenario's."""
    result = run_scenario(sc)
    hits = []
    for e, v in zip(sc.events, result.verdicts, strict=True):
        if e.hit is None:
            continue
        if e.hit.kind is HitKind.SELF_VIEW:
            hits.append(HitFact(HitKind.SELF_VIEW, e.hit.at, None, None, device_id=e.hit.device_id))
            continue
        assert v is not None
        hits.append(HitFact(e.hit.kind, e.hit.at, e.hit.link, v.cls, v.subtype, v.reasons, True, e.hit.device_id))
    views = [e.at for e in sc.events if e.hit is not None and e.hit.kind is HitKind.SELF_VIEW]
    if healthy:
        views.append(end_of(sc) - EXTENSION_SEEN)
    m = sc.message
    facts = Facts(
        message_id=1,
        rfc_message_id=f"<{sc.name}@test>",
        subject=sc.name,
        sender=m.sender,
        sent_at=m.sent_at,
        recipient=sc.recipient,
        relation=relation(sc),
        switches=TrackingChoice(True, True, True, ()),
        injection=Injection(html=True, instrumented=True, pixel=True, decoy=True, links=m.links),
        public_url=PUBLIC_URL,
        workspace_domains=tuple(sorted(m.workspace_domains)),
        devices=tuple(
            DeviceFact(name, "extension", name, m.sent_at, max(views) if views else None)
            for name in sorted(m.sender_devices)
        ),
        hits=tuple(hits),
        replies=tuple(ReplyFact(k, at, sc.recipient, "test") for k, at, _ in _inbound(sc, replies)),
        mailboxes=(MailboxFact(1, MAILBOX_URL, "connected", end_of(sc) - CHECKED),) if healthy else (),
        settle_window=SETTLE,
    )
    return dataclasses.replace(facts, **overrides)


def replay(
    rt: Runtime,
    clock: FakeClock,
    sc: Scenario,
    *,
    tracking: dict[str, Any] | None = None,
    outcome_: dict[str, Any] | None = None,
    healthy: bool = True,
    replies: Inbound = (),
) -> tuple[Message, Recipient]:
    """Store a scenario through the real store and pipeline: message, hits, replies, settled verdicts."""
    m, now = sc.message, rt.clock()
    try:  # several scenarios may share a sender (and so a workspace and devices)
        user = rt.store.user(m.sender)
        ws = rt.store.workspace(user.workspace_id)
    except NotFound:
        ws = rt.store.create_workspace(f"ws-{sc.name}", sorted(m.workspace_domains), now)
        user = rt.store.create_user(ws.id, m.sender, hash_password("x"), now)
    for a in sorted(m.sender_addresses - set(rt.store.user(user.id).addresses)):
        rt.store.add_address(user.id, a)
    devices = {d.name: d.public_id for d in rt.store.devices(user.id)}
    for n in sorted(m.sender_devices - set(devices)):
        devices[n] = rt.store.add_device(user.id, "extension", n, m.sent_at).public_id
    msg, (rcpt,) = rt.store.create_message(
        workspace_id=ws.id,
        user_id=user.id,
        rfc_message_id=f"<{sc.name}@test>",
        sender=m.sender,
        subject=sc.name,
        sent_at=m.sent_at,
        links=[f"https://example.com/{i}" for i in range(m.links)],
        decoy_link=m.links,
        tracking=tracking or TRACKING,
        outcome=outcome_ or outcome(sc),
        source="python",
        recipients=[NewRecipient(sc.recipient, RecipientField.TO, relation(sc))],
    )
    for kind, at, i in _inbound(sc, replies):
        clock.set(at)
        Pipeline(rt).record_replies(
            [Reply(msg.id, rcpt.id, f"<reply-{i}@test>", kind, sc.recipient, at, source="test")]
        )
    hits = []
    for e in sc.events:
        if e.hit is None:
            continue
        device = devices[e.hit.device_id] if e.hit.device_id else None
        hits.append(
            dataclasses.replace(
                e.hit, uid=f"{sc.name}-{e.index}", workspace_id=ws.id, message_id=msg.id, recipient_id=rcpt.id,
                device_id=device,
            )
        )  # fmt: skip
        if e.hit.kind is HitKind.SELF_VIEW and device is not None:
            rt.store.touch_device(device, e.hit.at)
    rt.store.insert_hits(hits)
    pipe = Pipeline(rt)
    clock.set(max((e.at for e in sc.events), default=m.sent_at))
    pipe.drain()
    clock.set(end_of(sc))
    pipe.drain()
    if healthy:
        boxes = [b for b in rt.store.mailboxes(user.id) if b.url == MAILBOX_URL]
        box = boxes[0] if boxes else rt.store.add_mailbox(user.id, MAILBOX_URL, "sealed", ["INBOX"], m.sent_at)
        rt.store.set_mailbox_state(box.id, "connected", ok_at=end_of(sc) - CHECKED)
        views = [e.at for e in sc.events if e.hit is not None and e.hit.kind is HitKind.SELF_VIEW]
        for device in devices.values():
            rt.store.touch_device(device, max([*views, end_of(sc) - EXTENSION_SEEN]))
    return rt.store.message(msg.id), rcpt
