"""The browser extension (extension/, unpacked) in a real Chromium, against a real `mailbeacon serve`.

Local sites stand in for the web: `news.example.test` (another site showing an email, pixel
loaded directly), `mail.example.test` (a Gmail-like webmail whose images go through
`images.example.test/proxy/…#<original>`, fetched server-side with Google's user agent).
Chromium resolves all of them to this machine (--host-resolver-rules); mailbeacon itself is at
127.0.0.1, another site than each of them, so no device cookie goes with their image loads.

- pairing through the options page with a code from the CLI;
- a direct load of the sender's own pixel, on a site turned on or not: stopped in the browser (a
  block rule per own token, from the server), a beacon recorded `self`; the recipient's counted
  opens stay 0; a colleague's pixel on that same site: loads and counts; the same page without the
  extension: counted;
- the Gmail-like page: `self`; without the extension: a counted open;
- the sender's other address (a mailbox mailbeacon does not know) in the same browser: `self`;
- a click in the paired browser: counted, and flagged as the sender's.
"""

from __future__ import annotations

import email
import http.server
import json
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import FakeClock, make_settings, need_binary
from mailbeacon import instrument
from mailbeacon.model import HitKind, VerdictClass
from mailbeacon.pipeline import Pipeline
from mailbeacon.runtime import Runtime
from seeding import seed_account
from serving import ServeProcess, free_port
from test_browser import PERSON_HINTS, PERSON_UA

pytestmark = pytest.mark.chromium

EXTENSION = Path(__file__).parent.parent / "extension"
GOOGLE_PROXY_UA = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
GOOGLE_PROXY_IP = "66.249.84.10"
SENDER_IP = "93.184.216.10"
OUTLOOK_PROXY_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)
OUTLOOK_PROXY_IP = "52.96.10.20"
SCENARIOS = (
    "direct_ext",
    "direct_elsewhere",
    "direct_plain",
    "gmail_ext",
    "gmail_plain",
    "other_address",
    "click_ext",
    "outlook_ext",  # Outlook on the web's proxy: the original in ?u=
    "colleague_ext",  # Carol (a colleague) sent it; Alice's paired browser shows it: not Alice's own
    "colleague_elsewhere",  # Carol's, loaded directly by a site not turned on: not blocked, counted
)
COLLEAGUE = ("colleague_ext", "colleague_elsewhere")


@dataclass
class Mail:
    recipient: str
    html: str
    pixel: str = ""
    link: str = ""
    rid: int = 0


@dataclass
class Sites:
    public: str
    port: int
    mails: dict[str, Mail] = field(default_factory=dict)
    proxied: dict[str, str] = field(default_factory=dict)

    def url(self, host: str, path: str) -> str:
        return f"http://{host}:{self.port}{path}"


class Pages(http.server.ThreadingHTTPServer):
    sites: Sites


