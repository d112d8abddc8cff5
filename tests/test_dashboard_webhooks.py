"""Webhooks on the settings page over real HTTP (a running `mailbeacon serve` whose operator allows
receivers on this machine): add one (its secret shown once), a test event to a real receiver, the
delivery log, enable again, remove — each change with the CSRF token, admins only, visible in the API."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from api_world import World, start_world
from test_dashboard import signed_in
from test_dashboard_settings import ALICE, CAROL, post, says
from webhook_receiver import Receiver, receiving


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from start_world(tmp_path_factory.mktemp("settings-webhooks"), webhook_allow_private="true")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from receiving()


def test_a_webhook_is_added_tested_logged_and_removed(world: World, receiver: Receiver) -> None:
    with signed_in(world, ALICE) as browser:
        bad = post(browser, "/app/settings/webhooks", {"url": "ftp://crm.example/hooks"})
        assert bad.status_code == 400
        assert '<div class="notice notice-error" role="alert">' in bad.text and "Traceback" not in bad.text
        odd = post(browser, "/app/settings/webhooks", {"url": receiver.url, "events": "everything"})
        assert odd.status_code == 400
        says(odd, "Events: choose among the event types listed.")
        token = re.search(r'name="csrf" value="([^"]+)"', browser.get("/app/settings").text)
        assert token
        made = browser.post(
            "/app/settings/webhooks",
            data={"csrf": token.group(1), "url": receiver.url, "events": ["open", "reply"], "description": "CRM"},
        )
        assert made.status_code == 200, made.text
        says(made, "Copy its signing secret now: it is shown only this once.")
        secret = re.search(r'<code class="secret" id="new-secret">(whsec_[^<]+)</code>', made.text)
        assert secret, made.text
        with world.client("alice") as api:
            (hook,) = [h for h in api.get("/api/v1/webhooks").json() if h["url"] == receiver.url]
        assert hook["events"] == ["open", "reply"] and hook["description"] == "CRM"
        assert secret.group(1) not in browser.get("/app/settings").text

        tested = post(browser, f"/app/settings/webhooks/{hook['id']}/test")
        says(tested, "The test event was delivered (the receiver answered HTTP 200).")
        (got,) = receiver.wait_for(1)
        assert got.verified(secret.group(1))["type"] == "test"
        log = browser.get(f"/app/settings/webhooks/{hook['id']}")
        assert log.status_code == 200 and "HTTP 200" in log.text and got.webhook_id in log.text
        assert 'box-connected">delivered<' in log.text

        unreachable = world.webhook  # the world's own, on a closed port
        failed = post(browser, f"/app/settings/webhooks/{unreachable}/test")
        says(failed, "The test event was not delivered:")

        with signed_in(world, CAROL) as member:  # a member may look, not change
            page = member.get("/app/settings").text
            assert receiver.url in page and f'action="/app/settings/webhooks/{hook["id"]}/test"' not in page
            assert member.get(f"/app/settings/webhooks/{hook['id']}").status_code == 200
            for path in ("test", "remove", "enable"):
                refused = post(member, f"/app/settings/webhooks/{hook['id']}/{path}")
                assert refused.status_code == 403, path
            refused = post(member, "/app/settings/webhooks", {"url": receiver.url})
            assert refused.status_code == 403
        no_token = browser.post(f"/app/settings/webhooks/{hook['id']}/remove", data={})
        assert no_token.status_code == 403

        with world.client("alice") as api:
            api.patch(f"/api/v1/webhooks/{hook['id']}", json={"enabled": False})
        page = browser.get("/app/settings").text
        assert f'action="/app/settings/webhooks/{hook["id"]}/enable"' in page
        enabled = post(browser, f"/app/settings/webhooks/{hook['id']}/enable")
        says(enabled, "is enabled again.")
        removed = post(browser, f"/app/settings/webhooks/{hook['id']}/remove")
        says(removed, "The webhook is removed, with its delivery log.")
        gone = browser.get(f"/app/settings/webhooks/{hook['id']}")
        assert gone.status_code == 404 and "No webhook" in gone.text
        assert browser.get(f"/app/settings/webhooks/{2**40}").status_code == 404
    with world.client("alice") as api:
        assert receiver.url not in [h["url"] for h in api.get("/api/v1/webhooks").json()]
    assert httpx.get(f"{world.url}/app/settings/webhooks/1").status_code == 303  # signed out: the sign-in
