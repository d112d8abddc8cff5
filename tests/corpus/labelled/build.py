"""Build tests/corpus/labelled-hits.jsonl: labelled tracking traffic for `mailbeacon eval`.

    .venv/bin/python tests/corpus/labelled/build.py   # rewrites ../labelled-hits.jsonl and ../labelled-skeptic.jsonl

Deterministic (fixed seed). Every scenario simulates who really requested the pixel or a link
and labels each request with that actor, never with what mailbeacon's rules would say: this
script does not import the classifier. Actors draw their data from the real third-party files in
tests/corpus/:

- people: user agents from isbot's labelled browser fixtures (`isbot-browsers.part-A.yml`, mail
  clients under the `Outlook`, `Outlook Express`, `Postbox` and `Webkit` keys), at
  residential addresses (random public IPv4/IPv6 outside every listed cloud range); a few people
  use a current browser (a real template with the version the release train had on the day);
- Microsoft Safe Links / sandbox: addresses inside `microsoft-ipv4-merged.txt`, outdated desktop
  Chrome user agents at the versions reported in signatures.md §2.6;
- Gmail image proxy / prefetch, Yahoo proxy, Apple MPP: the user agents and ranges of
  signatures.md §2.1-2.5 (`google-ipv4-merged.txt`, `apple-private-relay-*-merged.txt`);
- unfurlers, HTTP libraries, headless browsers, crawlers: the `instances` of monperrus'
  list by tag and isbot's crawler fixtures; Google-Safety and Barracuda per §2.9-2.10.

Timing follows the evidence: gateways start 2 s - 5 min after sending (median ~45 s, bursts of
links within about a second; craft-campaign#546, gophish#2115), click-time checks land 0.3-5 s
before the person (Mimecast/Proofpoint), people open minutes to days later. Expected counts are
derived from the labels with the product's counting rules (R1-R6). docs/classification.md
("The labelled corpus") describes every scenario family.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import skeptic
from actors import Scenario, World
from sources import (
    APPLE4,
    APPLE_MAIL_UAS,
    BARRACUDA_UA,
    GENERIC_CRAWLERS,
    GMAIL_PREFETCH_UA,
    GMAIL_PROXY_UA,
    GOOGLE_SAFETY_UAS,
    GOOGLEBOT4,
    HEADLESS_UAS,
    HTTP_LIB_UAS,
    MICROSOFT4,
    MPP_UA,
    ONE_OUTLOOK_UA,
    OTHER_PEOPLE_UAS,
    OUTLOOK_UAS,
    PEOPLE_UAS,
    POSTBOX_UAS,
    PROOFPOINT4,
    SAFARI_UAS,
    SAFE_LINKS_UAS,
    YAHOO_PREVIEW_UA,
    YAHOO_PROXY_UA,
    browser_headers,
    current_chrome,
    current_firefox,
    gcp_ip,
    gmail_proxy_ip,
    ip_in,
    other_cloud_ip,
    residential_ip,
    safe_links_ip,
)

OUT = Path(__file__).resolve().parent.parent / "labelled-hits.jsonl"
#: the skeptic's set (skeptic.py): built from other evidence than the rules use, scored separately
SKEPTIC_OUT = OUT.with_name("labelled-skeptic.jsonl")
SEED = 20261127


def product_rows(w: World) -> Iterator[Scenario]:
    """The rows of PRODUCT.md's scenario table (and Yahoo, which the Gmail row implies)."""
    rng = w.rng
    # PRODUCT row 1: own other address, opened in the paired browser (self), clicks count
    for variant in ("cookie", "gmail", "cookie", "gmail"):
        sc = w.new(
            f"own-address-paired-{variant}",
            "alice.private@gmail.example",
            3,
            sender_addresses=("alice@acme.test", "alice.private@gmail.example"),
        )
        t = rng.uniform(60, 3000)
        for _ in range(rng.randint(4, 9)):
            if variant == "cookie":
                ua = current_chrome(sc.sent_at.date(), "Macintosh; Intel Mac OS X 10_15_7")
                sc.add(
                    t,
                    "open",
                    ua,
                    residential_ip(rng),
                    "self",
                    headers=browser_headers(rng, ua, "open"),
                    device="dev-alice-1",
                )
            else:
                sc.beacon(t, "dev-alice-1")
                sc.add(t + rng.uniform(0.3, 4), "open", GMAIL_PROXY_UA, gmail_proxy_ip(rng), "self")
            t += rng.uniform(900, 40000)
        ua = current_chrome(sc.sent_at.date(), "Macintosh; Intel Mac OS X 10_15_7")
        for link in range(2):
            sc.add(
                t + 20 * link + 5,
                "click",
                ua,
                residential_ip(rng),
                "self",
                link=link,
                headers=browser_headers(rng, ua, "click"),
                device="dev-alice-1",
            )
        yield sc

    # PRODUCT row 2: own other address, opened on a phone / another browser: counted
    sc = w.new(
        "own-address-phone",
        "alice.private@icloud.example",
        2,
        sender_addresses=("alice@acme.test", "alice.private@icloud.example"),
    )
    w.person(sc, w.person_delay(), ua=rng.choice(APPLE_MAIL_UAS), opens=4, clicks=1, spread=30000)
    w.person(sc, w.person_delay(), ua=rng.choice(SAFARI_UAS), opens=2, clicks=1)
    yield sc

    # PRODUCT row 3: colleagues (R6): opens and clicks count; one behind the workspace's own Safe Links
    for i in range(4):
        sc = w.new("colleague", f"bob{i}@acme.test", 3, members=("bob0@acme.test", "bob1@acme.test", "bob2@acme.test"))
        if i >= 2:
            w.safe_links(sc, w.gateway_start())
        w.person(sc, w.person_delay(), ua=rng.choice(OUTLOOK_UAS), opens=rng.randint(2, 5), spread=20000)
        w.person(sc, w.person_delay(), opens=1, clicks=rng.randint(1, 3))
        yield sc

    # PRODUCT row 4: the sender re-reads the sent email (Sent folder, thread view) in the paired browser
    for variant in ("gmail", "cookie", "gmail", "cookie"):
        sc = w.new(f"sent-folder-{variant}", f"lead{w.count}@client{w.count}.example", 4)
        w.gmail_reader(sc, w.person_delay(), rng.randint(2, 5))
        t = rng.uniform(30, 600)
        for _ in range(rng.randint(4, 10)):
            if variant == "gmail":
                sc.beacon(t, "dev-alice-1")
                sc.add(t + rng.uniform(0.2, 6), "open", GMAIL_PROXY_UA, gmail_proxy_ip(rng), "self")
                if rng.random() < 0.3:  # the thread shows the image twice
                    sc.add(t + rng.uniform(6.5, 9.5), "open", GMAIL_PROXY_UA, gmail_proxy_ip(rng), "self")
            else:
                ua = current_chrome(sc.sent_at.date())
                sc.add(
                    t,
                    "open",
                    ua,
                    residential_ip(rng),
                    "self",
                    headers=browser_headers(rng, ua, "open"),
                    device="dev-alice-1",
                )
            t += rng.uniform(1800, 80000)
        ua = current_chrome(sc.sent_at.date())
        sc.add(
            t,
            "click",
            ua,
            residential_ip(rng),
            "self",
            link=1,
            headers=browser_headers(rng, ua, "click"),
            device="dev-alice-1",
        )
        yield sc

    # PRODUCT row 5: external recipients reading directly (browsers, webmail, mail clients)
    for i in range(24):
        sc = w.new("external-reader", f"client{i}@buyer{i}.example", rng.randint(1, 6))
        pool = rng.choice((PEOPLE_UAS, OUTLOOK_UAS, APPLE_MAIL_UAS, OTHER_PEOPLE_UAS, POSTBOX_UAS))
        w.person(sc, w.person_delay(), ua=rng.choice(pool), opens=rng.randint(3, 14), clicks=rng.randint(0, 5))
        if i % 2:
            w.person(sc, w.person_delay() * 2, opens=rng.randint(1, 3), clicks=rng.randint(0, 2))
        yield sc

    # PRODUCT row 6: Safe Links / Mimecast / Proofpoint, then the person an hour later
    for i in range(14):
        links = rng.randint(3, 20)
        sc = w.new("safe-links-then-person", f"buyer{i}@enterprise{i}.example", links)
        w.safe_links(
            sc,
            w.gateway_start(),
            head=(i == 3),
            decoy=(i in (2, 5, 9)),
            modern=(i in (6, 11)),
            repeat=1 + (i in (4, 10)),
        )
        start = rng.uniform(2400, 9000)
        w.person(
            sc,
            start,
            ua=rng.choice(OUTLOOK_UAS + PEOPLE_UAS),
            opens=rng.randint(1, 4),
            clicks=rng.randint(0, 3),
            spread=30000,
        )
        yield sc
    for i in range(2):
        sc = w.new("safe-links-fanout", f"it{i}@bank{i}.example", rng.randint(4, 8))
        w.fanout_gateway(sc, w.gateway_start())
        w.person(sc, rng.uniform(3000, 20000), opens=2, clicks=1)
        yield sc
    for vendor in ("mimecast", "proofpoint"):
        for i in range(3):
            sc = w.new(f"{vendor}-click-time", f"ops{i}@{vendor}-customer{i}.example", rng.randint(2, 5))
            ua = rng.choice(SAFE_LINKS_UAS)
            # Mimecast publishes no scanner egress list: an unlisted address
            gw_ip = ip_in(rng, PROOFPOINT4) if vendor == "proofpoint" else other_cloud_ip(rng)
            person_ua = rng.choice(PEOPLE_UAS)
            pip = residential_ip(rng)
            w.person(sc, w.person_delay(), ua=person_ua, ip=pip, opens=rng.randint(1, 3))
            t = w.person_delay() + 600
            for _ in range(rng.randint(2, 8)):
                link = rng.randrange(sc.links)
                w.click_time_check(sc, t, link, ua, gw_ip)
                sc.add(t, "click", person_ua, pip, "human", link=link, headers=browser_headers(rng, person_ua, "click"))
                t += rng.uniform(60, 7200)
            yield sc

    # PRODUCT row 7: Apple Mail with Privacy Protection
    for i in range(6):
        sc = w.new("apple-mpp", f"reader{i}@me{i}.example", rng.randint(1, 4))
        w.mpp(sc, rng.uniform(5, 1800))
        if i % 2 == 0:
            w.mpp(sc, rng.uniform(1800, 40000))  # the recipient's second Apple device
        if i >= 3:  # a click (Safari, iCloud Private Relay) proves an open
            ua = rng.choice(SAFARI_UAS)
            ip = ip_in(rng, APPLE4)
            for _ in range(rng.randint(1, 2)):
                sc.add(
                    rng.uniform(3600, 50000),
                    "click",
                    ua,
                    ip,
                    "human",
                    link=rng.randrange(sc.links),
                    headers=browser_headers(rng, ua, "click"),
                )
        if i == 5:
            sc.reply(90000)
        yield sc

    # PRODUCT row 8: Gmail (image proxy), repeat opens counted; with and without prefetch
    for i in range(10):
        sc = w.new("gmail-repeat-opens", f"founder{i}@gmail{i}.example", rng.randint(1, 5))
        if i % 2:
            sc.add(rng.uniform(1, 25), "open", GMAIL_PREFETCH_UA, gmail_proxy_ip(rng), "machine_open")
        w.gmail_reader(sc, w.person_delay(), rng.randint(8, 40))
        w.person(sc, w.person_delay(), pixel=False, clicks=rng.randint(0, 3))
        yield sc

    # Yahoo / AOL proxy: one reading, retried by the proxy; links fetched by the proxy (scanner)
    for i in range(2):
        sc = w.new("yahoo-proxy", f"user{i}@yahoo{i}.example", 3)
        for _ in range(rng.randint(1, 3)):
            t = w.person_delay()
            sc.add(t, "open", YAHOO_PROXY_UA, residential_ip(rng), "human")
            for _ in range(rng.randint(0, 3)):
                t += rng.uniform(0.5, 20)
                sc.add(t, "open", YAHOO_PROXY_UA, residential_ip(rng), "machine_open")
        sc.add(rng.uniform(5, 60), "click", YAHOO_PROXY_UA, residential_ip(rng), "scanner", link=0)
        sc.add(rng.uniform(4000, 9000), "click", YAHOO_PREVIEW_UA, residential_ip(rng), "preview", link=1)
        yield sc

    # PRODUCT row 9: images blocked, the recipient clicks (inferred open); a reply proves one too
    for i in range(5):
        sc = w.new("images-blocked-click", f"cfo{i}@corp{i}.example", rng.randint(2, 6))
        w.person(sc, w.person_delay(), pixel=False, clicks=rng.randint(1, 4))
        yield sc
    sc = w.new("images-blocked-reply", "counsel@lawfirm.example", 2)
    sc.reply(w.person_delay())
    yield sc

    # PRODUCT row 10: a colleague of the recipient forwards it; chat apps unfurl the links
    for app in ("slack", "teams", "whatsapp", "microsoft", "telegram", "discord", "linkedin", "mattermost"):
        sc = w.new(f"forward-{app}-unfurl", f"pm@{app}-user.example", rng.randint(2, 4))
        t = w.person(sc, w.person_delay(), opens=2)
        w.person(sc, t + rng.uniform(600, 7200), opens=1)  # the colleague who got the forward
        u = t + rng.uniform(60, 3600)
        for link in range(sc.links):
            w.unfurl(sc, u + link * rng.uniform(0.5, 30), app, link)
        for _ in range(rng.randint(1, 3)):
            w.person(sc, u + rng.uniform(60, 7200), pixel=False, clicks=1)  # people clicking in the chat
        yield sc


