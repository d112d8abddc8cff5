"""The skeptic's set (`../labelled-skeptic.jsonl`): traffic built from other evidence than the rules use.

The main corpus draws each actor from the traits the rules look for (outdated Chrome from
Microsoft's ranges, bursts at delivery, people at home with complete headers). Here each actor
breaks one of those habits, the way a skeptical user would test the numbers:

- scanners with a current browser and complete headers from home (residential-proxy) addresses,
  at delivery and later, and click-time checks that look like a browser;
- people behind corporate proxies in cloud and hosting ranges (AWS, Azure, Google Cloud, Oracle),
  fast readers there, and proxies that strip request headers;
- the recipients of one campaign on Gmail, whose proxy fetches share addresses within seconds,
  and colleagues behind one office address reading an all-hands email together;
- people who ctrl-click several links into tabs under a second apart after reading (the "new
  user" test: seconds after sending), after reading in Gmail or Outlook, or with images blocked;
- tools whose user agent no list knows, from hosting networks and from home;
- people on a consumer VPN (ProtonVPN exit addresses) and on odd but real browsers.

Labels say what each actor was. A tool is labelled `scanner` (an automated fetch) wherever it
runs. Deterministic (its own seed); `build.py` writes it next to the main corpus.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date

from actors import Scenario, World
from sources import (
    GMAIL_PROXY_UA,
    GOOGLE4,
    MICROSOFT4,
    OTHER_PEOPLE_UAS,
    OUTLOOK_UAS,
    PEOPLE_UAS,
    _ranges,
    browser_headers,
    current_chrome,
    current_firefox,
    gmail_proxy_ip,
    ip_in,
    residential_ip,
)

SEED = 20261202
AMAZON4 = _ranges("amazon-ipv4-merged.txt")
ORACLE4 = _ranges("oracle-ipv4-merged.txt")
HOSTING4 = {
    "amazon": AMAZON4,
    "oracle": ORACLE4,
    "digitalocean": _ranges("digitalocean-ipv4-merged.txt"),
    "linode": _ranges("linode-ipv4-merged.txt"),
    "vultr": _ranges("vultr-ipv4-merged.txt"),
}
PROTONVPN4 = _ranges("protonvpn-ipv4-merged.txt")
#: Azure regions where virtual desktops and corporate egress live (not EOP's mail ranges)
AZURE4 = [n for n in MICROSOFT4 if str(n).startswith(("20.", "4.", "13.", "52.1", "51."))]
GCP4 = [n for n in GOOGLE4 if str(n).startswith("35.")]


def current_safari(day: date) -> str:
    """Safari of the day on macOS: 26 from September 2025 (named after the year), minor per quarter."""
    minor = max(0, (day - date(2025, 9, 15)).days // 90)
    return (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        f"Version/26.{minor} Safari/605.1.15"
    )


def current_edge(day: date) -> str:
    major = 120 + (day - date(2023, 12, 7)).days // 32
    return current_chrome(day) + f" Edg/{major}.0.0.0"


def current_browser(rng: random.Random, day: date) -> str:
    return rng.choice((current_chrome, current_chrome, current_firefox, current_safari, current_edge))(day)


def tool_ua(rng: random.Random) -> str:
    """A tool's own user agent in the shapes tools use, with invented names (so no list knows it)."""
    name = rng.choice(("quillet", "marrow", "tessel", "brindle", "osprey", "fenwick", "larkspur", "cobble"))
    part = rng.choice(("sync", "index", "notes", "mirror", "digest", "capture"))
    return rng.choice(
        (
            f"{name}/v0-{rng.randint(100, 999)}-g{rng.getrandbits(28):07x}",
            f"Mozilla/5.0 (compatible; {name.capitalize()}::{part.capitalize()}/{rng.randint(1, 4)}.{rng.randint(0, 9)})",
            f"{name}-{part}/{rng.randint(0, 3)}.{rng.randint(0, 20)}.{rng.randint(0, 9)} (build {rng.randint(10, 999)})",
        )
    )


def _open_then_tabs(w: World, sc: Scenario, opened: float, ua: str, ip: str, *, gmail: bool = False) -> None:
    """A reader opens the email, then opens 3-4 links in new tabs, under a second apart."""
    rng = w.rng
    if gmail:
        sc.add(opened, "open", GMAIL_PROXY_UA, gmail_proxy_ip(rng), "human")
    else:
        sc.add(opened, "open", ua, ip, "human", headers=browser_headers(rng, ua, "open"))
    t = opened + rng.uniform(25, 90)
    for link in rng.sample(range(sc.links), min(sc.links, rng.randint(3, 4))):
        sc.add(t, "click", ua, ip, "human", link=link, headers=browser_headers(rng, ua, "click"))
        t += rng.uniform(0.15, 0.45)


