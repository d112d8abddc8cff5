"""The rule table: ordered data rows (signals, class, reason code, text). First match wins.

Order follows signatures.md §7: (1) the sender's own signals, (2) decoy link and HEAD,
(3) exact mail-proxy and prefetch signatures, then evidence that overrides a browser-looking
user agent (decoy or scanner from the same source, link bursts), (4) mail clients, (5) scanner
tokens, unfurlers, HTTP libraries, (6) the generic crawler list, then behaviour for everything
that still looks like a browser, and finally "a person".

A row whose `cls` is None takes class, subtype, code and text from the matched user-agent
signature (`FROM_ROW`) or generic crawler match (`FROM_CRAWLER`). Texts are `str.format`
templates over the values `classify` collects (`{links}`, `{span}`, `{vendor}` ...).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model import HitKind, VerdictClass

H = VerdictClass.HUMAN
SELF = VerdictClass.SELF
MO = VerdictClass.MACHINE_OPEN
SC = VerdictClass.SCANNER
UN = VerdictClass.UNKNOWN

ANY = (HitKind.OPEN, HitKind.CLICK, HitKind.DECOY)
OPEN = (HitKind.OPEN,)
LINKS = (HitKind.CLICK, HitKind.DECOY)
CLICK = (HitKind.CLICK,)

FROM_ROW = "*user-agent-signature"
FROM_CRAWLER = "*crawler-list"


@dataclass(frozen=True, slots=True)
class Rule:
    """If every signal in `when` holds for a hit of one of `kinds`, the verdict is `cls`."""

    code: str
    cls: VerdictClass | None
    subtype: str | None
    when: tuple[str, ...]
    text: str
    kinds: tuple[HitKind, ...] = ANY
    #: behaviour rules list the weaker signals that agreed (outdated browser, missing headers)
    behavioural: bool = False


SCANNER_BURST = "Security scanner{vendor}: {links} links clicked within {span}"
DELIVERY_SCAN = "Security scanner{vendor}: fetched right after sending, with machine traits"

RULES: tuple[Rule, ...] = (
    # (1) the sender
    Rule(
        "paired_device",
        SELF,
        "paired_device",
        ("paired_device",),
        "the sender's own paired browser (its device cookie came with the request)",
    ),
    Rule(
        "self_view",
        SELF,
        "self_view",
        ("self_view_recent",),
        "the sender was viewing this email (self-view beacon from their paired browser {beacon_gap} before)",
        kinds=OPEN,
    ),
    # (2) decoy and HEAD
    Rule("decoy_link", SC, "decoy", ("decoy",), "requested the hidden decoy link that no person can see or click"),
    Rule(
        "head_request",
        SC,
        "head_probe",
        ("head",),
        "a HEAD request: a link checker probing the URL (people's browsers use GET)",
    ),
    Rule(
        "browser_prefetch",
        MO,
        "browser_prefetch",
        ("prefetch_header",),
        "a browser prefetch ({prefetch_header}), not a person looking",
    ),
    # (3) exact mail-proxy and prefetch signatures
    Rule(
        "apple_mpp",
        MO,
        "apple_mpp",
        ("bare_mozilla", "apple_relay"),
        "Apple Mail Privacy Protection fetched the images (user agent exactly 'Mozilla/5.0' from Apple's "
        "iCloud Private Relay): not a reading",
        kinds=OPEN,
    ),
    Rule(
        "proxy_retry",
        MO,
        "proxy_retry",
        ("yahoo_proxy", "proxy_repeat"),
        "Yahoo's mail proxy fetched the pixel again {retry_gap} after its previous fetch (a retry, not another reading)",
        kinds=OPEN,
    ),
    Rule(FROM_ROW, None, None, ("ua_proxy",), ""),
    # evidence that outweighs a browser-looking user agent
    Rule(
        "decoy_same_source",
        SC,
        "decoy",
        ("near_decoy",),
        "Security scanner: same address or user agent as a request to the hidden decoy link {decoy_gap} apart",
        behavioural=True,
    ),
    Rule("link_burst", SC, "link_burst", ("link_burst",), SCANNER_BURST, kinds=LINKS, behavioural=True),
    Rule(
        "same_source_as_scanner",
        SC,
        "same_source",
        ("same_source_as_scanner",),
        "Security scanner{vendor}: same address or user agent as scanner requests seconds apart",
        behavioural=True,
    ),
    # (4) mail clients, (5) scanner tokens, unfurlers, HTTP libraries
    Rule(FROM_ROW, None, None, ("ua_client",), ""),
    Rule(FROM_ROW, None, None, ("ua_agent",), ""),
    Rule(
        "possible_mpp",
        UN,
        "possible_mpp",
        ("bare_mozilla",),
        "user agent exactly 'Mozilla/5.0' (Apple Mail Privacy Protection's) but not from a known Apple relay address",
    ),
    Rule(
        "empty_user_agent",
        SC,
        "no_user_agent",
        ("empty_ua",),
        "no user agent at all (browsers and mail clients always send one)",
    ),
    # (6) generic crawler list
    Rule(FROM_CRAWLER, None, None, ("crawler_list",), ""),
    # behaviour, for whatever still looks like a browser or app
    Rule(
        "private_relay",
        H,
        "private_relay",
        ("apple_relay",),
        "a person on an Apple device ({agent}) browsing through iCloud Private Relay",
    ),
    Rule(
        "link_pair_burst", SC, "link_burst", ("link_pair", "weak_machine"), SCANNER_BURST, kinds=LINKS, behavioural=True
    ),
    Rule("link_sweep", SC, "link_sweep", ("link_sweep", "early"), SCANNER_BURST, kinds=LINKS, behavioural=True),
    Rule("link_sweep", SC, "link_sweep", ("link_sweep", "network"), SCANNER_BURST, kinds=LINKS, behavioural=True),
    Rule(
        "link_sweep",
        SC,
        "link_sweep",
        ("link_sweep", "missing_browser_headers"),
        SCANNER_BURST,
        kinds=LINKS,
        behavioural=True,
    ),
    Rule("delivery_scan", SC, "delivery_scan", ("early", "network", "stale_browser"), DELIVERY_SCAN, behavioural=True),
    Rule(
        "delivery_scan",
        SC,
        "delivery_scan",
        ("early", "network", "missing_browser_headers"),
        DELIVERY_SCAN,
        behavioural=True,
    ),
    Rule(
        "delivery_scan",
        SC,
        "delivery_scan",
        ("early", "stale_browser", "missing_browser_headers"),
        DELIVERY_SCAN,
        behavioural=True,
    ),
    Rule(
        "scanner_network",
        SC,
        "vendor_network",
        ("machine_network", "stale_browser"),
        "Security scanner: from {network} with an outdated browser",
        behavioural=True,
    ),
    Rule(
        "scanner_network",
        SC,
        "vendor_network",
        ("machine_network", "missing_browser_headers"),
        "Security scanner: from {network} without browser headers",
        behavioural=True,
    ),
    Rule(
        "click_time_scan",
        SC,
        "click_time",
        ("followed_by_other_client", "weak_machine"),
        "Link check at click time{vendor}: another browser requested the same link {follow_gap} later "
        "(the person, after the gateway's check)",
        kinds=CLICK,
        behavioural=True,
    ),
    Rule(
        "many_recipients",
        SC,
        "many_recipients",
        ("shared_ip_recipients",),
        "Security scanner: the same address requested the copies of {recipients} other recipients within seconds",
        behavioural=True,
    ),
    Rule(
        "many_recipients",
        SC,
        "many_recipients",
        ("shared_ip_same_agent", "early"),
        "Security scanner: the same address and user agent requested another recipient's copy right after sending",
        behavioural=True,
    ),
    # a person
    Rule("person", H, "direct", (), "a person: {agent}"),
)


__all__ = ["FROM_CRAWLER", "FROM_ROW", "RULES", "Rule"]