def signature_sources(w: World) -> Iterator[Scenario]:
    """Every source of signatures.md, one scenario or more each."""
    rng = w.rng
    # sources of signatures.md one by one
    sc = w.new("barracuda-sentinel", "admin@school.example", 4)
    for link in range(4):
        sc.add(rng.uniform(3, 40), "click", BARRACUDA_UA, residential_ip(rng), "scanner", link=link)
    w.person(sc, w.person_delay(), opens=2, clicks=1)
    yield sc
    sc = w.new("google-safety", "team@startup.example", 3)
    for link in range(3):
        sc.add(
            rng.uniform(2, 300), "click", rng.choice(GOOGLE_SAFETY_UAS), ip_in(rng, GOOGLEBOT4), "scanner", link=link
        )
    w.gmail_reader(sc, w.person_delay(), 3)
    yield sc
    for i in range(2):
        sc = w.new("http-library-scanner", f"sec{i}@hosting{i}.example", 3)
        ua = rng.choice([u for u in HTTP_LIB_UAS if u.lower().startswith("python") == (i == 0)])
        ip = gcp_ip(rng) if i else residential_ip(rng)
        t = rng.uniform(1, 120)
        sc.add(t, "open", ua, ip, "scanner")
        for link in range(3):
            sc.add(t + rng.uniform(0.1, 30), "click", ua, ip, "scanner", link=link)
        sc.add(rng.uniform(5, 30), "open", "", residential_ip(rng), "scanner")
        w.person(sc, w.person_delay(), ua=rng.choice(OUTLOOK_UAS), opens=2)
        yield sc
    sc = w.new("sandbox-headless", "hr@agency.example", 5)
    ua, ip = rng.choice([u for u in HEADLESS_UAS if "HeadlessChrome" in u]), safe_links_ip(rng)
    t = rng.uniform(5, 55)
    sc.add(t, "open", ua, ip, "scanner")
    for link in range(5):
        sc.add(t + rng.uniform(0.5, 10), "click", ua, ip, "scanner", link=link)
    w.person(sc, w.person_delay(), opens=3, clicks=2)
    yield sc
    for i in range(2):
        sc = w.new("gcp-instant-clicker", f"dev{i}@saas{i}.example", rng.randint(2, 4))
        ua, ip = rng.choice(SAFE_LINKS_UAS), gcp_ip(rng)
        t = rng.uniform(0.5, 4)
        for link in range(sc.links):
            sc.add(t, "click", ua, ip, "scanner", link=link)
            t += rng.uniform(0.05, 0.8)
        w.person(sc, w.person_delay(), opens=2, clicks=1)
        yield sc
    sc = w.new("link-checker-head", "webmaster@site.example", 4)
    for link in range(4):
        sc.add(
            rng.uniform(10, 3000),
            "click",
            rng.choice(PEOPLE_UAS),
            residential_ip(rng),
            "scanner",
            link=link,
            method="HEAD",
        )
    w.person(sc, w.person_delay(), opens=1, clicks=2)
    yield sc
    sc = w.new("one-outlook-fetch", "exec@bigco.example", 3)
    for link in range(3):
        sc.add(
            rng.uniform(3600, 3700),
            "click",
            ONE_OUTLOOK_UA,
            safe_links_ip(rng),
            "scanner",
            link=link,
            headers={"x-native-host": "OneOutlook/1.2023.927.100"},
        )
    w.person(sc, 3500, ua=OUTLOOK_UAS[-1], opens=2)
    yield sc
    sc = w.new("generic-crawlers", "press@media.example", 2)
    for _ in range(5):
        sc.add(
            w.person_delay() * 3,
            "click",
            rng.choice(GENERIC_CRAWLERS),
            residential_ip(rng),
            "scanner",
            link=rng.randrange(2),
        )
    w.person(sc, w.person_delay(), opens=2, clicks=1)
    yield sc
    sc = w.new("bing-preview", "marketing@shop.example", 2)
    for link in range(2):
        w.unfurl(sc, w.person_delay(), "bing", link)
    w.person(sc, w.person_delay(), opens=2)
    yield sc
    sc = w.new("mail-sync-agents", "sales@exchange-shop.example", 2)
    sc.add(
        rng.uniform(10, 100),
        "open",
        "Microsoft Exchange/15.20 (Windows NT 10.0; Win64; x64)",
        safe_links_ip(rng),
        "unknown",
    )
    sc.add(rng.uniform(100, 900), "open", "iOS/16.5.1 (20F75) dataaccessd/1.0", residential_ip(rng), "unknown")
    w.person(sc, w.person_delay(), ua=rng.choice(APPLE_MAIL_UAS), opens=2)
    yield sc
    sc = w.new("mpp-unlisted-address", "old-iphone@isp.example", 2)
    # Apple's prefetch from an egress address missing from the dated list: truly machine_open
    sc.add(rng.uniform(20, 600), "open", MPP_UA, residential_ip(rng), "machine_open")
    yield sc