def residential_sandboxes(w: World) -> Iterator[Scenario]:
    """Scanners that look like a person's browser: current version, complete headers, home address."""
    rng = w.rng
    for i in range(9):
        late = i >= 6
        sc = w.new("sandbox-full-headers-late" if late else "sandbox-full-headers", f"m{i}@target{i}.example", 4)
        ua, ip = current_browser(rng, sc.sent_at.date()), residential_ip(rng)
        start = rng.uniform(600, 3600) if late else w.gateway_start()
        sc.add(start + rng.uniform(-1.5, 1.5), "open", ua, ip, "scanner", headers=browser_headers(rng, ua, "open"))
        t = start
        for link in range(sc.links):
            t += rng.uniform(0.04, 0.35)
            sc.add(t, "click", ua, ip, "scanner", link=link, headers=browser_headers(rng, ua, "click"))
        w.person(sc, start + rng.uniform(3600, 30000), opens=rng.randint(1, 3), clicks=rng.randint(0, 2))
        yield sc
    for i in range(2):  # a click-time check that sends what a browser sends, from a home address
        sc = w.new("click-time-check-full-headers", f"ops{i}@guarded{i}.example", 3)
        gw_ua, gw_ip = current_chrome(sc.sent_at.date()), residential_ip(rng)
        ua, ip = rng.choice(PEOPLE_UAS), residential_ip(rng)
        t = w.person(sc, w.person_delay(), ua=ua, ip=ip, opens=1)
        for link in range(2):
            t += rng.uniform(30, 600)
            sc.add(
                t - rng.uniform(0.3, 5),
                "click",
                gw_ua,
                gw_ip,
                "scanner",
                link=link,
                headers=browser_headers(rng, gw_ua, "click"),
            )
            sc.add(t, "click", ua, ip, "human", link=link, headers=browser_headers(rng, ua, "click"))
        yield sc


def corporate_proxies(w: World) -> Iterator[Scenario]:
    """People whose office traffic leaves through a proxy in a cloud or hosting range."""
    rng = w.rng
    pools = (AMAZON4, AZURE4, GCP4, ORACLE4, AMAZON4, AZURE4)
    for i, pool in enumerate(pools):
        sc = w.new("person-behind-cloud-proxy", f"staff{i}@corp{i}.example", rng.randint(3, 6))
        ua, ip = current_browser(rng, sc.sent_at.date()), ip_in(rng, pool)
        if i % 2:
            _open_then_tabs(w, sc, w.person_delay(), ua, ip)
        else:
            w.person(sc, w.person_delay(), ua=ua, ip=ip, opens=rng.randint(1, 4), clicks=rng.randint(1, 3))
        yield sc
    for i in range(2):  # a notification: read within two minutes of sending
        sc = w.new("quick-reader-behind-cloud-proxy", f"desk{i}@corp-q{i}.example", 2)
        ua, ip = current_browser(rng, sc.sent_at.date()), ip_in(rng, (AMAZON4, AZURE4)[i])
        w.person(sc, rng.uniform(40, 110), ua=ua, ip=ip, opens=1, clicks=1)
        yield sc
    for i in range(3):  # a proxy that forwards no Accept-Language and no Sec-Fetch-* headers
        sc = w.new("header-stripping-cloud-proxy", f"user{i}@strip{i}.example", 3)
        ua, ip = current_browser(rng, sc.sent_at.date()), ip_in(rng, (AMAZON4, GCP4, AZURE4)[i])
        start = rng.uniform(50, 110) if i == 2 else w.person_delay() + 600
        sc.add(start, "open", ua, ip, "human", headers={"accept": "*/*"})
        for link in range(2):
            sc.add(
                start + rng.uniform(20, 200) * (link + 1),
                "click",
                ua,
                ip,
                "human",
                link=link,
                headers={"accept": "*/*"},
            )
        yield sc


def shared_addresses(w: World) -> Iterator[Scenario]:
    """Several recipients of one message behind the same addresses within seconds."""
    rng = w.rng
    for i in range(4):  # one campaign to many Gmail users: Google's proxy fetches share addresses
        sc = w.new("gmail-campaign", f"fan{i}@gmail-campaign.example", 2)
        t = rng.uniform(30, 90) if i == 0 else w.person_delay()
        for _ in range(rng.randint(1, 4)):
            ip = gmail_proxy_ip(rng)
            sc.add(t, "open", GMAIL_PROXY_UA, ip, "human")
            for k in range(rng.randint(2, 6)):
                sc.peer(t + rng.uniform(-20, 20), f"reader{k}@gmail-campaign.example", "open", GMAIL_PROXY_UA, ip)
            t += rng.uniform(600, 40000)
        yield sc
    for i in range(3):  # an all-hands email: colleagues behind one office address open it together
        sc = w.new("office-all-hands", f"staff{i}@office-nat.example", 2)
        ip = residential_ip(rng)
        t = rng.uniform(600, 2400)
        ua = current_browser(rng, sc.sent_at.date())
        sc.add(t, "open", ua, ip, "human", headers=browser_headers(rng, ua, "open"))
        for k in range(rng.randint(2, 5)):
            other = current_browser(rng, sc.sent_at.date())
            sc.peer(t + rng.uniform(-25, 25), f"colleague{k}@office-nat.example", "open", other, ip,
                    headers=browser_headers(rng, other, "open"))  # fmt: skip
        yield sc


