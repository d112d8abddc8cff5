"""Every labelled scenario (the main corpus and the skeptic's set), replayed through the real HTTP
endpoints, journal, store and pipeline.

The settled verdicts the pipeline stores must be the ones `eval` computes (same rules, contexts
built from the store instead of the file), and the counters must be the counts `eval` computes
(the labels' counts wherever eval agrees with the labels). Paired devices are real (cookie and
signed self-view beacons over HTTP); other recipients' hits (`peers`) are real recipients' hits.
"""

from __future__ import annotations

import asyncio
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from conftest import CORPUS, FakeClock, _sqlite_template, make_settings
from mailbeacon.addresses import relation_of
from mailbeacon.devices import device_secret, sign_beacon
from mailbeacon.evaluate import Scenario, parse, run_scenario
from mailbeacon.intake import Intake
from mailbeacon.model import Hit, HitKind, RecipientField, Relation, Reply
from mailbeacon.passwords import hash_password
from mailbeacon.pipeline import Pipeline
from mailbeacon.runtime import Runtime
from mailbeacon.scenarios import Event
from mailbeacon.store import NewRecipient
from mailbeacon.web.app import create_app
from mailbeacon.web.tracking import DEVICE_COOKIE, DEVICE_COOKIE_PURPOSE

SCENARIOS = [
    *parse((CORPUS / "labelled-hits.jsonl").read_text().splitlines()),
    *parse((CORPUS / "labelled-skeptic.jsonl").read_text().splitlines()),  # the skeptic's set, with peers
]


def _setup(rt: Runtime, sc: Scenario) -> tuple[int, int, int, dict[str, str], dict[int, int]]:
    m, now = sc.message, rt.clock()
    ws = rt.store.create_workspace("ws", sorted(m.workspace_domains), now)
    user = rt.store.create_user(ws.id, m.sender, hash_password("x"), now)
    for a in sorted(m.sender_addresses - {m.sender}):
        rt.store.add_address(user.id, a)
    for a in sorted(m.workspace_members - m.sender_addresses - {m.sender}):
        rt.store.create_user(ws.id, a, hash_password("x"), now)
    devices = {
        name: rt.store.add_device(user.id, "extension", name, now).public_id for name in sorted(m.sender_devices)
    }
    members = rt.store.workspace_members(ws.id)
    relation = relation_of(
        sc.recipient, sender_addresses=m.sender_addresses | {m.sender}, members=members, domains=ws.domains
    )
    peer_ids = sorted({p.recipient_id for p in sc.peers})  # other recipients of the message
    msg, rcpts = rt.store.create_message(
        workspace_id=ws.id,
        user_id=user.id,
        rfc_message_id=f"<{sc.name}@test>",
        sender=m.sender,
        subject=sc.name,
        sent_at=m.sent_at,
        links=[f"https://example.com/{i}" for i in range(m.links)],
        decoy_link=m.links,
        tracking={"opens": True, "clicks": True, "replies": True, "reasons": []},
        outcome={"html": True, "instrumented": True, "failure": None, "notes": []},
        source="python",
        recipients=[
            NewRecipient(sc.recipient, RecipientField.TO, relation),
            *(NewRecipient(f"peer{rid}@peers.example", RecipientField.TO, Relation.EXTERNAL) for rid in peer_ids),
        ],
    )
    rcpt, *others = rcpts
    return ws.id, msg.id, rcpt.id, devices, {rid: o.id for rid, o in zip(peer_ids, others, strict=True)}


