"""End to end over loopback: a person's open through the real tracking endpoint of a running
`mailbeacon serve` reaches a webhook receiver, signed; a scanner's hit sends nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from api_world import World, start_world
from seeding import open_token
from test_pipeline import CHROME
from webhook_receiver import Receiver

PERSON = {"user-agent": CHROME, "accept": "image/avif,image/webp,*/*", "accept-language": "en-GB,en;q=0.9"}
SCANNER = {"user-agent": "python-requests/2.32.3", "accept": "*/*"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    # hits come from loopback: X-Forwarded-For gives each client its own address
    yield from start_world(
        tmp_path_factory.mktemp("hooks-e2e"), webhook_allow_private="true", trusted_proxies="127.0.0.1"
    )


def test_a_counted_open_through_the_tracking_endpoint_reaches_the_receiver(world: World) -> None:
    w = world
    token = open_token(w.rt, w.messages["alice"], "bob@client.example")
    with Receiver() as receiver, w.client("alice") as a:
        hook = a.post("/api/v1/webhooks", json={"url": receiver.url, "events": ["open", "click"]}).json()
        scanned = httpx.get(f"{w.url}/o/{token}.gif", headers={**SCANNER, "x-forwarded-for": "52.5.8.1"})
        opened = httpx.get(f"{w.url}/o/{token}.gif", headers={**PERSON, "x-forwarded-for": "81.2.69.160"})
        assert scanned.status_code == opened.status_code == 200
        (got,) = receiver.wait_for(1)
        body = got.verified(hook["secret"])
        assert body["type"] == "open" and body["data"]["recipient"] == "bob@client.example"
        assert body["data"]["subject"] == "Proposal" and got.webhook_id == body["data"]["event_id"]
        # the scanner's hit came first: had it made an event, its delivery would be in the log already;
        # the worker records the receiver's answer just after the receiver has the request
        deadline = time.monotonic() + 30
        while True:
            log = a.get(f"/api/v1/webhooks/{hook['id']}/deliveries").json()["items"]
            if all(d["state"] != "pending" for d in log) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert [(d["msg_id"], d["state"], d["type"]) for d in log] == [(got.webhook_id, "delivered", "open")]
