"""The paired-browser cookie across sites, over https, in a real Chromium.

The `mb_device` cookie is set by the tracking host; the pixel is loaded by a page of another site
(a webmail). Browsers send a cookie with such a cross-site image request only when it is
`SameSite=None; Secure`, which needs https. Here: `mailbeacon serve` behind a TLS terminator with a
self-signed certificate (trustme) at https://localhost, the email shown by a page at
https://127.0.0.1 (another site), and the sender's paired browser loading it: the pixel request
carries the cookie and the open is the sender's own.
"""

from __future__ import annotations

import base64
import email
import json
import re
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

import httpx
import pytest
import trustme

from conftest import FakeClock, make_settings, need_binary
from mailbeacon import instrument
from mailbeacon.model import HitKind, VerdictClass
from mailbeacon.pipeline import Pipeline
from mailbeacon.runtime import Runtime
from netproxy import TlsTerminator
from seeding import PASSWORD, seed_account
from serving import ServeProcess, free_port
from test_browser import PERSON_HINTS, PERSON_UA, SENDER_IP, Handler, Pages

pytestmark = pytest.mark.chromium


@pytest.fixture
def https_world(tmp_path: Path) -> Iterator[tuple[Runtime, str, str, ServeProcess]]:
    need_binary("chromium", "chromium")
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    mb_port = free_port()
    db = f"sqlite:///{tmp_path / 'b.db'}"
    tls = TlsTerminator(mb_port, server_ctx)
    public = f"https://localhost:{tls.port}"
    rt = Runtime.open(make_settings(tmp_path, db, public_url=public), clock=FakeClock(datetime.now(UTC)))
    seed_account(rt)
    msg = EmailMessage(policy=default_policy)
    msg["From"] = "alice@acme.test"
    msg["To"] = "bob@client.example"
    msg["Subject"] = "Over https"
    msg.set_content("Hello")
    msg.add_alternative("<html><body><p>Hello Bob</p></body></html>", subtype="html")
    (copy,) = instrument(rt, msg, sender="alice@acme.test").copies
    html_part = email.message_from_bytes(copy.data, policy=default_policy).get_body(("html",))
    assert html_part is not None and f"{public}/o/" in html_part.get_content()
    page_port = free_port()
    pages = Pages(("127.0.0.1", page_port), Handler)
    pages.socket = server_ctx.wrap_socket(pages.socket, server_side=True)
    pages.email_html = html_part.get_content().encode()
    threading.Thread(target=pages.serve_forever, daemon=True).start()
    server = ServeProcess(tmp_path, db, port=mb_port, public_url=public, trusted_proxies="127.0.0.1/32")
    server.start()
    with ca.cert_pem.tempfile() as ca_file:  # and through the TLS terminator, as the browser will
        assert httpx.get(f"{public}/healthz", verify=ssl.create_default_context(cafile=ca_file)).status_code == 200
    yield rt, public, f"https://127.0.0.1:{page_port}", server
    server.close()
    pages.shutdown()
    tls.close()
    rt.close()


def test_paired_cookie_goes_with_a_cross_site_pixel_over_https(
    https_world: tuple[Runtime, str, str, ServeProcess], tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    rt, public, site, server = https_world
    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-quic"]  # fmt: skip
    with sync_playwright() as p:
        # a browser profile as a person has one, allowing third-party cookies (Chrome's setting
        # "Allow third-party cookies"; incognito windows and this Chromium's default block them)
        profile = tmp_path / "profile"
        (profile / "Default").mkdir(parents=True)
        prefs = {"profile": {"cookie_controls_mode": 0, "block_third_party_cookies": False}}
        (profile / "Default" / "Preferences").write_text(json.dumps(prefs))
        sender = p.chromium.launch_persistent_context(
            str(profile),
            executable_path="/usr/bin/chromium",
            args=args,
            user_agent=PERSON_UA,
            extra_http_headers={**PERSON_HINTS, "x-forwarded-for": SENDER_IP},
            ignore_https_errors=True,  # the test CA is not in Chromium's store
        )
        page = sender.new_page()
        page.goto(f"{public}/healthz")
        auth = base64.b64encode(f"alice@acme.test:{PASSWORD}".encode()).decode()
        status = page.evaluate(
            """async (auth) => (await fetch('/api/v1/devices', {method: 'POST', headers:
                 {'Authorization': 'Basic ' + auth, 'Content-Type': 'application/json'},
                 body: JSON.stringify({kind: 'dashboard', name: 'Chromium'})})).status""",
            auth,
        )
        assert status == 201
        (cookie,) = [c for c in sender.cookies() if c["name"] == "mb_device"]
        assert cookie["secure"] and cookie["sameSite"] == "None" and cookie["httpOnly"]
        with page.expect_request(re.compile(r"/o/[A-Za-z0-9_-]+\.gif")) as pixel:
            page.goto(f"{site}/email")  # another site shows the email
        assert page.url.startswith("https://127.0.0.1:")
        assert "mb_device=" in (pixel.value.all_headers().get("cookie") or "")
        sender.close()
    assert server.stop() == 0
    rt.clock.set(datetime.now(UTC) + timedelta(hours=1))  # type: ignore[attr-defined]
    Pipeline(rt).drain()
    rows = [sv for sv in rt.store.hits_with_verdicts() if sv.hit.kind is HitKind.OPEN]
    assert [sv.verdict.cls if sv.verdict else None for sv in rows] == [VerdictClass.SELF]
    assert rows[0].hit.headers.get("sec-fetch-site") == "cross-site"
