"""REST API v1 over real HTTP on loopback (the running `mailbeacon serve`): workspace isolation over
every route of the served OpenAPI document, roles, API keys, pairing codes, problem details."""

from __future__ import annotations

import base64
import importlib
import json
import pkgutil
import re
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest

import mailbeacon
from api_world import World, start_world
from conftest import FakeClock, make_settings
from mailbeacon import errors
from mailbeacon.intake import Intake
from mailbeacon.pipeline import Pipeline
from mailbeacon.runtime import Runtime
from mailbeacon.web.app import create_app
from mailbeacon.web.principal import SELF_AUTHENTICATED
from mailbeacon.web.problems import STATUS, status_of
from seeding import PASSWORD, open_token, seed_account
from serving import free_port


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from start_world(tmp_path_factory.mktemp("rest"))


def served_operations(w: World) -> list[tuple[str, str, dict[str, Any]]]:
    doc = httpx.get(f"{w.url}/api/v1/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    return [(path, method, op) for path, ops in doc["paths"].items() for method, op in ops.items()]


def _mail(sender: str, to: str) -> str:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, "Offer"
    msg.set_content("See https://example.com/offer")
    msg.add_alternative(
        '<html><body><p>See <a href="https://example.com/offer">the offer</a></p></body></html>', subtype="html"
    )
    return base64.b64encode(msg.as_bytes()).decode()


def _reply_to(rfc_id: str) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "bob@client.example", "alice@acme.test", "Re: Proposal"
    msg["Message-ID"], msg["In-Reply-To"], msg["References"] = "<walk-reply@client.example>", rfc_id, rfc_id
    msg.set_content("Sounds good.")
    return msg.as_bytes()


#: a body that passes validation, per operation (so that the walk reaches the handler)
BODIES: dict[tuple[str, str], Any] = {
    ("post", "/api/v1/keys"): {"name": "walk"},
    ("post", "/api/v1/messages"): {"raw": _mail("bert@beta.test", "hal@client.example")},
    ("post", "/api/v1/devices"): {"kind": "other", "name": "walk"},
    ("post", "/api/v1/devices/pairing-codes"): {"kind": "other"},
    ("post", "/api/v1/devices/pair"): {"code": "NOPE-NOPE-NOPE"},
    ("patch", "/api/v1/workspace"): {"domains": ["beta.test"], "tracking": {"track_clicks": True}},
    ("patch", "/api/v1/workspace/members/{user_id}"): {"role": "member", "tracking": {"track_opens": False}},
    ("patch", "/api/v1/me/tracking"): {"track_opens": True},
    ("post", "/api/v1/mailboxes"): {"imap": "imaps://bert@127.0.0.1:9", "password": "x"},
    ("put", "/api/v1/providers"): {"provider": "mailgun", "signing_key": "walk"},
    ("delete", "/api/v1/providers"): {"provider": "mailgun"},
    ("post", "/api/v1/webhooks"): {"url": "http://127.0.0.1:9/bert-hooks", "events": ["reply"]},
    ("patch", "/api/v1/webhooks/{webhook_id}"): {"description": "walk", "enabled": False},
}


def a_snapshot(w: World) -> str:
    """Everything of workspace A, read from the database (not through the API)."""
    s = w.rt.store
    ws = s.workspace("a")
    users = s.users(ws.id)
    state: dict[str, Any] = {
        "workspace": [ws.name, list(ws.domains), dict(ws.settings)],
        "users": [[u.id, u.email, u.role, dict(u.settings), list(u.addresses)] for u in users],
        "keys": [[k.id, k.name] for u in users for k in s.api_tokens(u.id)],
        "devices": [
            [d.public_id, d.kind, str(d.revoked_at)] for u in users for d in s.devices(u.id, include_revoked=True)
        ],
        "messages": [[m.id, m.subject, m.user_id] for m in s.messages(workspace_id=ws.id)],
        "recipients": [[r.id, r.address] for m in s.messages(workspace_id=ws.id) for r in s.recipients(m.id)],
        "webhooks": [[h.id, h.url, h.enabled, h.description, list(h.kinds)] for h in s.webhooks(ws.id)],
        "deliveries": [[d.id, d.state] for h in s.webhooks(ws.id) for d in s.deliveries(h.id)],
    }
    return json.dumps(state, sort_keys=True, default=str)


def test_workspace_b_reaches_nothing_of_workspace_a_on_any_route(world: World) -> None:
    w = world
    alice_msg = w.messages["alice"]
    ids = {
        "message_id": alice_msg.message.id,
        "recipient_id": alice_msg.recipients[0].id,
        "key_id": w.key_ids["alice"],
        "device_id": w.device,
        "user_id": w.users["alice"],
        "mailbox_id": w.mailbox,
        "webhook_id": w.webhook,
        "address": "bob@client.example",
        "provider": "sendgrid",  # a provider webhook's secret part is A's alone: B cannot name one
        "secret": "a-webhook-secret-b-does-not-have",
    }
    carol_msg = w.messages["carol"].message
    secrets_of_a = [
        alice_msg.message.rfc_message_id,
        carol_msg.rfc_message_id,
        "alice@acme",
        "carol@acme",
        "alice-hooks",
        "bob@client",
        "dan@client",
        open_token(w.rt, alice_msg, "bob@client.example"),  # A's pixel (GET /api/v1/devices/me/own-pixels)
    ]
    before = a_snapshot(w)
    walked = 0
    with w.client("bert") as b:
        for path, method, _op in served_operations(w):
            params = re.findall(r"{(\w+)}", path)
            unknown = [p for p in params if p not in ids]
            assert not unknown, f"the isolation walk does not know what of A to put in {unknown} of {path}"
            url = path.format(**ids)
            body = BODIES.get((method, path))
            if path in ("/api/v1/self-view", "/api/v1/self-view/check"):  # A's own pixel token, from B
                body = {"token": open_token(w.rt, alice_msg, "bob@client.example")}
            if path in ("/api/v1/self-view/check", "/api/v1/devices/heartbeat"):  # as A's device, unsigned
                body = {**(body or {}), "device": w.device, "ts": int(w.rt.clock().timestamp()), "sig": "AAAA"}
            if (method, path) == ("post", "/api/v1/inbound"):  # a reply to A's message, posted by B
                r = b.post(url, content=_reply_to(alice_msg.message.rfc_message_id))
            else:
                r = b.request(method, url, json=body)
            walked += 1
            assert r.status_code < 500, (method, path, r.text)
            if params:
                assert r.status_code == 404, (method, url, r.status_code, r.text)
                assert r.headers["content-type"] == "application/problem+json"
                assert r.json()["code"] == "not_found"
            elif path in SELF_AUTHENTICATED:  # by the device's signature, cookie or pairing code only
                assert r.status_code == 401 and r.json()["code"] == "unauthenticated", (path, r.text)
            elif path == "/api/v1/inbound":
                assert r.status_code == 200 and r.json()["replies"] == [], r.text
            else:
                assert r.status_code < 300, (method, url, r.status_code, r.text)
            for text in secrets_of_a:
                assert text not in r.text, (method, url, text)
    assert walked >= 18
    assert {path for path, _, _ in served_operations(w)} >= SELF_AUTHENTICATED  # every route is walked
    assert a_snapshot(w) == before
    # the same reply from A's own side is A's: the inbound step of the walk could have found a leak
    with w.client("alice") as a:
        r = a.post("/api/v1/inbound", content=_reply_to(alice_msg.message.rfc_message_id))
        assert r.status_code == 201 and [x["kind"] for x in r.json()["replies"]] == ["reply"], r.text


def test_a_member_sees_their_own_mail_not_a_colleagues_nor_the_settings(world: World) -> None:
    w = world
    alice_id, carol_id = w.messages["alice"].message.id, w.messages["carol"].message.id
    with w.client("carol") as carol, w.client("alice") as alice:
        assert [m["id"] for m in carol.get("/api/v1/messages").json()["items"]] == [carol_id]
        assert carol.get(f"/api/v1/messages/{carol_id}").status_code == 200
        r = carol.get(f"/api/v1/messages/{alice_id}")
        assert r.status_code == 404 and r.json()["code"] == "not_found"
        rid = w.messages["alice"].recipients[0].id
        assert carol.get(f"/api/v1/messages/{alice_id}/recipients/{rid}").status_code == 404
        assert carol.get(f"/api/v1/stats/messages/{alice_id}").status_code == 404
        before = a_snapshot(w)
        r = carol.patch("/api/v1/workspace", json={"domains": ["evil.test"]})
        assert r.status_code == 403 and r.json()["code"] == "forbidden"
        assert carol.get("/api/v1/workspace/members").status_code == 403
        r = carol.patch(f"/api/v1/workspace/members/{carol_id}", json={"role": "admin"})
        assert r.status_code == 403
        assert a_snapshot(w) == before
        # her own switches she may set
        assert (
            carol.patch("/api/v1/me/tracking", json={"track_clicks": False}).json()["tracking"]["track_clicks"] is False
        )
        # the admin sees both, and the members
        assert {m["id"] for m in alice.get("/api/v1/messages").json()["items"]} == {alice_id, carol_id}
        assert alice.get(f"/api/v1/messages/{carol_id}").status_code == 200
        roles = {m["email"]: m["role"] for m in alice.get("/api/v1/workspace/members").json()}
        assert roles == {"alice@acme.test": "admin", "carol@acme.test": "member"}
        r = alice.patch(f"/api/v1/workspace/members/{w.users['alice']}", json={"role": "member"})
        assert r.status_code == 409  # the last admin stays admin


def test_api_keys_are_shown_once_and_a_revoked_key_is_refused_at_once(world: World) -> None:
    w = world
    with w.client("bert") as b:
        made = b.post("/api/v1/keys", json={"name": "ci"})
        assert made.status_code == 201
        key = made.json()["key"]
        assert key.startswith("mbt_")
        listed = b.get("/api/v1/keys").json()
        assert key not in json.dumps(listed) and "ci" in {k["name"] for k in listed}
        with httpx.Client(base_url=w.url, headers={"Authorization": f"Bearer {key}"}) as fresh:
            assert fresh.get("/api/v1/me").json()["via"] == "api_key"
            used = {k["id"]: k for k in b.get("/api/v1/keys").json()}[made.json()["id"]]
            assert used["last_used_at"] is not None
            assert b.delete(f"/api/v1/keys/{made.json()['id']}").status_code == 204
            r = fresh.get("/api/v1/me")
            assert r.status_code == 401 and r.json()["code"] == "unauthenticated" and "www-authenticate" in r.headers
    assert w.rt.store.user_for_api_token(key, w.rt.clock()) is None  # stored hashed, and gone


def test_a_pairing_code_gives_a_device_token_once(world: World) -> None:
    w = world
    with w.client("bert") as b, httpx.Client(base_url=w.url) as anonymous:
        code = b.post("/api/v1/devices/pairing-codes", json={"kind": "extension", "name": "Firefox"}).json()["code"]
        paired = anonymous.post("/api/v1/devices/pair", json={"code": code})
        assert paired.status_code == 201, paired.text
        token = paired.json()["token"]
        again = anonymous.post("/api/v1/devices/pair", json={"code": code})
        assert again.status_code == 401
        with httpx.Client(base_url=w.url, headers={"Authorization": f"Bearer {token}"}) as device:
            me = device.get("/api/v1/me").json()
            assert me["via"] == "device" and me["user"]["email"] == "bert@beta.test"
            device_id = paired.json()["device_id"]
            assert device_id in {d["device_id"] for d in b.get("/api/v1/devices").json()}
            assert b.delete(f"/api/v1/devices/{device_id}").status_code == 204
            assert device.get("/api/v1/me").status_code == 401
        forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
        assert anonymous.get("/api/v1/me", headers={"Authorization": f"Bearer {forged}"}).status_code == 401


def test_message_list_filters_and_cursor_pages(world: World) -> None:
    w = world
    with w.client("alice") as alice:
        first = alice.get("/api/v1/messages", params={"limit": 1}).json()
        assert len(first["items"]) == 1 and first["next_cursor"]
        second = alice.get("/api/v1/messages", params={"limit": 1, "cursor": first["next_cursor"]}).json()
        assert second["next_cursor"] is None and second["items"][0]["id"] < first["items"][0]["id"]
        every = alice.get("/api/v1/messages").json()["items"]
        read = {m["id"] for m in alice.get("/api/v1/messages", params={"opened": True}).json()["items"]}
        unread = {m["id"] for m in alice.get("/api/v1/messages", params={"opened": False}).json()["items"]}
        assert read == {m["id"] for m in every if m["numbers"]["opens"]} and read | unread == {m["id"] for m in every}
        assert len(every) == 2 and not read & unread
        only = alice.get("/api/v1/messages", params={"sender": "carol@acme.test"}).json()["items"]
        assert [m["sender"] for m in only] == ["carol@acme.test"]
        assert alice.get("/api/v1/messages", params={"until": "2000-01-01T00:00:00Z"}).json()["items"] == []
        bad = alice.get("/api/v1/messages", params={"cursor": "!!"})
        assert bad.status_code == 422 and bad.json()["code"] == "invalid_request"
        bad = alice.get("/api/v1/messages", params={"limit": 0})
        assert bad.status_code == 422 and bad.json()["code"] == "invalid_request"


def test_the_docs_page_uses_only_vendored_files_under_a_strict_policy(world: World) -> None:
    with httpx.Client(base_url=world.url) as c:
        page = c.get("/api/v1/docs")
        assert page.status_code == 200
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "default-src 'none'" in csp
        srcs = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert srcs and all(s.startswith("/api/v1/static/") for s in srcs)
        assert "<script>" not in page.text  # every script is a file
        for s in srcs:
            assert c.get(s).status_code == 200, s
        assert c.get("/api/v1/static/swagger-ui/LICENSE").status_code == 200


def test_every_error_class_has_a_status_and_configuration_and_upstream_failures_are_5xx() -> None:
    for mod in pkgutil.walk_packages(mailbeacon.__path__, "mailbeacon."):
        if not mod.name.startswith("mailbeacon.store.migrations") and mod.name != "mailbeacon.__main__":
            importlib.import_module(mod.name)  # every error class mailbeacon defines is loaded

    def tree(cls: type[errors.MailbeaconError]) -> list[type[errors.MailbeaconError]]:
        return [cls, *(c for sub in cls.__subclasses__() for c in tree(sub))]

    classes = tree(errors.MailbeaconError)
    assert len(classes) >= 10
    for cls in classes:
        if cls.__module__ == "mailbeacon.errors":
            assert cls in STATUS, f"{cls.__name__} has no HTTP status in web/problems.py"
        else:  # a boundary's own refinement answers as its parent does, and not as "internal"
            assert any(base in STATUS and base is not errors.MailbeaconError for base in cls.__mro__), cls
    for cls in (errors.ConfigError, errors.StoreUnavailable, errors.UpstreamError, errors.UpstreamTemporary):
        assert STATUS[cls][0] >= 500
    assert status_of(errors.UpstreamPermanent("x"))[0] == 502
    codes = [code for _, code, _ in STATUS.values()]
    assert len(codes) == len(set(codes)), "every class has its own stable code"


def test_the_edge_refuses_bad_credentials_before_any_route(world: World, tmp_path: Path) -> None:
    with httpx.Client(base_url=world.url) as c:
        for header in ("Bearer mbt_nope", "Basic !!!", "Digest x=1", "Bearer mbd_dv_x.y"):
            r = c.get("/api/v1/messages", headers={"Authorization": header})
            assert r.status_code == 401, header
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["status"] == 401
        assert c.get("/api/v1/nowhere").json()["code"] == "not_found"


def _form_token(page: httpx.Response) -> str:
    found = re.search(r'name=csrf value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def test_dashboard_sign_in_pairs_the_browser_and_guards_every_change_against_csrf(world: World) -> None:
    w = world
    with httpx.Client(base_url=w.url) as browser:
        form = browser.get("/signin")
        assert form.status_code == 200 and "unsafe-inline" not in form.headers["content-security-policy"]
        token = _form_token(form)
        # no CSRF value (another site posting the form): refused, nothing checked
        forged = httpx.post(f"{w.url}/signin", data={"email": "alice@acme.test", "password": PASSWORD})
        assert forged.status_code == 403 and "mb_session" not in forged.headers.get("set-cookie", "")
        wrong = browser.post("/signin", data={"csrf": token, "email": "alice@acme.test", "password": "nope"})
        assert wrong.status_code == 401 and "Wrong email or password" in wrong.text
        token = _form_token(wrong)
        ok = browser.post("/signin", data={"csrf": token, "email": "alice@acme.test", "password": PASSWORD})
        assert ok.status_code == 303
        cookies = ok.headers.get_list("set-cookie")
        session = next(c for c in cookies if c.startswith("mb_session="))
        assert "HttpOnly" in session and "SameSite=lax" in session and "Secure" not in session
        assert any(c.startswith("mb_device=") for c in cookies)  # its pixel loads are self (R2)
        me = browser.get("/api/v1/me").json()
        assert me["via"] == "session" and me["user"]["email"] == "alice@acme.test" and me["csrf_token"]
        kinds = [d.kind for d in w.rt.store.devices(w.users["alice"])]
        assert "dashboard" in kinds
        # a change through the API without the session's CSRF token is refused
        r = browser.post("/api/v1/keys", json={"name": "from the browser"})
        assert r.status_code == 403 and r.json()["code"] == "forbidden"
        r = browser.post("/api/v1/keys", json={"name": "from the browser"}, headers={"X-CSRF-Token": "nope"})
        assert r.status_code == 403
        r = browser.post("/api/v1/keys", json={"name": "from the browser"}, headers={"X-CSRF-Token": me["csrf_token"]})
        assert r.status_code == 201
        assert (
            browser.delete(f"/api/v1/keys/{r.json()['id']}", headers={"X-CSRF-Token": me["csrf_token"]}).status_code
            == 204
        )
        # signing out needs the token too, and ends the session at once
        page = browser.get("/signin")
        assert "Signed in as alice@acme.test" in page.text
        assert browser.post("/signout", data={}).status_code == 403
        old = browser.cookies["mb_session"]
        assert browser.post("/signout", data={"csrf": _form_token(page)}).status_code == 303
        assert browser.get("/api/v1/me").status_code == 401
    # the old session cookie is dead (its device was unpaired), not merely forgotten by the browser
    assert httpx.get(f"{w.url}/api/v1/me", cookies={"mb_session": old}).status_code == 401


async def test_the_session_cookie_is_secure_behind_https(tmp_path: Path, clock: FakeClock) -> None:
    rt = Runtime.open(
        make_settings(tmp_path, f"sqlite:///{tmp_path / 's.db'}", public_url="https://t.example.test"), clock=clock
    )
    seed_account(rt)
    intake = Intake(rt.store, tmp_path / "journal", interval=0.01)
    transport = httpx.ASGITransport(app=create_app(rt, intake, Pipeline(rt)))
    async with httpx.AsyncClient(transport=transport, base_url="https://t.example.test") as browser:
        token = _form_token(await browser.get("/signin"))
        ok = await browser.post("/signin", data={"csrf": token, "email": "alice@acme.test", "password": PASSWORD})
        assert ok.status_code == 303
        session = next(c for c in ok.headers.get_list("set-cookie") if c.startswith("mb_session="))
        assert "Secure" in session and "HttpOnly" in session and "SameSite=lax" in session
    rt.close()


def test_post_a_message_gives_each_recipients_tracked_copy(world: World) -> None:
    w = world
    with w.client("bert") as b:
        r = b.post("/api/v1/messages", json={"raw": _mail("bert@beta.test", "fay@client.example, gus@client.example")})
        assert r.status_code == 201, r.text
        out = r.json()
        assert out["instrumented"] and {c["address"] for c in out["copies"]} == {
            "fay@client.example",
            "gus@client.example",
        }
        copy = base64.b64decode(out["copies"][0]["raw"]).decode()
        assert "/o/" in copy and "/c/" in copy
        assert b.get(f"/api/v1/messages/{out['id']}").json()["recipients"] == 2
        # only from one's own addresses
        r = b.post(
            "/api/v1/messages",
            json={"raw": _mail("alice@acme.test", "fay@client.example"), "sender": "alice@acme.test"},
        )
        assert r.status_code == 403 and r.json()["code"] == "forbidden"
        # relaying without an upstream server: a server configuration problem (5xx), and the message says not sent
        r = b.post("/api/v1/messages", json={"raw": _mail("bert@beta.test", "fay@client.example"), "relay": True})
        assert (
            r.status_code == 500
            and r.json()["code"] == "server_configuration"
            and "upstream_smtp" in r.json()["detail"]
        )
        listed = b.get("/api/v1/messages", params={"limit": 1}).json()["items"][0]
        relay = w.rt.store.message(listed["id"]).outcome["relay"]
        assert isinstance(relay, dict) and relay["delivered"] == []


def test_mailboxes_add_check_state_remove(world: World) -> None:
    w = world
    closed = free_port()  # nothing listens there
    with w.client("bert") as b:
        made = b.post("/api/v1/mailboxes", json={"imap": f"imap://bert@127.0.0.1:{closed}", "password": "s3cret"})
        assert made.status_code == 201, made.text
        box = made.json()
        assert "s3cret" not in made.text and box["state"] == "new"
        assert "s3cret" not in w.rt.store.mailbox(box["id"]).password  # stored encrypted
        again = b.post("/api/v1/mailboxes", json={"imap": f"imap://bert@127.0.0.1:{closed}", "password": "s3cret"})
        assert again.status_code == 409
        checked = b.post(f"/api/v1/mailboxes/{box['id']}/check")
        assert checked.status_code == 503 and checked.json()["code"] == "upstream_temporary", checked.text
        state = b.get(f"/api/v1/mailboxes/{box['id']}").json()
        assert state["state"] == "error" and state["last_error"]
        assert box["id"] in {m["id"] for m in b.get("/api/v1/mailboxes").json()}
        assert b.delete(f"/api/v1/mailboxes/{box['id']}").status_code == 204
        assert b.get(f"/api/v1/mailboxes/{box['id']}").status_code == 404


def test_a_workspace_tracks_on_its_own_domain(world: World) -> None:
    w = world
    with w.client("bert") as b:
        r = b.patch("/api/v1/workspace", json={"tracking_url": "https://T.beta.test/"})
        assert r.status_code == 200 and r.json()["tracking_url"] == "https://t.beta.test"
        out = b.post("/api/v1/messages", json={"raw": _mail("bert@beta.test", "ivy@client.example")}).json()
        copy = base64.b64decode(out["copies"][0]["raw"]).decode()
        pixel = re.search(r"https://t\.beta\.test(/o/[A-Za-z0-9_-]+\.gif)", copy)
        assert pixel and "/c/" in copy and w.url not in copy
        # the same server answers on that host (DNS and TLS point there)
        gif = httpx.get(f"{w.url}{pixel.group(1)}", headers={"Host": "t.beta.test"})
        assert gif.status_code == 200 and gif.headers["content-type"] == "image/gif"
        assert b.patch("/api/v1/workspace", json={"tracking_url": "ftp://x"}).status_code == 422
        back = b.patch("/api/v1/workspace", json={"tracking_url": ""}).json()
        assert back["tracking_url"] == w.url
