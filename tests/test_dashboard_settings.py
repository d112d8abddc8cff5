"""The settings and charts pages over real HTTP (a running `mailbeacon serve`): every change is a
form post that needs the session's CSRF token, members cannot change the workspace, and what a
change did is visible afterwards through REST API v1."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
from pydantic import BaseModel, ValidationError

from api_world import World, start_world
from mailbeacon.web.dashboard.settings_forms import validation_sentence
from serving import free_port
from test_dashboard import signed_in
from test_imap import PASSWORD as IMAP_PASSWORD
from test_imap import USER as IMAP_USER
from test_imap import Dovecot
from test_imap import dovecot as dovecot  # the fixture

ALICE, CAROL = "alice@acme.test", "carol@acme.test"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from start_world(tmp_path_factory.mktemp("settings"))


def token_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def post(browser: httpx.Client, path: str, data: dict[str, str] | None = None) -> httpx.Response:
    """Post a settings form as the page would, with the session's CSRF token."""
    token = token_of(browser.get("/app/settings").text)
    return browser.post(path, data={"csrf": token, **(data or {})})


def says(r: httpx.Response, text: str) -> None:
    """The answer is the page, in words: no traceback, no raw JSON."""
    assert r.headers["content-type"].startswith("text/html"), r.text
    assert text in r.text, r.text
    assert "Traceback" not in r.text and '"detail":' not in r.text


CHANGES = [
    "/app/settings/tracking/workspace",
    "/app/settings/tracking/me",
    "/app/settings/workspace",
    "/app/settings/members/1/role",
    "/app/settings/devices/pairing-code",
    "/app/settings/devices/dv_x/revoke",
    "/app/settings/mailboxes",
    "/app/settings/mailboxes/1/test",
    "/app/settings/mailboxes/1/remove",
    "/app/settings/keys",
    "/app/settings/keys/1/revoke",
]


def _state(world: World) -> tuple[object, ...]:
    """What the refused posts would have changed (not the times the server itself keeps moving)."""
    with world.client("alice") as api:
        keys = [(k["id"], k["name"]) for k in api.get("/api/v1/keys").json()]
        boxes = [(b["id"], b["url"]) for b in api.get("/api/v1/mailboxes").json()]
        devices = [d["device_id"] for d in api.get("/api/v1/devices").json()]
        members = api.get("/api/v1/workspace/members").json()
        return api.get("/api/v1/workspace").json(), keys, boxes, devices, members


def test_every_change_is_refused_without_the_sessions_csrf_token(world: World) -> None:
    with signed_in(world, ALICE) as browser:
        before = _state(world)
        for path in CHANGES:
            for data in ({}, {"csrf": "forged"}, {"csrf": token_of(browser.get("/app/settings").text) + "x"}):
                r = browser.post(path, data={**data, "track_opens": "off", "name": "k", "role": "member"})
                assert r.status_code == 403, (path, r.text)
                says(r, "security token")
        assert _state(world) == before
    anonymous = httpx.post(f"{world.url}/app/settings/keys", data={"name": "x"})
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/signin")


def test_the_page_shows_an_admin_the_workspace_and_a_member_only_their_own(world: World) -> None:
    with signed_in(world, ALICE) as browser:
        page = browser.get("/app/settings")
        assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
        for section in ("Tracking", "Members", "Paired devices", "Mailboxes", "API keys"):
            assert f">{section}</h2>" in page.text
        assert 'action="/app/settings/tracking/workspace"' in page.text and CAROL in page.text
        assert 'href="/app/static/settings.css"' in page.text and "<script>" not in page.text
    with signed_in(world, CAROL) as member:
        page = member.get("/app/settings")
        assert page.status_code == 200
        assert 'action="/app/settings/tracking/workspace"' not in page.text
        assert 'action="/app/settings/workspace"' not in page.text and ">Members</h2>" not in page.text
        assert "An admin of the workspace can change these." in page.text
        assert "imaps://alice@127.0.0.1:9" not in page.text  # alice's mailbox is not hers


