"""A realistic few days of mail for the dashboard's tests and screenshots, through the real paths.

Messages are instrumented with `mailbeacon.instrument()`; every hit is a request to the real
tracking endpoints (the ASGI app, with an injected clock, from the IP addresses and user agents of
the classifier's signatures); replies, an out-of-office and a bounce come in through
`POST /api/v1/inbound`; the real pipeline decides and settles everything. Then the real
`mailbeacon serve` serves the dashboard over the same database (times are relative to the real
now, so "4 days ago" reads right there).

Workspace acme.test: alice (admin, a paired browser), carol (member).
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import format_datetime
from pathlib import Path

import httpx

from api_world import World, serve_existing
from conftest import CORPUS, FakeClock, make_settings
from mailbeacon import instrument
from mailbeacon.intake import Intake
from mailbeacon.model import HitKind
from mailbeacon.passwords import hash_password
from mailbeacon.pipeline import Pipeline
from mailbeacon.runtime import Runtime
from mailbeacon.web.app import create_app
from mailbeacon.web.tracking import DEVICE_COOKIE, DEVICE_COOKIE_PURPOSE
from seeding import PASSWORD

# user agents and networks the classifier's signatures and IP lists know
OUTLOOK_UA = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17928; Pro)"
CHROME_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/145.0.0.0 Safari/537.36"
)
CHROME_HINTS = {"sec-ch-ua": '"Chromium";v="145", "Google Chrome";v="145", "Not:A-Brand";v="99"'}
GMAIL_UA = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
SAFARI_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.2 Mobile/15E148 Safari/604.1"
)
HOME_IP, OFFICE_IP, SENDER_IP = "81.2.69.160", "92.40.11.7", "93.184.216.10"
SAFE_LINKS_IP = "40.107.218.12"  # Microsoft Safe Links (microsoft-ipv4)
GOOGLE_PROXY_IP = "66.249.93.84"
APPLE_IP = "104.28.28.5"
PUBLIC_URL = "https://track.acme-corp.com"  # what the links of the seeded mail point at  # Apple's Private Relay egress (apple-private-relay-ipv4)

DANA, LEE, SAM = "dana@northwind.example", "lee@fabrikam.example", "sam.taylor@gmail.example"
HTML = """<html><body><p>Hi,</p><p>Here is the proposal we discussed, with the
<a href="https://acme.test/proposal/q1">full proposal</a> and our
<a href="https://acme.test/pricing">pricing page</a>.</p>
<p>Best,<br>Alice</p></body></html>"""


@dataclass
class Day:
    world: World
    ids: dict[str, int] = field(default_factory=dict)  # a name -> message id


def _email(sender: str, to: list[str], subject: str, html: str = HTML) -> EmailMessage:
    msg = EmailMessage(policy=default_policy)
    msg["From"], msg["To"], msg["Subject"] = sender, ", ".join(to), subject
    msg.set_content("Here is the proposal: https://acme.test/proposal/q1")
    msg.add_alternative(html, subtype="html")
    return msg


def _reply(frm: str, rfc_id: str, subject: str, at: datetime, text: str, *, auto: bool = False) -> bytes:
    headers = [
        f"From: {frm}",
        "To: alice@acme.test",
        f"Subject: {subject}",
        f"Date: {format_datetime(at)}",
        f"Message-ID: <r{abs(hash((frm, rfc_id, auto)))}@mail.example>",
        f"In-Reply-To: {rfc_id}",
        f"References: {rfc_id}",
    ]
    if auto:
        headers.append("Auto-Submitted: auto-replied")
    return ("\r\n".join(headers) + "\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text + "\r\n").encode()


class Player:
    """Plays hits and inbound mail against the real endpoints at the injected clock's time."""

    def __init__(self, rt: Runtime, clock: FakeClock, client: httpx.AsyncClient, device: str) -> None:
        self.rt, self.clock, self.client, self.device = rt, clock, client, device

    async def hit(
        self,
        mid: int,
        address: str,
        at: datetime,
        *,
        ua: str,
        ip: str,
        link: int | None = None,
        decoy: bool = False,
        own: bool = False,
        hints: dict[str, str] | None = None,
    ) -> None:
        self.clock.set(at)
        msg = self.rt.store.message(mid)
        rcpt = self.rt.store.recipient_of(mid, address)
        k = self.rt.keyring
        if decoy:
            path = f"/c/{k.sign(HitKind.DECOY, msg.workspace_id, mid, rcpt.id)}"
        elif link is None:
            path = f"/o/{k.sign(HitKind.OPEN, msg.workspace_id, mid, rcpt.id)}.gif"
        else:
            path = f"/c/{k.sign(HitKind.CLICK, msg.workspace_id, mid, rcpt.id, link)}"
        headers = {"User-Agent": ua, "X-Forwarded-For": ip, **(hints or {})}
        if own:
            headers["Cookie"] = f"{DEVICE_COOKIE}={k.sign_value(DEVICE_COOKIE_PURPOSE, self.device)}"
        r = await self.client.get(path, headers=headers)
        assert r.status_code in (200, 302), (path, r.status_code, r.text)

    async def scan(self, mid: int, address: str, at: datetime) -> None:
        """A Safe-Links-style gateway: the pixel, every link and the decoy, within two seconds of delivery."""
        links = len(self.rt.store.link_urls(mid))
        await self.hit(mid, address, at, ua=CHROME_UA, ip=SAFE_LINKS_IP)
        for i in range(links):
            await self.hit(mid, address, at + timedelta(seconds=1 + i * 0.2), ua=CHROME_UA, ip=SAFE_LINKS_IP, link=i)
        await self.hit(mid, address, at + timedelta(seconds=2), ua=CHROME_UA, ip=SAFE_LINKS_IP, decoy=True)

    async def inbound(self, raw: bytes, at: datetime) -> None:
        self.clock.set(at)
        auth = base64.b64encode(f"alice@acme.test:{PASSWORD}".encode()).decode()
        r = await self.client.post("/api/v1/inbound", content=raw, headers={"Authorization": f"Basic {auth}"})
        assert r.status_code == 201, r.text


