"""`POST /api/v1/inbound`: raw messages from an MTA or a provider's inbound webhook."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from conftest import CORPUS
from mailbeacon.intake import Intake
from mailbeacon.pipeline import Pipeline
from mailbeacon.runtime import Runtime
from mailbeacon.stats import Counts
from mailbeacon.web.app import create_app
from seeding import PASSWORD, Seeded, seed_account, seed_message

EML = CORPUS / "eml"


def basic(email: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{email}:{PASSWORD}".encode()).decode()}


@pytest.fixture
async def client(runtime: Runtime, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    intake = Intake(runtime.store, tmp_path / "journal", interval=0.01)
    intake.start(asyncio.get_running_loop())
    transport = httpx.ASGITransport(app=create_app(runtime, intake, Pipeline(runtime)), client=("192.0.2.1", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://t.example.test") as c:
        yield c
    await intake.stop()


def bounce_for(s: Seeded) -> bytes:
    raw = (EML / "bounces/sisimai-sendmail-01.eml").read_bytes()
    return raw.replace(b"<E1C50F1B-1C83-4820-BC36-AC6FBFBE8568@example.org>", s.message.rfc_message_id.encode())


def reply_for(s: Seeded) -> bytes:
    raw = (EML / "replies/talon-hotmail-reply.eml").read_bytes()
    return b"In-Reply-To: " + s.message.rfc_message_id.encode() + b"\n" + raw


async def test_inbound_records_once_and_counts(client: httpx.AsyncClient, runtime: Runtime) -> None:
    s = seed_message(runtime, ["userunknown@bouncehammer.jp", "xxx@hotmail.com"])
    r = await client.post("/api/v1/inbound", content=bounce_for(s), headers=basic("alice@acme.test"))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["machine_kind"] == "bounce" and body["matched"] is True
    (rep,) = body["replies"]
    assert (rep["kind"], rep["new"], rep["detail"]["status"]) == ("bounce", True, "5.1.1")
    assert rep["recipient"] == s.rcpt("userunknown@bouncehammer.jp").id

    again = await client.post("/api/v1/inbound", content=bounce_for(s), headers=basic("alice@acme.test"))
    assert again.status_code == 200 and again.json()["replies"][0]["new"] is False

    r = await client.post("/api/v1/inbound", content=reply_for(s), headers=basic("alice@acme.test"))
    assert r.status_code == 201 and r.json()["replies"][0]["kind"] == "reply"
    counts = runtime.store.counts([x.id for x in s.recipients])
    assert counts[s.rcpt("userunknown@bouncehammer.jp").id].bounces == 1
    hotmail = counts.get(s.rcpt("xxx@hotmail.com").id, Counts())
    assert (hotmail.replies, hotmail.opens) == (1, 1)  # a human reply proves an open (R5)
    assert {x.source for x in runtime.store.replies(message_id=s.message.id)} == {"api"}


async def test_inbound_needs_authentication_and_a_body(client: httpx.AsyncClient, runtime: Runtime) -> None:
    s = seed_message(runtime)
    r = await client.post("/api/v1/inbound", content=reply_for(s))
    assert r.status_code == 401
    r = await client.post("/api/v1/inbound", content=b"  ", headers=basic("alice@acme.test"))
    assert r.status_code == 400 and "raw message" in r.json()["error"]


async def test_inbound_sees_only_the_callers_mail(client: httpx.AsyncClient, runtime: Runtime) -> None:
    s = seed_message(runtime, ["xxx@hotmail.com"])
    seed_account(runtime, "other@acme.test")
    r = await client.post("/api/v1/inbound", content=reply_for(s), headers=basic("other@acme.test"))
    assert r.status_code == 200 and r.json()["matched"] is False
    unrelated = (EML / "alt/anymail-sample-email.eml").read_bytes()
    r = await client.post("/api/v1/inbound", content=unrelated, headers=basic("alice@acme.test"))
    assert r.status_code == 200 and r.json() == {
        "message_id": r.json()["message_id"],
        "machine_kind": None,
        "matched": False,
        "reasons": [],
        "replies": [],
    }
    assert runtime.store.replies(message_id=s.message.id) == []