def tricky_people(w: World) -> Iterator[Scenario]:
    """People who look a little like machines: fast, on cloud desktops, behind one address."""
    rng = w.rng
    # people who read at once (notification on screen): minutes or seconds after sending
    for i in range(4):
        sc = w.new("quick-reader", f"desk{i}@partner{i}.example", rng.randint(1, 5))
        pool = (PEOPLE_UAS, OUTLOOK_UAS, APPLE_MAIL_UAS, PEOPLE_UAS)[i]
        w.person(
            sc,
            rng.uniform(15, 110),
            ua=rng.choice(pool),
            opens=rng.randint(2, 5),
            clicks=rng.randint(1, 2),
            spread=20000,
        )
        if i == 3:
            w.gmail_reader(sc, rng.uniform(8, 60), rng.randint(2, 4))
        yield sc
    # a team announcement: colleagues on Outlook behind one office address, reading together
    sc_ip = residential_ip(rng)
    for i in range(3):
        sc = w.new("team-announcement", f"staff{i}@acme.test", 2)
        w.person(sc, rng.uniform(120, 900), ua=rng.choice(OUTLOOK_UAS), ip=sc_ip, opens=rng.randint(1, 3), spread=9000)
        yield sc

    # the tricky people
    for i in range(3):
        sc = w.new("person-clicks-within-seconds", f"eager{i}@prospect{i}.example", rng.randint(1, 3))
        ua = current_chrome(sc.sent_at.date()) if i != 1 else current_firefox(sc.sent_at.date())
        ip = residential_ip(rng)
        t = rng.uniform(2, 5)
        sc.add(t, "open", ua, ip, "human", headers=browser_headers(rng, ua, "open"))
        sc.add(t + rng.uniform(1.5, 4.5), "click", ua, ip, "human", link=0, headers=browser_headers(rng, ua, "click"))
        w.person(sc, w.person_delay(), ua=ua, ip=ip, opens=rng.randint(1, 3), clicks=rng.randint(0, 2))
        yield sc
    for i in range(3):
        sc = w.new("person-on-azure-virtual-desktop", f"analyst{i}@insurer{i}.example", rng.randint(2, 4))
        ua = current_chrome(sc.sent_at.date()) if i != 1 else rng.choice(PEOPLE_UAS)
        ip = ip_in(rng, [n for n in MICROSOFT4 if str(n).startswith(("20.", "4.", "13.", "52."))])
        t = w.person(sc, w.person_delay(), ua=ua, ip=ip, opens=rng.randint(2, 5), clicks=rng.randint(1, 3))
        if i == 2:  # opens three links in new tabs, one after the other
            for link in range(3):
                sc.add(
                    t + 60 + link * rng.uniform(2.5, 6),
                    "click",
                    ua,
                    ip,
                    "human",
                    link=link % sc.links,
                    headers=browser_headers(rng, ua, "click"),
                )
        yield sc
    sc = w.new("person-double-clicks", "busy@retail.example", 3)
    ua, ip = rng.choice(PEOPLE_UAS), residential_ip(rng)
    t = w.person(sc, w.person_delay(), ua=ua, ip=ip, opens=2)
    sc.add(t + 30, "click", ua, ip, "human", link=1, headers=browser_headers(rng, ua, "click"))
    sc.add(t + 30.4, "click", ua, ip, "human", link=1, headers=browser_headers(rng, ua, "click"))
    sc.add(t + 95, "click", ua, ip, "human", link=2, headers=browser_headers(rng, ua, "click"))
    yield sc
    sc = w.new("sender-phone-unpaired", "alice@acme.test", 2, sender_addresses=("alice@acme.test",))
    w.person(sc, w.person_delay(), ua=rng.choice(APPLE_MAIL_UAS), opens=3)  # R2: counted
    sc.beacon(5000, "dev-alice-1")
    sc.add(5001.5, "open", GMAIL_PROXY_UA, gmail_proxy_ip(rng), "self")
    yield sc