def test_tracking_switches_of_the_workspace_and_of_a_user(world: World) -> None:
    with signed_in(world, ALICE) as browser:
        r = post(
            browser,
            "/app/settings/tracking/workspace",
            {"track_opens": "off", "track_clicks": "on", "track_replies": "default"},
        )
        assert r.status_code == 200
        says(r, "The workspace&#39;s tracking switches are saved.")
        assert '<option value="off" selected>Off</option>' in r.text
    with world.client("alice") as api:
        assert api.get("/api/v1/workspace").json()["tracking"] == {
            "track_opens": False,
            "track_clicks": True,
            "track_replies": None,
        }
    with signed_in(world, CAROL) as member:
        refused = post(member, "/app/settings/tracking/workspace", {"track_opens": "on"})
        assert refused.status_code == 403
        says(refused, "Only an admin of the workspace can do this.")
        mine = post(member, "/app/settings/tracking/me", {"track_clicks": "off", "track_opens": "workspace"})
        assert mine.status_code == 200
        says(mine, "Your tracking switches are saved: clicks off.")
        assert "off for the workspace" in mine.text  # opens: the workspace switched them off
    with world.client("carol") as api:
        assert api.get("/api/v1/me").json()["user"]["tracking"]["track_clicks"] is False
    with world.client("alice") as api:
        assert api.get("/api/v1/workspace").json()["tracking"]["track_opens"] is False  # carol changed nothing
        api.patch("/api/v1/workspace", json={"tracking": {"track_opens": None, "track_clicks": None}})
    with world.client("carol") as api:
        api.patch("/api/v1/me/tracking", json={"track_clicks": None})


def test_workspace_domains_and_member_roles(world: World) -> None:
    with signed_in(world, ALICE) as browser:
        r = post(
            browser,
            "/app/settings/workspace",
            {"domains": "acme.test\nacme-mail.test", "tracking_url": "https://t.acme.test/"},
        )
        says(r, "The workspace&#39;s domains and tracking address are saved.")
        bad = post(browser, "/app/settings/workspace", {"domains": "not a domain", "tracking_url": ""})
        assert bad.status_code == 400
        says(bad, "Domains: a domain looks like acme.example (one per line).")
        promoted = post(browser, f"/app/settings/members/{world.users['carol']}/role", {"role": "admin"})
        says(promoted, "carol@acme.test is now an admin.")
        demoted = post(browser, f"/app/settings/members/{world.users['carol']}/role", {"role": "member"})
        says(demoted, "carol@acme.test is now a member.")
        last = post(browser, f"/app/settings/members/{world.users['alice']}/role", {"role": "member"})
        assert last.status_code == 409
        says(last, "The workspace needs an admin: make someone else admin first.")
        stranger = post(browser, f"/app/settings/members/{world.users['bert']}/role", {"role": "member"})
        assert stranger.status_code == 404  # another workspace's user is not found
        says(stranger, "No member")
        nonsense = post(browser, f"/app/settings/members/{world.users['carol']}/role", {"role": "owner"})
        assert nonsense.status_code == 400
        says(nonsense, "Role: choose admin or member.")
    with world.client("alice") as api:
        ws = api.get("/api/v1/workspace").json()
        assert sorted(ws["domains"]) == ["acme-mail.test", "acme.test"] and ws["tracking_url"] == "https://t.acme.test"
        roles = {m["email"]: m["role"] for m in api.get("/api/v1/workspace/members").json()}
        assert roles == {ALICE: "admin", CAROL: "member"}
        api.patch("/api/v1/workspace", json={"domains": ["acme.test"], "tracking_url": ""})
    with signed_in(world, CAROL) as member:
        refused = post(member, "/app/settings/workspace", {"domains": "evil.example"})
        assert refused.status_code == 403
        refused = post(member, f"/app/settings/members/{world.users['carol']}/role", {"role": "admin"})
        assert refused.status_code == 403
    with world.client("alice") as api:
        assert api.get("/api/v1/workspace").json()["domains"] == ["acme.test"]


