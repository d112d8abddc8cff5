"""A real browser (Chromium) reads an instrumented email served from a real `mailbeacon serve`.

- a person's browser: the pixel loads (a human open), a click lands on the original page;
- the hidden decoy link is not visible, not reachable with Tab, absent from the accessibility tree;
- a browser paired with the sender (the device cookie set by `POST /api/v1/devices`): `self`;
- headless Chrome as a scanner would run it: not counted as a person.
"""

from __future__ import annotations

import base64
import http.server
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

import pytest

from conftest import CORPUS, FakeClock, make_settings, need_binary
from mailbeacon import instrument
from mailbeacon.model import HitKind, VerdictClass
from mailbeacon.pipeline import Pipeline
from mailbeacon.runtime import Runtime
from seeding import PASSWORD, seed_account
from serving import ServeProcess, free_port

pytestmark = pytest.mark.chromium

PERSON_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"
# what a person's (headful) Chrome sends; headless Chromium names itself in these client hints
PERSON_HINTS = {"sec-ch-ua": '"Chromium";v="156", "Google Chrome";v="156", "Not:A-Brand";v="99"'}
# each browser reaches the server from its own network: the server trusts X-Forwarded-For from
# loopback, as it would from a load balancer
PERSON_IP, SENDER_IP, SCANNER_IP = "81.2.69.160", "93.184.216.10", "40.107.1.2"
BOB = "bob@client.example"


class Pages(http.server.ThreadingHTTPServer):
    email_html = b""


class Handler(http.server.BaseHTTPRequestHandler):
    server: Pages

    def do_GET(self) -> None:
        body = self.server.email_html if self.path.startswith("/email") else b"<title>landed</title><p>landed</p>"
        self.send_response(200)
        self.send_header("content-type", "text/html; charset=utf-8")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Runtime, str, str, ServeProcess]]:
    need_binary("chromium", "chromium")
    mb_port, page_port = free_port(), free_port()
    db = f"sqlite:///{tmp_path / 'b.db'}"
    public = f"http://127.0.0.1:{mb_port}"
    rt = Runtime.open(make_settings(tmp_path, db, public_url=public), clock=FakeClock(datetime.now(UTC)))
    seed_account(rt)
    html = (CORPUS / "html" / "leemunroe-email.html").read_text()
    landing = f"http://127.0.0.1:{page_port}/landing?plan=pro&ref=mail"
    html = html.replace("</body>", f'<p><a id="cta" href="{landing}">Start your trial</a></p></body>')
    msg = EmailMessage(policy=default_policy)
    msg["From"] = "alice@acme.test"
    msg["To"] = BOB
    msg["Subject"] = "Your trial"
    msg.set_content("Start your trial: " + landing)
    msg.add_alternative(html, subtype="html")
    result = instrument(rt, msg, sender="alice@acme.test")
    (copy,) = result.copies
    parsed = __import__("email").message_from_bytes(copy.data, policy=default_policy)
    html_part = parsed.get_body(("html",))
    assert html_part is not None
    pages = Pages(("127.0.0.1", page_port), Handler)
    pages.email_html = html_part.get_content().encode()
    threading.Thread(target=pages.serve_forever, daemon=True).start()
    server = ServeProcess(tmp_path, db, port=mb_port, public_url=public, trusted_proxies="127.0.0.1/32")
    server.start()
    yield rt, public, f"http://127.0.0.1:{page_port}", server
    server.close()
    pages.shutdown()
    rt.close()


def test_a_real_browser_reads_the_email(world: tuple[Runtime, str, str, ServeProcess]) -> None:
    from playwright.sync_api import sync_playwright

    rt, public, site, server = world
    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-quic"]  # fmt: skip
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=args)
        # 1. the recipient, in an ordinary browser
        person = browser.new_context(
            user_agent=PERSON_UA, extra_http_headers={**PERSON_HINTS, "x-forwarded-for": PERSON_IP}
        )
        page = person.new_page()
        with page.expect_response(re.compile(r"/o/[A-Za-z0-9_-]+\.gif")) as pixel:
            page.goto(f"{site}/email")
        assert pixel.value.status == 200
        decoy = page.locator("a[aria-hidden='true']")
        assert decoy.count() == 1 and "/c/" in (decoy.get_attribute("href") or "")
        assert not decoy.is_visible()
        focused = []
        for _ in range(40):
            page.keyboard.press("Tab")
            focused.append(page.evaluate("document.activeElement && document.activeElement.getAttribute('href')"))
        assert decoy.get_attribute("href") not in focused
        assert "cta" in page.evaluate("[...document.querySelectorAll('a:not([aria-hidden])')].map(a => a.id).join(' ')")
        tree = page.locator("body").aria_snapshot()
        assert "Start your trial" in tree  # the tree does list the visible links
        assert (decoy.get_attribute("href") or "")[-20:] not in tree
        page.click("#cta")
        page.wait_for_url(re.compile(r"/landing\?plan=pro&ref=mail$"))
        assert page.inner_text("p") == "landed"
        person.close()
        # 2. the sender, in a browser paired with mailbeacon (the dashboard sets the device cookie)
        sender = browser.new_context(
            user_agent=PERSON_UA, extra_http_headers={**PERSON_HINTS, "x-forwarded-for": SENDER_IP}
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
        with page.expect_response(re.compile(r"/o/")):
            page.goto(f"{site}/email")
        sender.close()
        # 3. a security scanner driving headless Chrome (its client hints say so)
        scanner = browser.new_context(extra_http_headers={"x-forwarded-for": SCANNER_IP})
        page = scanner.new_page()
        with page.expect_response(re.compile(r"/o/")):
            page.goto(f"{site}/email")
        scanner.close()
        browser.close()
    assert server.stop() == 0
    rt.clock.set(datetime.now(UTC) + timedelta(hours=1))  # type: ignore[attr-defined]
    pipe = Pipeline(rt)
    pipe.drain()
    rows = [sv for sv in rt.store.hits_with_verdicts() if sv.hit.kind is not HitKind.SELF_VIEW]
    classes = [(sv.hit.kind, sv.verdict.cls if sv.verdict else None) for sv in rows]
    assert classes[:3] == [
        (HitKind.OPEN, VerdictClass.HUMAN),
        (HitKind.CLICK, VerdictClass.HUMAN),
        (HitKind.OPEN, VerdictClass.SELF),
    ], [(sv.hit.ip, sv.hit.user_agent[:40], sv.hit.headers, sv.verdict.sentence if sv.verdict else None) for sv in rows]
    assert classes[3][0] is HitKind.OPEN and classes[3][1] not in (VerdictClass.HUMAN, VerdictClass.SELF)
    assert not any(sv.hit.kind is HitKind.DECOY for sv in rows)  # a browser never follows the decoy
    person_open = rows[0].hit
    assert person_open.headers.get("sec-fetch-dest") == "image"
    (rid,) = {sv.hit.recipient_id for sv in rows}
    counts = rt.store.counts([rid])[rid]
    assert (counts.opens, counts.opens_self, counts.clicks) == (1, 1, 1)
