"""The JSON API: pairing devices, the signed self-view beacon, messages and their numbers."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from conftest import wait_stored
from mailbeacon.devices import sign_beacon
from mailbeacon.intake import Intake
from mailbeacon.model import HitKind
from mailbeacon.passwords import hash_password
from mailbeacon.pipeline import Pipeline
from mailbeacon.runtime import Runtime
from mailbeacon.web.app import create_app
from mailbeacon.web.tracking import DEVICE_COOKIE
from seeding import PASSWORD, Seeded, open_token, seed_message

BOB = "bob@client.example"


def basic(email: str, password: str = PASSWORD) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{email}:{password}".encode()).decode()}


class Api:
    def __init__(
        self, rt: Runtime, intake: Intake, pipeline: Pipeline, client: httpx.AsyncClient, seeded: Seeded
    ) -> None:
        self.rt, self.intake, self.pipeline, self.client, self.seeded = rt, intake, pipeline, client, seeded

    async def hits(self) -> list:  # type: ignore[type-arg]
        assert await asyncio.to_thread(wait_stored, self.intake)
        return [sv.hit for sv in self.rt.store.hits_with_verdicts()]

    async def pair(self, email: str = "alice@acme.test") -> dict:  # type: ignore[type-arg]
        r = await self.client.post(
            "/api/v1/devices", json={"kind": "extension", "name": "Chrome"}, headers=basic(email)
        )
        assert r.status_code == 201, r.text
        return r.json()  # type: ignore[no-any-return]


@pytest.fixture
async def api(runtime: Runtime, tmp_path: Path) -> AsyncIterator[Api]:
    intake = Intake(runtime.store, tmp_path / "journal", interval=0.01)
    intake.start(asyncio.get_running_loop())
    pipeline = Pipeline(runtime)
    transport = httpx.ASGITransport(app=create_app(runtime, intake, pipeline), client=("192.0.2.1", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://t.example.test") as client:
        yield Api(runtime, intake, pipeline, client, seed_message(runtime))
    await intake.stop()


async def test_healthz(api: Api) -> None:
    stop = asyncio.Event()
    task = api.pipeline.start(stop, asyncio.Event())
    r = await api.client.get("/healthz")
    stop.set()
    await task
    assert r.status_code == 200
    body = r.json()
    assert body["ok"] is True
    assert body["intake"]["store_down"] is False
    assert body["pipeline"]["running"] is True and body["pipeline"]["lag"] == 0.0


async def test_pairing_needs_the_users_credentials(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="mailbeacon")
    r = await api.client.post("/api/v1/devices", json={}, headers=basic("alice@acme.test", "wrong"))
    assert r.status_code == 401
    assert "wrong email or password" in r.json()["error"]
    alice = api.rt.store.user("alice@acme.test")
    assert f"API sign-in failed: wrong password for user {alice.id}" in caplog.messages
    assert "www-authenticate" in r.headers
    assert (await api.client.post("/api/v1/devices", json={})).status_code == 401
    bad = await api.client.post("/api/v1/devices", json={"kind": "toaster"}, headers=basic("alice@acme.test"))
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_request"


async def test_pairing_sets_the_device_cookie_and_lists_and_revokes(api: Api) -> None:
    paired = await api.pair()
    assert paired["device_id"].startswith("dv_") and paired["secret"]
    assert api.client.cookies.get(DEVICE_COOKIE) == paired["cookie"]["value"]
    listed = (await api.client.get("/api/v1/devices", headers=basic("alice@acme.test"))).json()
    assert [d["device_id"] for d in listed] == [paired["device_id"]]
    r = await api.client.delete(f"/api/v1/devices/{paired['device_id']}", headers=basic("alice@acme.test"))
    assert r.status_code == 204
    assert (await api.client.get("/api/v1/devices", headers=basic("alice@acme.test"))).json() == []


async def test_signed_self_view_beacon_records_a_beacon(api: Api) -> None:
    paired = await api.pair()
    api.client.cookies.clear()
    token = open_token(api.rt, api.seeded, BOB)
    ts = int(api.rt.clock().timestamp())
    sig = sign_beacon(paired["secret"], paired["device_id"], token, ts)
    body = {"token": token + ".gif", "device": paired["device_id"], "ts": ts, "sig": sig}
    r = await api.client.post("/api/v1/self-view", json=body)
    assert r.status_code == 204, r.text
    assert r.headers["access-control-allow-origin"] == "*"
    (hit,) = await api.hits()
    assert hit.kind is HitKind.SELF_VIEW
    assert hit.device_id == paired["device_id"]
    assert hit.recipient_id == api.seeded.rcpt(BOB).id


async def test_bad_beacons_are_refused(api: Api) -> None:
    paired = await api.pair()
    api.client.cookies.clear()
    token = open_token(api.rt, api.seeded, BOB)
    ts = int(api.rt.clock().timestamp())
    sig = sign_beacon(paired["secret"], paired["device_id"], token, ts)
    cases = [
        ({"token": token, "device": paired["device_id"], "ts": ts, "sig": sig[:-2] + "AA"}, 401),
        ({"token": token, "device": paired["device_id"], "ts": ts - 3600, "sig": sig}, 401),
        ({"token": "nope", "device": paired["device_id"], "ts": ts, "sig": sig}, 400),
        ({"token": token}, 401),
    ]
    for body, status in cases:
        r = await api.client.post("/api/v1/self-view", json=body)
        assert r.status_code == status, (body, r.text)
    assert (await api.client.post("/api/v1/self-view", content=b"not json")).status_code == 400
    assert await api.hits() == []


async def test_a_device_of_another_user_cannot_claim_self_views(api: Api) -> None:
    other = api.rt.store.create_user(
        api.seeded.workspace.id, "mallory@acme.test", hash_password(PASSWORD), api.rt.clock()
    )
    paired = await api.pair(other.email)
    api.client.cookies.clear()
    token = open_token(api.rt, api.seeded, BOB)
    ts = int(api.rt.clock().timestamp())
    body = {
        "token": token,
        "device": paired["device_id"],
        "ts": ts,
        "sig": sign_beacon(paired["secret"], paired["device_id"], token, ts),
    }
    r = await api.client.post("/api/v1/self-view", json=body)
    assert r.status_code == 401
    assert "not paired with the sender" in r.json()["error"]


async def test_self_view_with_the_dashboard_cookie(api: Api) -> None:
    await api.pair()  # the client keeps the cookie, like a browser
    r = await api.client.post("/api/v1/self-view", json={"token": open_token(api.rt, api.seeded, BOB)})
    assert r.status_code == 204
    (hit,) = await api.hits()
    assert hit.kind is HitKind.SELF_VIEW


async def test_messages_and_their_numbers(api: Api) -> None:
    user = api.seeded.user
    token = "mbt_test_token"
    api.rt.store.add_api_token(user.id, token, "t", api.rt.clock())
    auth = {"Authorization": f"Bearer {token}"}
    assert (await api.client.get("/api/v1/messages")).status_code == 401
    assert (await api.client.get("/api/v1/messages", headers={"Authorization": "Bearer nope"})).status_code == 401
    listed = (await api.client.get("/api/v1/messages", headers=auth)).json()
    assert [m["id"] for m in listed["items"]] == [api.seeded.message.id] and listed["next_cursor"] is None
    one = (await api.client.get(f"/api/v1/messages/{api.seeded.message.id}", headers=auth)).json()
    (rcpt,) = one["recipient_numbers"]
    assert rcpt["address"] == BOB and rcpt["opens"] == 0 and one["numbers"]["machine"]["opens_machine"] == 0
    assert (await api.client.get(f"/api/v1/messages/{api.seeded.message.id}/hits", headers=auth)).json() == []
    assert (await api.client.get("/api/v1/messages/99999", headers=auth)).status_code == 404
    other = api.rt.store.create_user(api.seeded.workspace.id, "dave@acme.test", hash_password(PASSWORD), api.rt.clock())
    api.rt.store.add_api_token(other.id, "mbt_dave", "t", api.rt.clock())
    r = await api.client.get(f"/api/v1/messages/{api.seeded.message.id}", headers={"Authorization": "Bearer mbt_dave"})
    assert r.status_code == 404  # not his message