def test_a_pairing_code_pairs_a_device_that_can_be_unpaired(world: World) -> None:
    with signed_in(world, ALICE) as browser:
        r = post(browser, "/app/settings/devices/pairing-code", {"name": "Work laptop"})
        assert r.status_code == 200
        code = re.search(r'<output id="pair-code">([^<]+)</output>', r.text)
        assert code, r.text
        assert "It works once, until" in r.text and "(10 minutes)" in r.text
        paired = httpx.post(f"{world.url}/api/v1/devices/pair", json={"code": code.group(1), "name": "Work laptop"})
        assert paired.status_code == 201, paired.text
        device = paired.json()["device_id"]
        page = browser.get("/app/settings").text
        assert f'action="/app/settings/devices/{device}/revoke"' in page and "this browser" in page
        gone = post(browser, f"/app/settings/devices/{device}/revoke")
        says(gone, "The device is unpaired")
        again = post(browser, f"/app/settings/devices/{device}/revoke")
        assert again.status_code == 404
        says(again, "No paired device")
        for odd in ("..%2F..%2Fx", "dv.x", "x" * 41):
            refused = post(browser, f"/app/settings/devices/{odd}/revoke")
            assert refused.status_code == 404, odd
    with world.client("alice") as api:
        assert device not in [d["device_id"] for d in api.get("/api/v1/devices").json()]


def test_mailboxes_are_added_tested_and_removed(world: World) -> None:
    closed = free_port()  # nothing listens there
    url = f"imap://alice@127.0.0.1:{closed}"
    with signed_in(world, ALICE) as browser:
        bad = post(browser, "/app/settings/mailboxes", {"imap": "https://mail.example", "password": "x"})
        assert bad.status_code == 400
        says(bad, "Imap: give the mailbox as imaps://user@imap.example.com:993")
        no_password = post(browser, "/app/settings/mailboxes", {"imap": url, "password": ""})
        says(no_password, "Password: give the mailbox&#39;s password.")
        added = post(browser, "/app/settings/mailboxes", {"imap": url, "password": "secret", "folders": "INBOX, Sent"})
        assert added.status_code == 200
        says(added, f"Mailbox {url} added")
        with world.client("alice") as api:
            (box,) = [b for b in api.get("/api/v1/mailboxes").json() if b["url"] == url]
        assert box["folders"] == ["INBOX", "Sent"]
        tested = post(browser, f"/app/settings/mailboxes/{box['id']}/test")
        assert tested.status_code >= 400
        assert '<div class="notice notice-error" role="alert"><strong>Not saved.</strong>' in tested.text
        assert "Traceback" not in tested.text and 'box-error">error<' in tested.text
        with world.client("alice") as api:
            checked = api.get(f"/api/v1/mailboxes/{box['id']}").json()
        assert checked["state"] == "error" and checked["last_error"]
        with signed_in(world, CAROL) as member:
            hidden = post(member, f"/app/settings/mailboxes/{box['id']}/remove")
            assert hidden.status_code == 404
            says(hidden, "No mailbox")
        removed = post(browser, f"/app/settings/mailboxes/{box['id']}/remove")
        says(removed, "The mailbox is no longer watched")
        huge = post(browser, f"/app/settings/mailboxes/{2**70}/remove")
        assert huge.status_code == 404
    with world.client("alice") as api:
        assert url not in [b["url"] for b in api.get("/api/v1/mailboxes").json()]


def test_an_api_key_is_shown_once_works_and_is_revoked(world: World) -> None:
    with signed_in(world, CAROL) as browser:
        made = post(browser, "/app/settings/keys", {"name": "CRM export"})
        says(made, "Copy it now: it is shown only this once.")
        key = re.search(r'<code class="secret" id="new-key">([^<]+)</code>', made.text)
        assert key, made.text
        me = httpx.get(f"{world.url}/api/v1/me", headers={"Authorization": f"Bearer {key.group(1)}"})
        assert me.status_code == 200 and me.json()["user"]["email"] == CAROL
        page = browser.get("/app/settings").text
        assert key.group(1) not in page and "CRM export" in page
        key_id = re.search(
            r'action="/app/settings/keys/(\d+)/revoke">\s*<input type="hidden" name="csrf" value="[^"]+"><button class="danger">Revoke<span class="sr"> key CRM export',
            page,
        )
        assert key_id, page
        revoked = post(browser, f"/app/settings/keys/{key_id.group(1)}/revoke")
        says(revoked, "The API key is revoked")
        long_name = post(browser, "/app/settings/keys", {"name": "x" * 300})
        assert long_name.status_code == 400
        says(long_name, "Name: give a name of at most 200 characters.")
    refused = httpx.get(f"{world.url}/api/v1/me", headers={"Authorization": f"Bearer {key.group(1)}"})
    assert refused.status_code == 401


