"""Playing the day: every send through the SMTP proxy, every step against the HTTP endpoints.

The demo owns the clock (`DemoClock`): it stands still at each step's time while the step is
played, and moves on to the next one. Before it moves on, every hit answered so far is stored, so
the pipeline settles each hit with all the evidence of its window, as it would in real time.
Nothing here writes traffic into the store: hits, beacons, pairings and answers go over HTTP.
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx

from ..devices import sign_beacon
from ..errors import MailbeaconError
from ..model import HitKind
from ..runtime import Runtime
from ..smtp.client import Submission
from ..smtp.sink import Sink
from ..tokens import InvalidToken
from ..web.tracking import DEVICE_COOKIE
from .actors import Actor
from .mail import auto_reply_of, bounce_of, email_of, reply_of
from .script import Do, Send, Sender, Step

#: seconds between two links a scanner follows
SCAN_PACE = 0.08


class DemoClock:
    """Stands where the demo puts it (`set`) until `run()`; from then on it runs like a clock."""

    def __init__(self, start: datetime) -> None:
        self._at = start
        self._since: float | None = None

    def __call__(self) -> datetime:
        if self._since is None:
            return self._at
        return self._at + timedelta(seconds=time.monotonic() - self._since)

    def set(self, when: datetime) -> None:
        if self._since is not None:
            raise RuntimeError("the demo clock runs on its own now")
        self._at = max(self._at, when)

    def run(self) -> None:
        self._since = time.monotonic()


@dataclass
class Copy:
    """The tracked copy one recipient got: its Message-ID and tracking tokens."""

    message_id: str
    pixel: str = ""
    links: dict[int, str] = field(default_factory=dict)
    decoy: str = ""


_TOKEN = re.compile(r"/([oc])/([A-Za-z0-9_-]{16,})")


def read_copy(rt: Runtime, sink: Sink, send: Send) -> Copy:
    """What the upstream received for `send.to`: the tokens the proxy wrote into it."""
    copies = sink.to(send.to)
    if not copies:
        raise MailbeaconError(f"the sink received nothing for {send.to}")
    msg = copies[-1].message()
    copy = Copy(str(msg.get("Message-ID", "")).strip())
    for part in msg.walk():
        if part.get_content_type() != "text/html":
            continue
        data = part.get_payload(decode=True)
        text = data.decode(part.get_content_charset() or "utf-8", "replace") if isinstance(data, bytes) else ""
        for _, token in _TOKEN.findall(text):
            try:
                claims = rt.keyring.verify(token)
            except InvalidToken:
                continue
            if claims.kind is HitKind.OPEN:
                copy.pixel = token
            elif claims.kind is HitKind.DECOY:
                copy.decoy = token
            elif claims.link is not None:
                copy.links.setdefault(claims.link, token)
    return copy


def basic(email: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{email}:{password}".encode()).decode()}


@dataclass
class Device:
    """The sender's browser, paired as the extension pairs it."""

    device_id: str
    secret: str
    cookie: str


