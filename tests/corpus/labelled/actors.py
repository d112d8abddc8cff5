"""Scenario records and the actors (people, gateways, proxies, unfurlers) that fill them."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sources import (
    APPLE4,
    APPLE6,
    APPLE_MAIL_UAS,
    BING4,
    GMAIL_PROXY_UA,
    LANGS,
    MPP_UA,
    OUTLOOK_UAS,
    PEOPLE_UAS,
    POSTBOX_UAS,
    SAFE_LINKS_UAS,
    UNFURLERS,
    browser_headers,
    current_chrome,
    gmail_proxy_ip,
    ip_in,
    other_cloud_ip,
    residential_ip,
    safe_links_ip,
)

BASE = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass
class Scenario:
    name: str
    sent_at: datetime
    recipient: str
    links: int
    sender: str = "alice@acme.test"
    domains: tuple[str, ...] = ("acme.test",)
    members: tuple[str, ...] = ()
    sender_addresses: tuple[str, ...] = ()
    devices: tuple[str, ...] = ("dev-alice-1",)
    headers_recorded: bool = True
    events: list[dict[str, Any]] = field(default_factory=list)
    replies: int = 0
    #: other recipients' hits of the same message (context only, never labelled)
    peers: list[dict[str, Any]] = field(default_factory=list)

    def add(
        self,
        after: float,
        kind: str,
        ua: str,
        ip: str,
        expect: str,
        *,
        link: int | None = None,
        method: str = "GET",
        headers: dict[str, str] | None = None,
        device: str | None = None,
    ) -> None:
        e: dict[str, Any] = {"at": _iso(self.sent_at + timedelta(seconds=after)), "kind": kind}
        if link is not None:
            e["link"] = link
        e.update(method=method, ip=ip, user_agent=ua, headers=(headers or {}) if self.headers_recorded else {})
        if device:
            e["device"] = device
        e["expect"] = expect
        self.events.append(e)

    def peer(
        self,
        after: float,
        recipient: str,
        kind: str,
        ua: str,
        ip: str,
        *,
        link: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """A hit of another recipient of the same message (a colleague, the rest of a campaign)."""
        e: dict[str, Any] = {"recipient": recipient, "at": _iso(self.sent_at + timedelta(seconds=after)), "kind": kind}
        if link is not None:
            e["link"] = link
        e.update(method="GET", ip=ip, user_agent=ua, headers=(headers or {}) if self.headers_recorded else {})
        self.peers.append(e)

    def beacon(self, after: float, device: str) -> None:
        self.events.append({"at": _iso(self.sent_at + timedelta(seconds=after)), "kind": "self_view", "device": device})

    def reply(self, after: float, kind: str = "reply") -> None:
        self.events.append({"at": _iso(self.sent_at + timedelta(seconds=after)), "kind": kind})
        if kind == "reply":
            self.replies += 1

    def to_json(self) -> dict[str, Any]:
        events = sorted(self.events, key=lambda e: e["at"])
        opens_h = sum(1 for e in events if e["kind"] == "open" and e.get("expect") == "human")
        clicks_h = sum(1 for e in events if e["kind"] == "click" and e.get("expect") == "human")
        clicks_s = sum(1 for e in events if e["kind"] == "click" and e.get("expect") == "self")
        inferred = 1 if opens_h == 0 and (clicks_h or self.replies) else 0
        counts = {"opens": opens_h + inferred, "opens_inferred": inferred, "clicks": clicks_h + clicks_s}
        if any(e["kind"] in ("reply", "auto_reply", "bounce") for e in events):
            counts["replies"] = self.replies
        message: dict[str, Any] = {
            "sent_at": _iso(self.sent_at),
            "sender": self.sender,
            "workspace_domains": list(self.domains),
            "links": self.links,
            "sender_devices": list(self.devices),
        }
        if self.members:
            message["workspace_members"] = list(self.members)
        if self.sender_addresses:
            message["sender_addresses"] = list(self.sender_addresses)
        out = {
            "scenario": self.name,
            "message": message,
            "recipient": self.recipient,
            "events": events,
            "expect_counts": counts,
        }
        if self.peers:
            out["peers"] = sorted(self.peers, key=lambda e: e["at"])
        return out


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class World:
    """Actors with their behaviour; each method adds one actor's requests to a scenario."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.count = 0

    def new(self, name: str, recipient: str, links: int, **kw: Any) -> Scenario:
        """A scenario for one recipient; messages are sent a few days apart from 2 March 2026."""
        self.count += 1
        rng = self.rng
        days = self.count * 3 + rng.randrange(3)
        sent = BASE + timedelta(days=days, hours=rng.randrange(0, 10), minutes=rng.randrange(60))
        return Scenario(f"{name}-{self.count:02d}", sent, recipient, links, **kw)

    # time draws
    def person_delay(self) -> float:
        """A person's first look: minutes to a couple of days after sending (log-uniform)."""
        return 10 ** self.rng.uniform(2.4, 5.2)

    def gateway_start(self) -> float:
        """When a gateway starts scanning (craft-campaign#546: 66 % in 20-60 s, median ~43 s; gophish#2115: 22 s)."""
        r = self.rng.random()
        if r < 0.12:
            return self.rng.uniform(2, 20)
        if r < 0.78:
            return self.rng.uniform(20, 60)
        return self.rng.uniform(60, 300)

    # people
    def person(
        self,
        sc: Scenario,
        start: float,
        *,
        ua: str | None = None,
        ip: str | None = None,
        opens: int = 1,
        clicks: int = 0,
        spread: float = 86400.0,
        pixel: bool = True,
        expect: str = "human",
        device: str | None = None,
    ) -> float:
        rng = self.rng
        ua = ua or rng.choice(PEOPLE_UAS)
        ip = ip or residential_ip(rng, v6=rng.random() < 0.15)
        t = start
        last = t
        for i in range(opens if pixel else 0):
            sc.add(t, "open", ua, ip, expect, headers=self._headers(ua, "open"), device=device)
            last = t
            if i + 1 < opens:
                t += rng.uniform(600, spread)
        ct = start + rng.uniform(4, 90)
        for _ in range(clicks):
            link = rng.randrange(sc.links)
            sc.add(ct, "click", ua, ip, expect, link=link, headers=self._headers(ua, "click"), device=device)
            last = max(last, ct)
            ct += rng.uniform(8, 400)
        return last

    def _headers(self, ua: str, kind: str) -> dict[str, str]:
        if ua in OUTLOOK_UAS or ua in POSTBOX_UAS:
            return {"accept": "*/*", "accept-language": self.rng.choice(LANGS)}
        if ua in APPLE_MAIL_UAS:
            return {
                "accept": "image/webp,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5",
                "accept-language": self.rng.choice(LANGS),
            }
        return browser_headers(self.rng, ua, kind)

    def gmail_reader(self, sc: Scenario, start: float, opens: int, *, expect: str = "human") -> float:
        t = start
        for _ in range(opens):
            sc.add(t, "open", GMAIL_PROXY_UA, gmail_proxy_ip(self.rng), expect)
            t += self.rng.uniform(300, 50000)
        return t

    # machines
    def safe_links(
        self,
        sc: Scenario,
        start: float,
        *,
        pixel: bool = True,
        head: bool = False,
        decoy: bool = False,
        modern: bool = False,
        ip: str | None = None,
        repeat: int = 1,
    ) -> None:
        rng = self.rng
        ua = current_chrome(sc.sent_at.date()) if modern else rng.choice(SAFE_LINKS_UAS)
        ip = ip or safe_links_ip(rng)
        hdr = (
            browser_headers(rng, ua, "click")
            if modern
            else rng.choice(({"accept": "*/*"}, {}, {"accept": "*/*", "accept-encoding": "gzip"}))
        )
        t = start
        if pixel:
            sc.add(t + rng.uniform(-1.5, 1.5), "open", ua, ip, "scanner", headers=hdr)
        order = list(range(sc.links))
        rng.shuffle(order)
        for _ in range(repeat):
            for link in order:
                t += rng.uniform(0.04, 0.35)
                sc.add(t, "click", ua, ip, "scanner", link=link, method="HEAD" if head else "GET", headers=hdr)
            if decoy:
                t += rng.uniform(0.04, 0.35)
                sc.add(t, "decoy", ua, ip, "scanner", headers=hdr)
            t += rng.uniform(0.5, 3)

    def fanout_gateway(self, sc: Scenario, start: float) -> None:
        """A gateway that spaces its fetches out (seconds apart) from a Microsoft address."""
        rng = self.rng
        ua, ip = rng.choice(SAFE_LINKS_UAS), safe_links_ip(rng)
        t = start
        sc.add(t, "open", ua, ip, "scanner", headers={"accept": "*/*"})
        for link in range(sc.links):
            t += rng.uniform(3, 9)
            sc.add(t, "click", ua, ip, "scanner", link=link, headers={"accept": "*/*"})

    def click_time_check(self, sc: Scenario, person_at: float, link: int, ua: str, ip: str) -> None:
        """Mimecast/Proofpoint: the gateway fetches the link just before the person's browser."""
        sc.add(
            person_at - self.rng.uniform(0.3, 5.0),
            "click",
            ua,
            ip,
            "scanner",
            link=link,
            headers=self.rng.choice(({"accept": "*/*"}, {})),
        )

    def unfurl(self, sc: Scenario, at: float, app: str, link: int, *, also_pixel: bool = False) -> None:
        ua = self.rng.choice(UNFURLERS[app])
        ip = ip_in(self.rng, BING4) if app == "bing" else other_cloud_ip(self.rng)
        sc.add(at, "click", ua, ip, "preview", link=link)
        if self.rng.random() < 0.5:
            sc.add(at + self.rng.uniform(0.1, 2), "click", ua, ip, "preview", link=link)
        if also_pixel:
            sc.add(at + self.rng.uniform(0.1, 1), "open", ua, ip, "preview")

    def mpp(self, sc: Scenario, at: float) -> None:
        v6 = self.rng.random() < 0.4
        sc.add(at, "open", MPP_UA, ip_in(self.rng, APPLE6 if v6 else APPLE4), "machine_open")