def test_the_charts_page_and_its_numbers(world: World) -> None:
    with signed_in(world, ALICE) as browser:
        page = browser.get("/app/charts?days=7")
        assert page.status_code == 200 and "<h1>Charts</h1>" in page.text
        assert 'data-src="/app/charts/data?days=7"' in page.text and "<script>" not in page.text
        assert 'src="/app/static/vendor/uPlot-1.6.32.iife.min.js"' in page.text
        data = browser.get("/app/charts/data?days=7")
        assert data.status_code == 200 and data.headers["content-type"] == "application/json"
        numbers = data.json()
        assert numbers["days"] == 7 and len(numbers["activity"]["days"]) == 7
        assert [r["label"] for r in numbers["rates"]] == [ALICE, CAROL, "Whole workspace"]
        assert numbers["rates"][-1]["recipients"] == 2  # alice's bob, carol's dan; not bert's erin
        assert browser.get("/app/charts/data?days=5000").json()["days"] == 30  # only the offered periods
        for name in ("uPlot-1.6.32.iife.min.js", "uPlot-1.6.32.min.css", "uPlot-LICENSE.txt"):
            assert browser.get(f"/app/static/vendor/{name}").status_code == 200
        assert browser.get("/app/static/charts.js").status_code == 200
    with signed_in(world, CAROL) as member:
        rows = member.get("/app/charts/data").json()["rates"]
        assert [r["label"] for r in rows] == [CAROL, "All your emails"] and rows[0]["recipients"] == 1
    anonymous = httpx.get(f"{world.url}/app/charts/data")
    assert anonymous.status_code == 401 and anonymous.json()["status"] == 401


def test_test_now_reaches_a_real_imap_server_and_says_what_it_found(world: World, dovecot: Dovecot) -> None:
    dovecot.append(
        b"From: x@client.example\r\nSubject: hi\r\nMessage-ID: <1@client.example>\r\n\r\nhi\r\n", world.rt.clock()
    )
    good = f"imap://{quote(IMAP_USER, safe='')}@127.0.0.1:{dovecot.port}"
    unknown = f"imap://nobody%40acme.test@127.0.0.1:{dovecot.port}"
    with signed_in(world, ALICE) as browser:
        says(post(browser, "/app/settings/mailboxes", {"imap": good, "password": IMAP_PASSWORD}), "added")
        says(post(browser, "/app/settings/mailboxes", {"imap": unknown, "password": "wrong"}), "added")
        with world.client("alice") as api:
            boxes = {b["url"]: b["id"] for b in api.get("/api/v1/mailboxes").json() if str(dovecot.port) in b["url"]}
        assert len(boxes) == 2, boxes
        (good_id,) = [i for u, i in boxes.items() if "nobody" not in u]
        (unknown_id,) = [i for u, i in boxes.items() if "nobody" in u]
        refused = post(browser, f"/app/settings/mailboxes/{unknown_id}/test")
        assert refused.status_code >= 400
        says(refused, "refused the login")
        ok = post(browser, f"/app/settings/mailboxes/{good_id}/test")
        assert ok.status_code == 200, ok.text
        says(ok, "The mailbox answered: 1 messages looked at, 0 replies or bounces recorded.")
        with world.client("alice") as api:
            assert api.get(f"/api/v1/mailboxes/{good_id}").json()["last_ok_at"] is not None
            for i in boxes.values():
                api.delete(f"/api/v1/mailboxes/{i}")


def test_a_field_without_a_hint_still_gets_a_sentence() -> None:
    class Other(BaseModel):
        colour: int

    with pytest.raises(ValidationError) as got:
        Other.model_validate({"colour": "red"})
    assert validation_sentence(got.value) == "Some of what was entered is not valid: check the form and try again."
