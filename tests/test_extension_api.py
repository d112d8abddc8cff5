"""The browser extension's server side: one-time pairing codes (CLI and exchange), whose token
(the device's workspace / its user's message, nothing else), the extension's heartbeat, and the
pixel tokens of its user's own recent mail (which it blocks)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from conftest import FakeClock, Run
from mailbeacon.devices import HEARTBEAT, PAIRING_CODE_LIFETIME, new_pairing_code, sign_beacon
from mailbeacon.intake import Intake
from mailbeacon.model import HitKind
from mailbeacon.passwords import hash_password
from mailbeacon.pipeline import Pipeline
from mailbeacon.runtime import Runtime, load_keyring
from mailbeacon.throttle import Rule, SignInThrottle
from mailbeacon.web.app import create_app
from seeding import PASSWORD, Seeded, open_token, seed_message

BOB = "bob@client.example"


class World:
    def __init__(self, rt: Runtime, client: httpx.AsyncClient, seeded: Seeded) -> None:
        self.rt, self.client, self.seeded = rt, client, seeded

    def code(self, email: str = "alice@acme.test") -> str:
        code = new_pairing_code()
        now = self.rt.clock()
        user = self.rt.store.user(email)
        self.rt.store.add_pairing_code(user.id, code, "extension", "extension", now, now + PAIRING_CODE_LIFETIME)
        return code

    async def pair(self, email: str = "alice@acme.test") -> dict[str, str]:
        r = await self.client.post("/api/v1/devices/pair", json={"code": self.code(email), "name": "Chromium"})
        assert r.status_code == 201, r.text
        self.client.cookies.clear()
        return r.json()  # type: ignore[no-any-return]

    def signed(self, dev: dict[str, str], signed: str, **extra: object) -> dict[str, object]:
        ts = int(self.rt.clock().timestamp())
        return {
            "device": dev["device_id"],
            "ts": ts,
            "sig": sign_beacon(dev["secret"], dev["device_id"], signed, ts),
        } | extra


@pytest.fixture
async def world(runtime: Runtime, tmp_path: Path) -> AsyncIterator[World]:
    intake = Intake(runtime.store, tmp_path / "journal", interval=0.01)
    intake.start(asyncio.get_running_loop())
    transport = httpx.ASGITransport(app=create_app(runtime, intake, Pipeline(runtime)), client=("192.0.2.1", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://t.example.test") as client:
        yield World(runtime, client, seed_message(runtime))
    await intake.stop()


def test_the_cli_prints_a_code_as_its_last_word_and_stores_it_hashed(cli: Run, sqlite_url: str) -> None:
    assert cli("workspace", "add", "acme", "--domain", "acme.test")[0] == 0
    assert cli("user", "add", "alice@acme.test", "--workspace", "acme")[0] == 0
    code, out, err = cli("device", "pair-code", "alice@acme.test")
    assert code == 0, err
    word = out.split()[-1]
    assert len(word) == 14 and word.count("-") == 2, out
    assert "10 minutes" in out and "alice@acme.test" in out
    db = Path(sqlite_url.removeprefix("sqlite:///")).read_bytes()
    assert word.encode() not in db  # only its hash is stored
    assert hashlib.sha256(word.encode()).hexdigest().encode() in db


async def test_a_code_pairs_once(world: World) -> None:
    code = world.code()
    r = await world.client.post("/api/v1/devices/pair", json={"code": code.lower(), "name": "Work Chrome"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["device_id"].startswith("dv_") and body["secret"] and body["user"] == "alice@acme.test"
    assert r.headers["access-control-allow-origin"] == "*"
    (dev,) = world.rt.store.devices(world.seeded.user.id)
    assert (dev.kind, dev.name) == ("extension", "Work Chrome")
    again = await world.client.post("/api/v1/devices/pair", json={"code": code})
    assert again.status_code == 401
    assert "unknown, used or expired" in again.json()["error"]


async def test_an_expired_code_is_refused(world: World) -> None:
    code = world.code()
    assert isinstance(world.rt.clock, FakeClock)
    world.rt.clock.advance(PAIRING_CODE_LIFETIME.total_seconds() + 1)
    r = await world.client.post("/api/v1/devices/pair", json={"code": code})
    assert r.status_code == 401
    assert world.rt.store.devices(world.seeded.user.id) == []


async def test_guessing_codes_is_limited_per_client(world: World) -> None:
    for _ in range(10):
        r = await world.client.post("/api/v1/devices/pair", json={"code": new_pairing_code()})
        assert r.status_code == 401
    r = await world.client.post("/api/v1/devices/pair", json={"code": world.code()})  # even a good one
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) > 0
    assert isinstance(world.rt.clock, FakeClock)
    world.rt.clock.advance(601)
    r = await world.client.post("/api/v1/devices/pair", json={"code": world.code()})
    assert r.status_code == 201


def test_the_pairing_throttle_forgets_the_oldest_clients() -> None:
    clock = FakeClock()
    lim = SignInThrottle(clock, per_client=Rule(limit=2, window=60), max_keys=3)
    for c in ("a", "a", "b", "c", "d"):
        lim.failed("", c)
    assert lim.wait("", "a") == 0  # dropped (least recently used) when "d" came
    lim.failed("", "d")
    assert lim.wait("", "d") == 60
    clock.advance(30)
    assert lim.wait("", "d") == 30


async def test_whose_token_says_workspace_and_sender_and_nothing_else(world: World) -> None:
    rt = world.rt
    alice = await world.pair()
    colleague = rt.store.create_user(world.seeded.workspace.id, "carol@acme.test", hash_password(PASSWORD), rt.clock())
    theirs = seed_message(rt, user=colleague)
    other_ws = rt.store.create_workspace("globex", ["globex.test"], rt.clock())
    stranger = rt.store.create_user(other_ws.id, "eve@globex.test", hash_password(PASSWORD), rt.clock())
    foreign = seed_message(rt, user=stranger)
    cases = [
        (open_token(rt, world.seeded, BOB), {"workspace": True, "sender": True}),
        (open_token(rt, theirs, BOB) + ".gif", {"workspace": True, "sender": False}),
        (open_token(rt, foreign, BOB), {"workspace": False, "sender": False}),
        ("not-a-token", {"workspace": False, "sender": False}),
    ]
    for token, expect in cases:
        r = await world.client.post(
            "/api/v1/self-view/check", json=world.signed(alice, token.removesuffix(".gif"), token=token)
        )
        assert r.status_code == 200, r.text
        assert r.json() == expect
    # unsigned, badly signed, or by an unpaired device: refused
    token = open_token(rt, world.seeded, BOB)
    bad = world.signed(alice, token, token=token) | {"sig": "AAAA"}
    assert (await world.client.post("/api/v1/self-view/check", json=bad)).status_code == 401
    assert (await world.client.post("/api/v1/self-view/check", json={"token": token})).status_code == 401
    rt.store.revoke_device(alice["device_id"], rt.clock())
    r = await world.client.post("/api/v1/self-view/check", json=world.signed(alice, token, token=token))
    assert r.status_code == 401 and "unpaired" in r.json()["error"]


async def test_the_heartbeat_is_stored_on_the_device(world: World) -> None:
    rt = world.rt
    dev = await world.pair()
    acted = int(rt.clock().timestamp()) - 3 * 86400
    body = world.signed(dev, HEARTBEAT, sites=["mail.google.com", "Outlook.Office.com", "*"], last_acted=acted)
    r = await world.client.post("/api/v1/devices/heartbeat", json=body)
    assert r.status_code == 204, r.text
    d = rt.store.device(dev["device_id"])
    assert d.sites == ("*", "mail.google.com", "outlook.office.com")
    assert d.reported_at == rt.clock() and d.last_seen_at == rt.clock()
    assert d.last_acted_at is not None and rt.clock() - d.last_acted_at == timedelta(days=3)
    # signed over another word, or with sites that are not host names: refused, nothing changed
    assert (
        await world.client.post("/api/v1/devices/heartbeat", json=world.signed(dev, "x", sites=[]))
    ).status_code == 401
    r = await world.client.post("/api/v1/devices/heartbeat", json=world.signed(dev, HEARTBEAT, sites=["<script>"]))
    assert r.status_code == 400
    assert rt.store.device(dev["device_id"]).sites == ("*", "mail.google.com", "outlook.office.com")
    # the why answer's facts carry it; "last seen" there is the last beacon (heartbeats do not count)
    msg = world.seeded.message
    facts = rt.store.why_facts(msg, world.seeded.rcpt(BOB), public_url=rt.public_url, settle_window=120)
    (fact,) = facts.devices
    assert fact.sites == ("*", "mail.google.com", "outlook.office.com")
    assert fact.last_seen_at == rt.clock() - timedelta(days=3)


async def test_a_beacon_marks_when_the_device_last_acted(world: World) -> None:
    rt = world.rt
    dev = await world.pair()
    assert rt.store.device(dev["device_id"]).last_acted_at is None
    token = open_token(rt, world.seeded, BOB)
    r = await world.client.post("/api/v1/self-view", json=world.signed(dev, token, token=token))
    assert r.status_code == 204, r.text
    assert rt.store.device(dev["device_id"]).last_acted_at == rt.clock()


def _bearer(dev: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {dev['token']}"}


async def test_a_device_gets_the_pixel_tokens_of_its_users_own_recent_mail_only(world: World) -> None:
    rt = world.rt
    assert isinstance(rt.clock, FakeClock)
    old = world.seeded  # alice's, to BOB, 31 days before the rest
    rt.clock.advance(31 * 86400)
    recent = seed_message(rt, (BOB, "dan@client.example"), user=old.user)
    colleague = rt.store.create_user(old.workspace.id, "carol@acme.test", hash_password(PASSWORD), rt.clock())
    theirs = seed_message(rt, user=colleague)  # a colleague's mail is not alice's own (R6)
    other_ws = rt.store.create_workspace("globex", ["globex.test"], rt.clock())
    eve = rt.store.create_user(other_ws.id, "eve@globex.test", hash_password(PASSWORD), rt.clock())
    foreign = seed_message(rt, user=eve)
    alice, carol, eve_dev = await world.pair(), await world.pair("carol@acme.test"), await world.pair("eve@globex.test")

    assert rt.store.user("alice@acme.test").is_admin  # the workspace's first user: still only her own mail
    r = await world.client.get("/api/v1/devices/me/own-pixels", headers=_bearer(alice))
    assert r.status_code == 200, r.text
    body = r.json()
    assert [p["token"] for p in body["pixels"]] == [
        open_token(rt, recent, BOB),
        open_token(rt, recent, "dan@client.example"),
    ]
    assert {p["message_id"] for p in body["pixels"]} == {recent.message.id}
    assert body["keep_days"] == 30 and body["cursor"] == str(recent.message.id)
    # with the cursor: only what was sent since
    r = await world.client.get(f"/api/v1/devices/me/own-pixels?since={body['cursor']}", headers=_bearer(alice))
    assert r.json()["pixels"] == [] and r.json()["cursor"] == body["cursor"]
    later = seed_message(rt, user=old.user)
    r = await world.client.get(f"/api/v1/devices/me/own-pixels?since={body['cursor']}", headers=_bearer(alice))
    assert [p["token"] for p in r.json()["pixels"]] == [open_token(rt, later, BOB)]
    # a colleague's device: their own mail
    r = await world.client.get("/api/v1/devices/me/own-pixels", headers=_bearer(carol))
    assert [p["token"] for p in r.json()["pixels"]] == [open_token(rt, theirs, BOB)]
    # another workspace's device, even with alice's cursor: its own, never alice's
    r = await world.client.get("/api/v1/devices/me/own-pixels?since=0", headers=_bearer(eve_dev))
    assert [p["token"] for p in r.json()["pixels"]] == [open_token(rt, foreign, BOB)]
    # the user's API key gets the same; without credentials: 401; a bad cursor is a 422, not a 500
    rt.store.add_api_token(old.user.id, "mbt_alice", "t", rt.clock())
    r = await world.client.get("/api/v1/devices/me/own-pixels", headers={"Authorization": "Bearer mbt_alice"})
    assert [p["token"] for p in r.json()["pixels"]] == [
        open_token(rt, later, BOB),
        *(p["token"] for p in body["pixels"]),
    ]
    assert (await world.client.get("/api/v1/devices/me/own-pixels")).status_code == 401
    r = await world.client.get("/api/v1/devices/me/own-pixels?since=-1", headers=_bearer(alice))
    assert r.status_code == 422
    rt.store.revoke_device(alice["device_id"], rt.clock())
    assert (await world.client.get("/api/v1/devices/me/own-pixels", headers=_bearer(alice))).status_code == 401


async def test_after_a_key_rotation_each_pixel_comes_with_every_key_that_may_have_signed_it(world: World) -> None:
    rt = world.rt
    before = open_token(rt, world.seeded, BOB)  # what the email carries: the key of its day
    rt.add_signing_key()
    rt.keyring, _ = load_keyring(rt.settings, rt.store, rt.clock)  # as after the next start
    after = open_token(rt, world.seeded, BOB)
    assert after != before
    dev = await world.pair()
    r = await world.client.get("/api/v1/devices/me/own-pixels", headers=_bearer(dev))
    assert [p["token"] for p in r.json()["pixels"]] == [after, before]
    assert {rt.keyring.verify(t).kind for t in (after, before)} == {HitKind.OPEN}


def test_the_own_pixels_view_is_the_users_own_on_both_databases(any_runtime: Runtime) -> None:
    rt = any_runtime
    mine = seed_message(rt, (BOB, "dan@client.example"))
    colleague = rt.store.create_user(mine.workspace.id, "carol@acme.test", hash_password(PASSWORD), rt.clock())
    seed_message(rt, user=colleague)
    newer = seed_message(rt, user=mine.user)
    view = rt.store.scoped(mine.workspace.id, mine.user.id, whole_workspace=True)
    since = rt.clock() - timedelta(days=1)
    got = [(p.message_id, p.recipient_id) for p in view.own_pixels(sent_after=since, after_id=0, limit=10)]
    assert got == [(newer.message.id, newer.recipients[0].id)] + [(mine.message.id, r.id) for r in mine.recipients]
    assert len(view.own_pixels(sent_after=since, after_id=0, limit=2)) == 2
    assert view.own_pixels(sent_after=since, after_id=newer.message.id, limit=10) == []
    assert view.own_pixels(sent_after=rt.clock(), after_id=0, limit=10) == []
