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
from mailbeacon.diagnose import DeviceFact, Facts, HitFact, Injection
from mailbeacon.evaluate import Scenario, parse, run_scenario
from mailbeacon.model import HitKind, Message, Recipient, RecipientField, Reply, ReplyKind, TrackingChoice
from mailbeacon.passwords import hash_password
from mailbeacon.pipeline import Pipeline, record_replies
from mailbeacon.runtime import Runtime
from mailbeacon.store import NewRecipient

SCENARIOS = {s.name: s for s in parse((CORPUS / "labelled-hits.jsonl").read_text().splitlines())}
PUBLIC_URL = "https://t.acme.test"
TRACKING: dict[str, Any] = {"opens": True, "clicks": True, "replies": True, "reasons": []}
SETTLE = 120.0


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
        "size": {"message": 14_000, "html": 9_000},
        **more,
    }


def end_of(sc: Scenario) -> datetime:
    """When the answer is asked: every hit of the scenario settled."""
    last = max((e.at for e in sc.events), default=sc.message.sent_at)
    return last + timedelta(seconds=SETTLE + 1)


def _relation(sc: Scenario) -> Any:
    m = sc.message
    return relation_of(
        sc.recipient,
        sender_addresses=m.sender_addresses | {m.sender},
        members=m.workspace_members | m.sender_addresses | {m.sender},
        domains=m.workspace_domains,
    )


def pure_facts(sc: Scenario, **overrides: Any) -> Facts:
    """The facts record of a scenario, with verdicts from the pure classifier."""
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
    from mailbeacon.diagnose import ReplyFact

    replies = tuple(ReplyFact(e.reply_kind, e.at, sc.recipient, "test") for e in sc.events if e.reply_kind is not None)
    views = [e.at for e in sc.events if e.hit is not None and e.hit.kind is HitKind.SELF_VIEW]
    devices = tuple(
        DeviceFact(name, "extension", name, sc.message.sent_at, max(views) if views else None)
        for name in sorted(sc.message.sender_devices)
    )
    m = sc.message
    facts = Facts(
        message_id=1,
        rfc_message_id=f"<{sc.name}@test>",
        subject=sc.name,
        sender=m.sender,
        sent_at=m.sent_at,
        recipient=sc.recipient,
        relation=_relation(sc),
        switches=TrackingChoice(True, True, True, ()),
        injection=Injection(html=True, instrumented=True, pixel=True, decoy=True, links=m.links),
        public_url=PUBLIC_URL,
        size=None,
        relay=None,
        workspace_domains=tuple(sorted(m.workspace_domains)),
        devices=devices,
        hits=tuple(hits),
        replies=replies,
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
) -> tuple[Message, Recipient]:
    """Store a scenario through the real store and pipeline: message, hits, replies, settled verdicts."""
    m, now = sc.message, rt.clock()
    ws = rt.store.create_workspace(f"ws-{sc.name}", sorted(m.workspace_domains), now)
    user = rt.store.create_user(ws.id, m.sender, hash_password("x"), now)
    for a in sorted(m.sender_addresses - {m.sender}):
        rt.store.add_address(user.id, a)
    devices = {n: rt.store.add_device(user.id, "extension", n, m.sent_at).public_id for n in sorted(m.sender_devices)}
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
        recipients=[NewRecipient(sc.recipient, RecipientField.TO, _relation(sc))],
    )
    hits = []
    for e in sc.events:
        if e.reply_kind is not None:
            clock.set(e.at)
            reply = Reply(msg.id, rcpt.id, f"<reply-{e.index}@test>", e.reply_kind, sc.recipient, e.at, source="test")
            assert record_replies(rt, [reply]) or (e.reply_kind is ReplyKind.REPLY and not TRACKING["replies"])
        if e.hit is None:
            continue
        device = devices[e.hit.device_id] if e.hit.device_id else None
        hits.append(
            dataclasses.replace(
                e.hit,
                uid=f"{sc.name}-{e.index}",
                workspace_id=ws.id,
                message_id=msg.id,
                recipient_id=rcpt.id,
                device_id=device,
            )
        )
        if e.hit.kind is HitKind.SELF_VIEW and device is not None:
            rt.store.touch_device(device, e.hit.at)
    rt.store.insert_hits(hits)
    pipe = Pipeline(rt)
    clock.set(max((e.at for e in sc.events), default=m.sent_at))
    pipe.drain()
    clock.set(end_of(sc))
    pipe.drain()
    return rt.store.message(msg.id), rcpt