class Handler(http.server.BaseHTTPRequestHandler):
    server: Pages

    def _send(self, body: bytes, ctype: str = "text/html; charset=utf-8") -> None:
        self.send_response(200)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(body)))
        self.send_header("cache-control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        sites, host = self.server.sites, (self.headers.get("host") or "").split(":")[0]
        name = self.path.rsplit("/", 1)[-1]
        if self.path.startswith("/direct/"):
            # a site showing the email as it is (a webmail that loads images itself, any other
            # page): the pixel loads straight from mailbeacon
            self._send(f"<!doctype html><title>News</title><article>{sites.mails[name].html}</article>".encode())
        elif host == "mail.example.test" and self.path.startswith(("/mail/", "/owa/")):
            # like Gmail (or Outlook on the web): the message arrives by script, every image
            # address rewritten to the provider's proxy
            proxy = self._proxied if self.path.startswith("/mail/") else self._outlook_proxied
            html = re.sub(r'src="([^"]+)"', lambda m: f'src="{proxy(m.group(1))}"', sites.mails[name].html)
            page = (
                "<!doctype html><title>Inbox - Mail</title><div id=app>Loading…</div><script>"
                f"setTimeout(() => {{ document.getElementById('app').innerHTML = {json.dumps(html)}; }}, 300);"
                "</script>"
            )
            self._send(page.encode())
        elif host == "images.example.test" and self.path.startswith("/actions/ei?"):
            original = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)["u"][0]
            r = httpx.get(original, headers={"user-agent": OUTLOOK_PROXY_UA, "x-forwarded-for": OUTLOOK_PROXY_IP})
            self._send(r.content, r.headers.get("content-type", "image/gif"))
        elif host == "images.example.test" and self.path.startswith("/proxy/"):
            original = sites.proxied[self.path.split("/")[2].split("=")[0]]
            r = httpx.get(original, headers={"user-agent": GOOGLE_PROXY_UA, "x-forwarded-for": GOOGLE_PROXY_IP})
            self._send(r.content, r.headers.get("content-type", "image/gif"))
        else:
            self._send(b"<!doctype html><title>landed</title><p>landed</p>")

    def _proxied(self, original: str) -> str:
        sites = self.server.sites
        key = f"k{len(sites.proxied)}x{abs(hash(original)) % 10**8}"
        sites.proxied[key] = original
        return sites.url("images.example.test", f"/proxy/{key}=s0-d-e1-ft#{original}")

    def _outlook_proxied(self, original: str) -> str:
        query = urllib.parse.urlencode({"u": original, "d": "2026-03-02T09:00:00.000Z"})
        return self.server.sites.url("images.example.test", f"/actions/ei?{query}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Runtime, Sites, dict[str, str], ServeProcess]]:
    need_binary("chromium", "chromium")
    mb_port, page_port = free_port(), free_port()
    db = f"sqlite:///{tmp_path / 'x.db'}"
    public = f"http://127.0.0.1:{mb_port}"
    rt = Runtime.open(make_settings(tmp_path, db, public_url=public), clock=FakeClock(datetime.now(UTC)))
    seed_account(rt)
    seed_account(rt, "carol@acme.test")
    sites = Sites(public, page_port)
    for name in SCENARIOS:
        rcpt = "alice.home@gmail.example" if name == "other_address" else f"bob+{name}@client.example"
        landing = sites.url("news.example.test", f"/landing/{name}")
        msg = EmailMessage(policy=default_policy)
        author = "carol@acme.test" if name in COLLEAGUE else "alice@acme.test"
        msg["From"], msg["To"], msg["Subject"] = author, rcpt, f"Your trial ({name})"
        msg.set_content("Start your trial: " + landing)
        msg.add_alternative(f'<p>Hello,</p><p><a id="cta" href="{landing}">Start your trial</a></p>', subtype="html")
        (copy,) = instrument(rt, msg, sender=author).copies
        part = email.message_from_bytes(copy.data, policy=default_policy).get_body(("html",))
        assert part is not None
        html = part.get_content()
        pixel = re.search(r'src="([^"]*/o/[^"]+)"', html)
        link = re.search(r'id="cta" href="([^"]+)"', html) or re.search(r'href="([^"]*/c/[^"]+)"[^>]*>Start', html)
        assert pixel and link, html
        sites.mails[name] = Mail(rcpt, html, pixel.group(1), link.group(1))
    for m in sites.mails.values():
        (m.rid,) = {
            r.id
            for msg in rt.store.messages(limit=100)
            for r in rt.store.recipients(msg.id)
            if r.address == m.recipient
        }
    pages = Pages(("127.0.0.1", page_port), Handler)
    pages.sites = sites
    threading.Thread(target=pages.serve_forever, daemon=True).start()
    server = ServeProcess(tmp_path, db, port=mb_port, public_url=public, trusted_proxies="127.0.0.1/32")
    server.start()
    yield rt, sites, server.env, server
    server.close()
    pages.shutdown()
    rt.close()


def unpacked_copy(tmp_path: Path, grant: list[str]) -> Path:
    """The extension as shipped, with the accesses a person grants in Chrome's prompts granted
    up front (an automated browser cannot click those prompts)."""
    copy = tmp_path / "extension"
    shutil.copytree(EXTENSION, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["host_permissions"] = grant
    manifest["permissions"] += manifest.pop("optional_permissions", [])  # asked at pairing
    (copy / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return copy


def browser_args(extension: Path | None) -> list[str]:
    args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
            "--disable-features=HttpsUpgrades,HttpsFirstBalancedModeAutoEnable",
            "--host-resolver-rules=MAP *.example.test 127.0.0.1"]  # fmt: skip
    if extension is not None:
        args += [f"--disable-extensions-except={extension}", f"--load-extension={extension}"]
    return args


def pair_code(env: dict[str, str]) -> str:
    """A code from `mailbeacon device pair-code`, the last word it prints."""
    out = subprocess.run(
        [sys.executable, "-m", "mailbeacon", "device", "pair-code", "alice@acme.test"],
        env={**env, "COLUMNS": "80"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.split()[-1]


def wait_for(what: str, check: Any, within: float = 15.0, show: Any = None) -> Any:
    deadline = time.monotonic() + within
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}" + (f": {show()}" if show else "")
        time.sleep(0.1)


def self_views(rt: Runtime, rid: int) -> list[Any]:
    return [
        sv.hit
        for sv in rt.store.hits_with_verdicts()
        if sv.hit.kind is HitKind.SELF_VIEW and sv.hit.recipient_id == rid
    ]


def own_rules(worker: Any) -> set[str]:
    """The URL filters of the extension's dynamic block rules."""
    script = "chrome.declarativeNetRequest.getDynamicRules().then((rs) => rs.map((r) => r.condition.urlFilter))"
    return set(worker.evaluate(script))


def own_tokens(sites: Sites) -> set[str]:
    """The block rules the extension should have: one per pixel of Alice's own mail."""
    return {"/o/" + m.pixel.split("/o/")[1].removesuffix(".gif") for n, m in sites.mails.items() if n not in COLLEAGUE}


def pixel_hits(rt: Runtime, rid: int) -> list[Any]:
    return [
        sv.hit for sv in rt.store.hits_with_verdicts() if sv.hit.kind is HitKind.OPEN and sv.hit.recipient_id == rid
    ]


def test_the_extension_keeps_the_senders_own_views_out(
    world: tuple[Runtime, Sites, dict[str, str], ServeProcess], tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    rt, sites, env, server = world
    mails = sites.mails
    ext = unpacked_copy(tmp_path, [f"{sites.public}/*", sites.url("mail.example.test", "/*")])
    code = pair_code(env)
    shots = tmp_path / "shots"
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path="/usr/bin/chromium",
            headless=False,  # --headless=new in args: the new headless mode, which runs extensions
            args=browser_args(ext),
            user_agent=PERSON_UA,
            extra_http_headers={**PERSON_HINTS, "x-forwarded-for": SENDER_IP},
            viewport={"width": 900, "height": 760},
        )
        worker = ctx.service_workers[0] if ctx.service_workers else ctx.wait_for_event("serviceworker")
        ext_id = worker.url.split("/")[2]
        # 1. pair through the options page, with the code the CLI printed
        opts = ctx.new_page()
        opts.goto(f"chrome-extension://{ext_id}/options.html")
        opts.screenshot(path=str(shots / "options-unpaired.png"))
        opts.get_by_label("Server URL").fill(sites.public)
        opts.get_by_label("Pairing code").fill(code)
        opts.get_by_role("button", name="Pair", exact=True).click()
        opts.wait_for_selector("body[data-state=paired]")
        assert "Paired as alice@acme.test" in opts.inner_text("#paired-line")
        (dev,) = rt.store.devices(rt.store.user("alice@acme.test").id)
        assert dev.kind == "extension"
        # turn on the (local) webmail site, as a person does for mail.google.com
        opts.get_by_label("Other webmail site").fill(sites.url("mail.example.test", ""))
        opts.get_by_role("button", name="Add site").click()
        opts.get_by_role("button", name="Turn off http://mail.example.test", exact=False).wait_for()
        webmail = f"mail.example.test:{sites.port}"
        wait_for(
            "the heartbeat",
            lambda: rt.store.device(dev.public_id).sites == (webmail,),
            show=lambda: (rt.store.device(dev.public_id), opts.inner_text("body")),
        )
        opts.screenshot(path=str(shots / "options-paired.png"), full_page=True)
        # at pairing the extension got the pixel tokens of Alice's own mail: one block rule each
        wait_for("the own-pixel rules", lambda: own_rules(worker) == own_tokens(sites), show=lambda: own_rules(worker))

        # 2. a page of a site turned on loads Alice's own pixel directly: stopped, and a beacon
        page = ctx.new_page()
        page.goto(sites.url("mail.example.test", "/direct/direct_ext"))
        wait_for("a self-view beacon", lambda: self_views(rt, mails["direct_ext"].rid))
        # ... and on a site it may not read (Chrome shows it no request there): stopped all the same
        # (a block rule needs no access to the page), the beacon from the rule that matched
        page.goto(sites.url("news.example.test", "/direct/direct_elsewhere"))
        wait_for("a self-view beacon", lambda: self_views(rt, mails["direct_elsewhere"].rid))
        # a colleague's pixel on that same site, in the same browser: not Alice's, so it loads (R6)
        page.goto(sites.url("news.example.test", "/direct/colleague_elsewhere"))
        wait_for("the colleague's pixel", lambda: pixel_hits(rt, mails["colleague_elsewhere"].rid))
        # 3. the Gmail-like webmail: the image goes through the proxy, the content script sees it
        page.goto(sites.url("mail.example.test", "/mail/gmail_ext"))
        page.wait_for_selector("img[data-mailbeacon=self]")
        wait_for("a self-view beacon", lambda: self_views(rt, mails["gmail_ext"].rid))
        # 4. the sender's other mailbox (an address mailbeacon does not know), same browser
        page.goto(sites.url("mail.example.test", "/mail/other_address"))
        page.wait_for_selector("img[data-mailbeacon=self]")
        wait_for("a self-view beacon", lambda: self_views(rt, mails["other_address"].rid))
        # Outlook on the web's image proxy, with the original address in its ?u= parameter
        page.goto(sites.url("mail.example.test", "/owa/outlook_ext"))
        page.wait_for_selector("img[data-mailbeacon=self]")
        wait_for("a self-view beacon", lambda: self_views(rt, mails["outlook_ext"].rid))
        # a colleague's email shown in Alice's browser: the image is put back and loads, as anyone's
        page.goto(sites.url("mail.example.test", "/mail/colleague_ext"))
        page.wait_for_selector("img[data-mailbeacon=other]")
        wait_for("the colleague's pixel", lambda: pixel_hits(rt, mails["colleague_ext"].rid))
        # 5. a click in the paired browser
        page.goto(sites.url("mail.example.test", "/direct/click_ext"))
        wait_for("a self-view beacon", lambda: self_views(rt, mails["click_ext"].rid))
        page.click("#cta")
        page.wait_for_url(re.compile(r"/landing/click_ext$"))
        # unpairing (the options page) removes the rules
        opts.get_by_role("button", name="Forget this pairing").click()
        opts.wait_for_selector("body[data-state=unpaired]")
        wait_for("no rules", lambda: own_rules(worker) == set(), show=lambda: own_rules(worker))
        ctx.close()

        # the same pages in a browser without the extension
        plain = p.chromium.launch(executable_path="/usr/bin/chromium", headless=False, args=browser_args(None))
        person = plain.new_context(
            user_agent=PERSON_UA, extra_http_headers={**PERSON_HINTS, "x-forwarded-for": "81.2.69.160"}
        )
        page = person.new_page()
        page.goto(sites.url("mail.example.test", "/direct/direct_plain"))
        wait_for("the direct pixel", lambda: pixel_hits(rt, mails["direct_plain"].rid))
        page.goto(sites.url("mail.example.test", "/mail/gmail_plain"))
        wait_for("the proxied pixel", lambda: pixel_hits(rt, mails["gmail_plain"].rid))
        assert page.locator("img[data-mailbeacon]").count() == 0
        plain.close()

    assert server.stop() == 0
    rt.clock.set(datetime.now(UTC) + timedelta(hours=1))  # type: ignore[attr-defined]
    Pipeline(rt).drain()
    verdicts = {
        name: [
            (sv.hit.kind, sv.verdict.cls if sv.verdict else None, sv.hit.user_agent)
            for sv in rt.store.hits_with_verdicts()
            if sv.hit.recipient_id == m.rid and sv.hit.kind is not HitKind.SELF_VIEW
        ]
        for name, m in mails.items()
    }
    counts = rt.store.counts([m.rid for m in mails.values()])
    c = {name: counts[m.rid] for name, m in mails.items()}
    for name in ("direct_ext", "direct_elsewhere", "gmail_ext", "outlook_ext", "other_address", "click_ext"):
        assert c[name].opens == 0, (name, verdicts[name])
        assert all(cls is VerdictClass.SELF for kind, cls, _ in verdicts[name] if kind is HitKind.OPEN), verdicts[name]
    for name in ("direct_ext", "direct_elsewhere", "click_ext"):  # stopped in the browser: no load at all
        assert pixel_hits(rt, mails[name].rid) == [], (name, verdicts[name])
        assert len(self_views(rt, mails[name].rid)) == 1, name  # one beacon per view
    # Gmail's proxy address keeps the original after '#', and the block rule matches it there too:
    # the image is not even asked of the proxy. Outlook's has it percent-encoded in ?u=: the proxy
    # fetches it, and the content script's beacon makes that load self
    for name in ("gmail_ext", "other_address"):
        assert pixel_hits(rt, mails[name].rid) == [], (name, verdicts[name])
    assert c["outlook_ext"].opens_self >= 1, verdicts["outlook_ext"]
    for name in COLLEAGUE:
        assert self_views(rt, mails[name].rid) == [], name
    for name in ("direct_plain", "gmail_plain", *COLLEAGUE):
        assert c[name].opens == 1, (name, verdicts[name])
    assert any("GoogleImageProxy" in ua for _, _, ua in verdicts["gmail_plain"])
    # the click in the paired browser: counted (R4), and flagged as the sender's own
    assert (c["click_ext"].clicks, c["click_ext"].clicks_self) == (1, 1), verdicts["click_ext"]
    d = rt.store.device(dev.public_id)
    assert d.last_acted_at is not None and d.sites == (webmail,)


def test_with_every_site_allowed_a_direct_load_anywhere_is_seen(
    world: tuple[Runtime, Sites, dict[str, str], ServeProcess], tmp_path: Path
) -> None:
    """The opt-in "Every site": a page the extension was not turned on for loads the pixel
    directly; the request is seen (Chrome needs access to the page too, see docs/extension.md) and
    the beacon sent at once, and the block rule stops the load as it does without the option."""
    from playwright.sync_api import sync_playwright

    rt, sites, env, server = world
    ext = unpacked_copy(tmp_path, [f"{sites.public}/*", "https://*/*", "http://*/*"])
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path="/usr/bin/chromium",
            headless=False,
            args=browser_args(ext),
            user_agent=PERSON_UA,
            extra_http_headers={**PERSON_HINTS, "x-forwarded-for": SENDER_IP},
        )
        worker = ctx.service_workers[0] if ctx.service_workers else ctx.wait_for_event("serviceworker")
        opts = ctx.new_page()
        opts.goto(f"chrome-extension://{worker.url.split('/')[2]}/options.html")
        opts.get_by_label("Server URL").fill(sites.public)
        opts.get_by_label("Pairing code").fill(pair_code(env))
        opts.get_by_role("button", name="Pair", exact=True).click()
        opts.wait_for_selector("body[data-state=paired]")
        opts.get_by_role("button", name="Turn off Every site").wait_for()  # on: granted
        wait_for("the own-pixel rules", lambda: own_rules(worker) == own_tokens(sites), show=lambda: own_rules(worker))
        page = ctx.new_page()
        page.goto(sites.url("news.example.test", "/direct/direct_elsewhere"))
        wait_for("a self-view beacon", lambda: self_views(rt, sites.mails["direct_elsewhere"].rid))
        ctx.close()
    assert server.stop() == 0
    rt.clock.set(datetime.now(UTC) + timedelta(hours=1))  # type: ignore[attr-defined]
    Pipeline(rt).drain()
    rid = sites.mails["direct_elsewhere"].rid
    c = rt.store.counts([rid])[rid]
    assert (c.opens, c.opens_self) == (0, 0)  # never loaded
    assert len(self_views(rt, rid)) == 1
    (dev,) = rt.store.devices(rt.store.user("alice@acme.test").id)
    assert dev.sites is not None and "*" in dev.sites