def operations(w: World) -> Iterator[Scenario]:
    """Deployment conditions and volume: no recorded headers, a bounce, heavy readers."""
    rng = w.rng
    # operators whose reverse proxy forwards no request headers at all
    for i in range(5):
        sc = w.new("no-headers-recorded", f"buyer{i}@noheaders{i}.example", rng.randint(3, 6), headers_recorded=False)
        w.safe_links(sc, w.gateway_start())
        w.person(sc, w.person_delay() + 3600, opens=rng.randint(2, 4), clicks=rng.randint(1, 3))
        yield sc

    # delivery failed: gateways fetched and clicked for an address that does not exist, then a bounce
    sc = w.new("bounced-but-scanned", "nobody@enterprise-x.example", 5)
    w.safe_links(sc, w.gateway_start(), decoy=True)
    sc.reply(400, "bounce")
    yield sc

    # heavy readers to give every class enough events
    for i in range(16):
        sc = w.new("newsletter-reader", f"fan{i}@community{i}.example", rng.randint(12, 30))
        if i % 3 != 1:
            w.safe_links(sc, w.gateway_start(), decoy=(i % 3 == 2), modern=(i == 5))
        w.person(sc, w.person_delay(), opens=rng.randint(4, 14), clicks=rng.randint(3, 12), spread=60000)
        w.gmail_reader(sc, w.person_delay(), rng.randint(3, 12))
        yield sc


FAMILIES = (product_rows, signature_sources, tricky_people, operations)


def build(seed: int = SEED) -> list[dict[str, Any]]:
    """Every scenario as the JSON object of one JSONL line, deterministic for a seed."""
    w = World(seed)
    return [sc.to_json() for family in FAMILIES for sc in family(w)]


def render(scenarios: list[dict[str, Any]] | list[dict[str, object]]) -> str:
    return "".join(json.dumps(s, ensure_ascii=False) + "\n" for s in scenarios)


def main() -> None:
    for out, scenarios in ((OUT, build()), (SKEPTIC_OUT, skeptic.build())):
        out.write_text(render(scenarios), encoding="utf-8")
        events = sum(len(s["events"]) for s in scenarios)  # type: ignore[arg-type]
        labels: dict[str, int] = {}
        for s in scenarios:
            for e in s["events"]:  # type: ignore[attr-defined]
                if "expect" in e:
                    labels[e["expect"]] = labels.get(e["expect"], 0) + 1
        print(f"{len(scenarios)} scenarios, {events} events -> {out}")
        print("labels:", dict(sorted(labels.items())))


if __name__ == "__main__":
    main()