def _send(rt: Runtime, clock: FakeClock, at: datetime, sender: str, to: list[str], subject: str) -> tuple[int, str]:
    clock.set(at)
    got = instrument(rt, _email(sender, to, subject), sender=sender)
    return got.message_id, got.rfc_message_id


async def _play(rt: Runtime, clock: FakeClock, tmp: Path, device: str, now: datetime) -> dict[str, int]:
    intake = Intake(rt.store, tmp / "journal", interval=0.01)
    intake.start(asyncio.get_running_loop())
    pipe = Pipeline(rt)
    transport = httpx.ASGITransport(app=create_app(rt, intake, pipe), client=("127.0.0.1", 4000))
    ids: dict[str, int] = {}
    async with httpx.AsyncClient(transport=transport, base_url="http://t.example.test") as client:
        p = Player(rt, clock, client, device)
        day4 = now - timedelta(days=4, hours=2)
        # the rich one: a gateway then a person (Outlook), the sender re-reading it, Apple MPP, Gmail, a reply
        mid, rfc = _send(rt, clock, day4, "alice@acme.test", [DANA, LEE, SAM], "Q1 proposal for Northwind")
        ids["rich"] = mid
        await p.scan(mid, DANA, day4 + timedelta(seconds=3))
        await p.hit(mid, LEE, day4 + timedelta(seconds=40), ua="Mozilla/5.0", ip=APPLE_IP)
        await p.hit(mid, SAM, day4 + timedelta(minutes=12), ua=GMAIL_UA, ip=GOOGLE_PROXY_IP)
        await p.hit(mid, DANA, day4 + timedelta(minutes=20), ua=CHROME_UA, ip=SENDER_IP, own=True, hints=CHROME_HINTS)
        await p.hit(mid, DANA, day4 + timedelta(hours=1, minutes=5), ua=OUTLOOK_UA, ip=OFFICE_IP)
        await p.hit(
            mid, DANA, day4 + timedelta(hours=1, minutes=7), ua=CHROME_UA, ip=OFFICE_IP, link=0, hints=CHROME_HINTS
        )
        await p.hit(mid, SAM, day4 + timedelta(hours=5), ua=GMAIL_UA, ip=GOOGLE_PROXY_IP)
        await p.hit(mid, SAM, day4 + timedelta(days=1, hours=2), ua=GMAIL_UA, ip=GOOGLE_PROXY_IP)
        await p.hit(mid, LEE, day4 + timedelta(days=1, hours=3), ua=SAFARI_UA, ip=APPLE_IP, link=1)
        await p.hit(mid, DANA, day4 + timedelta(days=1, hours=4), ua=OUTLOOK_UA, ip=OFFICE_IP)
        await p.inbound(
            _reply(
                DANA,
                rfc,
                "Re: Q1 proposal for Northwind",
                day4 + timedelta(days=1, hours=5),
                "Thanks Alice, this looks good. Can we talk on Thursday?",
            ),
            day4 + timedelta(days=1, hours=5),
        )
        # engaged but silent: opened three times, no reply (follow up)
        day5 = now - timedelta(days=5, hours=1)
        mid, _ = _send(rt, clock, day5, "alice@acme.test", ["priya@contoso.example"], "Renewal terms for 2027")
        ids["silent"] = mid
        for h in (1, 26, 50):
            await p.hit(mid, "priya@contoso.example", day5 + timedelta(hours=h), ua=OUTLOOK_UA, ip=HOME_IP)
        # only machines: a gateway scanned it, nobody read it
        day3 = now - timedelta(days=3, hours=4)
        mid, _ = _send(rt, clock, day3, "alice@acme.test", ["it-desk@tailspin.example"], "Security review follow-up")
        ids["machines"] = mid
        await p.scan(mid, "it-desk@tailspin.example", day3 + timedelta(seconds=2))
        # an out-of-office and a bounce
        day2 = now - timedelta(days=2, hours=3)
        mid, rfc = _send(
            rt, clock, day2, "alice@acme.test", ["max@adatum.example", "userunknown@bouncehammer.jp"], "Workshop dates"
        )
        ids["away"] = mid
        await p.inbound(
            _reply(
                "max@adatum.example",
                rfc,
                "Automatic reply: Workshop dates",
                day2 + timedelta(minutes=1),
                "I am out of the office until Monday.",
                auto=True,
            ),
            day2 + timedelta(minutes=1),
        )
        bounce = (CORPUS / "eml/bounces/sisimai-sendmail-01.eml").read_bytes()
        await p.inbound(
            bounce.replace(b"<E1C50F1B-1C83-4820-BC36-AC6FBFBE8568@example.org>", rfc.encode()),
            day2 + timedelta(minutes=2),
        )
        # images blocked: a click proves the open
        day1 = now - timedelta(days=1, hours=6)
        mid, _ = _send(rt, clock, day1, "alice@acme.test", ["jo@litware.example"], "Your trial workspace")
        ids["click"] = mid
        await p.hit(
            mid, "jo@litware.example", day1 + timedelta(hours=2), ua=CHROME_UA, ip=HOME_IP, link=0, hints=CHROME_HINTS
        )
        # carol's (a member): one email, opened in Gmail
        mid, _ = _send(
            rt, clock, now - timedelta(hours=5), "carol@acme.test", ["ana@woodgrove.example"], "Onboarding call"
        )
        ids["carol"] = mid
        await p.hit(mid, "ana@woodgrove.example", now - timedelta(hours=4), ua=GMAIL_UA, ip=GOOGLE_PROXY_IP)
        # just sent, nothing yet
        mid, _ = _send(
            rt, clock, now - timedelta(minutes=30), "alice@acme.test", ["kim@relecloud.example"], "Invoice 2026-118"
        )
        ids["new"] = mid
    await intake.stop()
    pipe.drain()  # provisional verdicts first, as in production
    clock.set(now)
    pipe.drain()
    return ids


def start_day(tmp: Path) -> Iterator[Day]:
    """Seed the day into a fresh database, then serve it with the real `mailbeacon serve`."""
    db = f"sqlite:///{tmp / 'day.db'}"
    now = datetime.now(UTC).replace(microsecond=0)
    clock = FakeClock(now - timedelta(days=7))
    rt = Runtime.open(
        make_settings(tmp, db, public_url=PUBLIC_URL, trusted_proxies="127.0.0.0/8"), clock=clock, migrate=True
    )
    ws = rt.store.create_workspace("acme", ["acme.test"], clock())
    alice = rt.store.create_user(ws.id, "alice@acme.test", hash_password(PASSWORD), clock())
    rt.store.create_user(ws.id, "carol@acme.test", hash_password(PASSWORD), clock())
    device = rt.store.add_device(alice.id, "extension", "Chrome on the laptop", clock()).public_id
    ids = asyncio.run(_play(rt, clock, tmp, device, now))
    rt.close()
    for w in serve_existing(tmp, db, trusted_proxies="127.0.0.0/8"):
        yield Day(w, ids)