async def _replay(rt: Runtime, clock: FakeClock, sc: Scenario, tmp_path: Path) -> list:  # type: ignore[type-arg]
    ws, msg, rcpt, devices, peer_rcpts = _setup(rt, sc)
    intake = Intake(rt.store, tmp_path / "journal", interval=0.01)
    intake.start(asyncio.get_running_loop())
    pipe = Pipeline(rt)
    transport = httpx.ASGITransport(app=create_app(rt, intake, pipe), client=("127.0.0.1", 4000))
    k = rt.keyring
    peers: list[tuple[datetime, int, Hit | Event]] = [(p.at, -1, p) for p in sc.peers]
    timeline: list[tuple[datetime, int, Hit | Event]] = sorted(
        [*((e.at, e.index, e) for e in sc.events), *peers], key=lambda x: (x[0], x[1])
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://t.example.test") as client:
        for _, _, item in timeline:
            if isinstance(item, Hit):  # another recipient's hit of the same message (context only)
                clock.set(item.at)
                peer = peer_rcpts[item.recipient_id]
                headers = {"X-Forwarded-For": item.ip, "User-Agent": item.user_agent, **dict(item.headers)}
                path = f"/o/{k.sign(HitKind.OPEN, ws, msg, peer)}.gif"
                if item.kind is HitKind.CLICK:
                    path = f"/c/{k.sign(HitKind.CLICK, ws, msg, peer, item.link)}"
                r = await client.request(item.method, path, headers=headers)
                assert r.status_code in (200, 302), (path, r.status_code)
                continue
            e = item
            if e.reply_kind is not None:  # a reply found in the sender's mailbox
                clock.set(e.at)
                reply = Reply(msg, rcpt, f"<reply-{e.index}@test>", e.reply_kind, sc.recipient, e.at, source="test")
                assert pipe.record_replies([reply])
            if e.hit is None:
                continue
            h = e.hit
            clock.set(h.at)
            if h.kind is HitKind.SELF_VIEW:
                dev = devices[h.device_id or ""]
                token = k.sign(HitKind.OPEN, ws, msg, rcpt)
                ts = int(h.at.timestamp())
                sig = sign_beacon(device_secret(k, dev), dev, token, ts)
                r = await client.post("/api/v1/self-view", json={"token": token, "device": dev, "ts": ts, "sig": sig})
                assert r.status_code == 204, r.text
                continue
            headers = {"X-Forwarded-For": h.ip, "User-Agent": h.user_agent, **dict(h.headers)}
            if h.device_id:
                headers["Cookie"] = f"{DEVICE_COOKIE}={k.sign_value(DEVICE_COOKIE_PURPOSE, devices[h.device_id])}"
            if h.kind is HitKind.OPEN:
                path = f"/o/{k.sign(HitKind.OPEN, ws, msg, rcpt)}.gif"
            elif h.kind is HitKind.CLICK:
                path = f"/c/{k.sign(HitKind.CLICK, ws, msg, rcpt, h.link)}"
            else:
                path = f"/c/{k.sign(HitKind.DECOY, ws, msg, rcpt)}"
            r = await client.request(h.method, path, headers=headers)
            assert r.status_code in (200, 302), (path, r.status_code)
    await intake.stop()
    pipe.drain()  # provisional verdicts first, as in production
    clock.advance(rt.settings.settle_window + 1)
    pipe.drain()
    return [sv for sv in rt.store.hits_with_verdicts(limit=100_000) if sv.hit.recipient_id == rcpt]


@pytest.mark.parametrize("sc", SCENARIOS, ids=[s.name for s in SCENARIOS])
async def test_scenario_through_http_and_pipeline(sc: Scenario, tmp_path: Path) -> None:
    db = tmp_path / "e2e.db"
    shutil.copyfile(_sqlite_template(tmp_path), db)
    clock = FakeClock(sc.message.sent_at - timedelta(seconds=1))
    rt = Runtime.open(
        make_settings(tmp_path, f"sqlite:///{db}", trusted_proxies="127.0.0.0/8"), clock=clock, migrate=False
    )
    try:
        stored = await _replay(rt, clock, sc, tmp_path)
        expected = run_scenario(sc)
        assert all(sv.settled for sv in stored)
        got = [sv for sv in stored if sv.hit.kind is not HitKind.SELF_VIEW]
        want = [(e, v) for e, v in zip(sc.events, expected.verdicts, strict=True) if v is not None]
        assert len(got) == len(want)
        for sv, (e, v) in zip(got, want, strict=True):
            assert sv.verdict is not None
            assert (sv.verdict.cls, sv.verdict.subtype) == (v.cls, v.subtype), (e.index, sv.verdict, v)
        (counts,) = rt.store.counts([got[0].hit.recipient_id] if got else []).values() or [None]
        if sc.expect_counts is not None and counts is not None:
            # the counters are what eval counts (which equal the labels' counts wherever eval agrees
            # with them: everywhere in the main corpus, see test_eval_corpus)
            for key in sc.expect_counts:
                assert getattr(counts, key) == expected.counts[key], key
    finally:
        rt.close()