class Player:
    def __init__(
        self,
        rt: Runtime,
        clock: DemoClock,
        http: httpx.AsyncClient,
        stored: Callable[[], Awaitable[None]],
        passwords: dict[str, str],
    ) -> None:
        self.rt, self.clock, self.http = rt, clock, http
        self.stored = stored  # waits until every hit answered so far is in the database
        self.passwords = passwords
        self.copies: dict[str, Copy] = {}
        self.devices: dict[str, Device] = {}

    async def at(self, when: datetime) -> None:
        """Move the clock to `when`, once every hit answered before it is stored."""
        if when > self.clock():
            await self.stored()
        self.clock.set(when)

    # -- before the day ---------------------------------------------------------------------

    async def pair(self, sender: Sender) -> Device:
        """A pairing code made with the sender's password, exchanged by the extension (docs/extension.md)."""
        auth = basic(sender.email, self.passwords[sender.email])
        r = await self.http.post(
            "/api/v1/devices/pairing-codes", json={"kind": "extension", "name": "Chrome"}, headers=auth
        )
        _ok(r, "making a pairing code")
        r = await self.http.post("/api/v1/devices/pair", json={"code": r.json()["code"], "name": "Chrome on a Mac"})
        _ok(r, "pairing the browser")
        body = r.json()
        dev = Device(body["device_id"], body["secret"], body["cookie"]["value"])
        ts = int(self.clock().timestamp())
        sig = _sign(dev, "heartbeat", ts)
        beat = {"device": dev.device_id, "ts": ts, "sig": sig, "sites": ["mail.google.com"], "last_acted": ts}
        _ok(await self.http.post("/api/v1/devices/heartbeat", json=beat), "the extension's heartbeat")
        self.devices[sender.email] = dev
        self.http.cookies.clear()  # the cookie is the paired browser's, not every client's
        return dev

    # -- the day ----------------------------------------------------------------------------

    async def play(self, sink: Sink, sends: Sequence[Send], times: Sequence[datetime], smtp: tuple[str, int]) -> None:
        """Every email through the SMTP proxy at its time (each sender logged in as a mail client
        is), and every step of its recipient at its own, in the order of time."""
        timeline = sorted(
            [(times[i], i, -1) for i in range(len(sends))]
            + [
                (times[i] + timedelta(seconds=st.after), i, n)
                for i, s in enumerate(sends)
                for n, st in enumerate(s.steps)
            ]
        )
        sessions: dict[str, Submission] = {}
        try:
            for when, i, n in timeline:
                await self.at(when)
                send = sends[i]
                if n >= 0:
                    await self.step(send, send.steps[n], when)
                    continue
                session = sessions.get(send.sender.email)
                if session is None:
                    session = sessions[send.sender.email] = Submission(
                        *smtp, send.sender.email, self.passwords[send.sender.email]
                    )
                    await session.__aenter__()
                answer = await session.send(email_of(send, when, i))
                if not answer.startswith("2"):
                    raise MailbeaconError(f"the SMTP proxy refused the email to {send.to}: {answer}")
                self.copies[send.to] = read_copy(self.rt, sink, send)
        finally:
            for session in sessions.values():
                await session.__aexit__()

    async def step(self, send: Send, step: Step, when: datetime) -> None:
        copy = self.copies[send.to]
        if step.do is Do.OPEN:
            await self.hit(f"/o/{copy.pixel}.gif", _actor(step), send)
        elif step.do is Do.CLICK:
            await self.hit(f"/c/{copy.links[step.link]}", _actor(step), send)
        elif step.do is Do.SCAN:
            await self.scan(send, copy, _actor(step), when)
        elif step.do is Do.SELF_VIEW:
            await self.self_view(send, copy)
        else:
            build = {Do.REPLY: reply_of, Do.AUTO_REPLY: auto_reply_of, Do.BOUNCE: bounce_of}[step.do]
            await self.inbound(send, build(send, copy.message_id, when))

    async def hit(self, path: str, actor: Actor, send: Send, method: str = "GET") -> None:
        actor = actor.at(self.clock().date())
        headers = {"User-Agent": actor.user_agent, "X-Forwarded-For": actor.ip, **dict(actor.headers)}
        if actor.paired:
            headers["Cookie"] = f"{DEVICE_COOKIE}={self.devices[send.sender.email].cookie}"
        self.http.cookies.clear()  # each actor is its own client: only the paired browser has the cookie
        r = await self.http.request(method, path, headers=headers)
        if r.status_code not in (200, 302):
            raise MailbeaconError(f"{path[:12]}… answered {r.status_code} for {actor.name}")

    async def scan(self, send: Send, copy: Copy, actor: Actor, when: datetime) -> None:
        """A security gateway at delivery: the pixel, then every link and the hidden one."""
        await self.hit(f"/o/{copy.pixel}.gif", actor, send)
        paths = [f"/c/{copy.links[k]}" for k in sorted(copy.links)] + ([f"/c/{copy.decoy}"] if copy.decoy else [])
        for k, path in enumerate(paths, 1):
            self.clock.set(when + timedelta(seconds=0.3 + k * SCAN_PACE))
            await self.hit(path, actor, send)

    async def self_view(self, send: Send, copy: Copy) -> None:
        """The extension tells the server the sender's browser is showing this email (signed)."""
        dev = self.devices[send.sender.email]
        ts = int(self.clock().timestamp())
        body = {"token": copy.pixel, "device": dev.device_id, "ts": ts, "sig": _sign(dev, copy.pixel, ts)}
        _ok(await self.http.post("/api/v1/self-view", json=body), "the self-view beacon")

    async def inbound(self, send: Send, raw: bytes) -> None:
        """What came back, handed over as an MTA does (`POST /api/v1/inbound`, the sender's login)."""
        auth = basic(send.sender.email, self.passwords[send.sender.email])
        r = await self.http.post("/api/v1/inbound", content=raw, headers={**auth, "Content-Type": "message/rfc822"})
        _ok(r, f"handing in the answer of {send.to}")
        if not r.json().get("matched"):
            raise MailbeaconError(f"the answer of {send.to} was not matched to its email: {r.text[:200]}")


def _sign(dev: Device, token: str, ts: int) -> str:
    return sign_beacon(dev.secret, dev.device_id, token, ts)


def _actor(step: Step) -> Actor:
    if step.actor is None:
        raise MailbeaconError(f"the step {step.do} at +{step.after:.0f} s has nobody to play it")
    return step.actor


def _ok(r: httpx.Response, what: str) -> None:
    if r.status_code >= 300:
        raise MailbeaconError(f"{what} failed: HTTP {r.status_code} {r.text[:200]}")


async def wait_for(condition: Callable[[], bool], what: str, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise MailbeaconError(f"the demo waited {within:.0f} s for {what}")
        await asyncio.sleep(0.01)