def ctrl_click_people(w: World) -> Iterator[Scenario]:
    """People who open several links in new tabs under a second apart."""
    rng = w.rng
    for i in range(6):  # the new user's test: read at once (i < 3), or later in the day
        sc = w.new("ctrl-click-after-open", f"tester{i}@home{i}.example", rng.randint(3, 6))
        ua = current_browser(rng, sc.sent_at.date())
        ip = residential_ip(rng, v6=i % 3 == 2)
        _open_then_tabs(w, sc, rng.uniform(15, 60) if i < 3 else w.person_delay(), ua, ip)
        yield sc
    for i in range(3):
        sc = w.new("ctrl-click-after-gmail-open", f"gm{i}@gmail-home{i}.example", rng.randint(3, 5))
        ua = current_browser(rng, sc.sent_at.date())
        _open_then_tabs(w, sc, rng.uniform(20, 90) if i == 0 else w.person_delay(), ua, residential_ip(rng), gmail=True)
        yield sc
    for i in range(2):  # images blocked: no open, hours later
        sc = w.new("ctrl-click-images-blocked", f"ib{i}@home-ib{i}.example", 4)
        ua, ip = current_browser(rng, sc.sent_at.date()), residential_ip(rng)
        t = rng.uniform(3600, 70000)
        for link in range(3):
            sc.add(t + link * rng.uniform(0.15, 0.45), "click", ua, ip, "human", link=link,
                   headers=browser_headers(rng, ua, "click"))  # fmt: skip
        yield sc


def tools_and_odd_clients(w: World) -> Iterator[Scenario]:
    """User agents no list knows: tools (machines wherever they run), odd real browsers, VPN users."""
    rng = w.rng
    nets = [*HOSTING4.values(), AZURE4, GCP4]
    for i in range(7):
        sc = w.new("unknown-tool-from-cloud", f"kb{i}@wiki{i}.example", 3)
        ua, ip = tool_ua(rng), ip_in(rng, nets[i % len(nets)])
        t = rng.uniform(30, 90000)
        if i % 2:
            sc.add(t, "open", ua, ip, "scanner")
        for link in rng.sample(range(sc.links), rng.randint(1, 3)):
            sc.add(t + rng.uniform(0.5, 60), "click", ua, ip, "scanner", link=link)
        w.person(sc, w.person_delay(), opens=rng.randint(1, 3), clicks=rng.randint(0, 1))
        yield sc
    for i in range(3):
        sc = w.new("unknown-tool-at-home", f"nas{i}@homelab{i}.example", 2)
        ua, ip = tool_ua(rng), residential_ip(rng)
        sc.add(rng.uniform(60, 90000), "click", ua, ip, "scanner", link=rng.randrange(2))
        w.person(sc, w.person_delay(), opens=1)
        yield sc
    for i in range(3):
        sc = w.new("odd-browser-person", f"retro{i}@hobby{i}.example", 2)
        w.person(sc, w.person_delay(), ua=rng.choice(OTHER_PEOPLE_UAS), opens=rng.randint(1, 3), clicks=1)
        yield sc
    for i in range(3):
        sc = w.new("person-on-consumer-vpn", f"private{i}@vpn-user{i}.example", 3)
        ua, ip = current_browser(rng, sc.sent_at.date()), ip_in(rng, PROTONVPN4)
        start = rng.uniform(30, 100) if i == 0 else w.person_delay()
        w.person(sc, start, ua=ua, ip=ip, opens=rng.randint(1, 3), clicks=rng.randint(1, 2))
        yield sc


def mail_client_then_tabs(w: World) -> Iterator[Scenario]:
    """A reader in a desktop mail client who opens several links, which open in the browser."""
    rng = w.rng
    for i in range(3):
        sc = w.new("ctrl-click-after-outlook-open", f"ol{i}@home-ol{i}.example", 4)
        ip, ua = residential_ip(rng), current_browser(rng, sc.sent_at.date())
        opened = rng.uniform(20, 90) if i == 0 else w.person_delay()
        sc.add(
            opened, "open", rng.choice(OUTLOOK_UAS), ip, "human", headers={"accept": "*/*", "accept-language": "en-GB"}
        )
        t = opened + rng.uniform(20, 120)
        for link in range(3):
            sc.add(t + link * rng.uniform(0.15, 0.45), "click", ua, ip, "human", link=link,
                   headers=browser_headers(rng, ua, "click"))  # fmt: skip
        yield sc


FAMILIES = (
    residential_sandboxes,
    corporate_proxies,
    shared_addresses,
    ctrl_click_people,
    tools_and_odd_clients,
    mail_client_then_tabs,
)


def build(seed: int = SEED) -> list[dict[str, object]]:
    w = World(seed)
    return [sc.to_json() for family in FAMILIES for sc in family(w)]
