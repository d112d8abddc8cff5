"""The rule table: ordered data rows (signals, class, reason code, text). First match wins.

Order follows signatures.md §7: (1) the sender's own signals, (2) decoy link and HEAD,
(3) exact mail-proxy and prefetch signatures, (4) mail clients, (5) scanner tokens, unfurlers,
HTTP libraries, (6) the generic crawler list; then behaviour for everything that still looks
like a browser or an app (decoy or scanner from the same source, link bursts — unless the request
carries a person's evidence —, timing with machine traits, click-time checks, one address for many
recipients), then a tool's own user agent (`unrecognised_client`), and finally "a person". A
network alone never makes a scanner of a browser: every behaviour row that uses one needs another
signal; only a user agent that names no browser or device at all is decided by its network.

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
class Rule:  # one row of the table below
    """If every signal in `when` holds (a name starting with `!`: does not hold) for a hit of one
    of `kinds`, the verdict is `cls`."""

    code: str
    cls: VerdictClass | None
    subtype: str | None
    when: tuple[str, ...]
    text: str
    kinds: tuple[HitKind, ...] = ANY
    #: behaviour rules list the weaker signals that agreed (outdated browser, missing headers)
    behavioural: bool = False


SCANNER_BURST = "Security scanner{vendor}: {links} links clicked within {span}"
DELIVERY_SCAN = "Security scanner{vendor}: fetched soon after sending, with a scanner's traits"
ROW = FROM_ROW
CRAWLER = FROM_CRAWLER

# fmt: off
_TABLE: tuple[tuple[str, VerdictClass | None, str | None, str, tuple[HitKind, ...], str], ...] = (
    # code                    class  subtype             signals (all must hold)                       kinds  text
    # (1) the sender
    ("paired_device",          SELF, "paired_device",    "paired_device",                               ANY,
     "the sender's own paired browser (its device cookie came with the request)"),
    ("self_view",              SELF, "self_view",        "self_view_recent",                            OPEN,
     "the sender was viewing this email (self-view beacon from their paired browser {beacon_gap} before)"),
    # (2) decoy link, HEAD, prefetch
    ("decoy_link",             SC,   "decoy",            "decoy",                                       ANY,
     "requested the hidden decoy link that no person can see or click"),
    ("head_request",           SC,   "head_probe",       "head",                                        ANY,
     "a HEAD request: a link checker probing the URL (people's browsers use GET)"),
    ("browser_prefetch",       MO,   "browser_prefetch", "prefetch_header",                             ANY,
     "a browser prefetch ({prefetch_header}), not a person looking"),
    # the sender's own network: desktop mail clients have no extension (their Sent copies, a
    # reply quoting the pixel); after the decoy/HEAD/prefetch rows, before client user agents
    ("sender_network",         SELF, "sender_network",   "sender_network",                              ANY,
     "from {submitted_ip}, the address the sender submitted this email (or a later one) from through "
     "mailbeacon's SMTP proxy: the sender's own network"),
    # (3) exact mail-proxy and prefetch signatures
    ("apple_mpp",              MO,   "apple_mpp",        "bare_mozilla apple_relay",                    OPEN,
     "Apple Mail Privacy Protection fetched the images (user agent exactly 'Mozilla/5.0' from Apple's iCloud "
     "Private Relay): not a reading"),
    ("proxy_retry",            MO,   "proxy_retry",      "yahoo_proxy proxy_repeat",                    OPEN,
     "Yahoo's mail proxy fetched the pixel again {retry_gap} after its previous fetch (a retry, not another reading)"),
    (ROW,                      None, None,               "ua_proxy",                                    ANY, ""),
    # (4) mail clients, (5) scanner tokens, unfurlers, HTTP libraries
    (ROW,                      None, None,               "ua_client",                                   ANY, ""),
    (ROW,                      None, None,               "ua_agent",                                    ANY, ""),
    ("one_outlook",            SC,   "gateway",          "one_outlook_header",                          CLICK,
     "an Outlook / Microsoft 365 service fetched the link (x-native-host: OneOutlook), not the person's browser"),
    ("possible_mpp",           UN,   "possible_mpp",     "bare_mozilla",                                ANY,
     "user agent exactly 'Mozilla/5.0' (Apple Mail Privacy Protection's) but not from a known Apple relay address"),
    ("empty_user_agent",       SC,   "no_user_agent",    "empty_ua",                                    ANY,
     "no user agent at all (browsers and mail clients always send one)"),
    # (6) the generic crawler list
    (CRAWLER,                  None, None,               "crawler_list",                                ANY, ""),
    ("from_header",            SC,   "crawler",          "from_header",                                 ANY,
     "a crawler: it names its operator in a From header ({from_header}); browsers never send one"),
    # a tool's own user agent (neither a browser, an app on a device, nor a mail client) from a server network
    ("unknown_tool",           SC,   "unknown_tool",     "tool_agent server_network",                   ANY,
     "an automated tool: its user agent ({ua}) names neither a browser nor a mail client, and it came from "
     "{network}"),
    # behaviour, for whatever still looks like a browser or an app
    ("decoy_same_source",      SC,   "decoy",            "near_decoy",                                  ANY,
     "Security scanner: same address or user agent as a request to the hidden decoy link {decoy_gap} apart"),
    ("link_burst",             SC,   "link_burst",       "link_burst !person_evidence",                 LINKS, SCANNER_BURST),
    ("same_source_as_scanner", SC,   "same_source",      "same_source_as_scanner",                      ANY,
     "Security scanner{vendor}: same address or user agent as scanner requests seconds apart"),
    ("private_relay",          H,    "private_relay",    "apple_relay",                                 ANY,
     "a person on an Apple device ({agent}) browsing through iCloud Private Relay"),
    ("link_pair_burst",        SC,   "link_burst",       "link_pair weak_machine !person_evidence",     LINKS, SCANNER_BURST),
    ("link_sweep",             SC,   "link_sweep",       "link_sweep early weak_machine !person_evidence", LINKS,
     SCANNER_BURST),
    ("link_sweep",             SC,   "link_sweep",       "link_sweep network stale_browser",            LINKS, SCANNER_BURST),
    ("link_sweep",             SC,   "link_sweep",       "link_sweep network missing_browser_headers",  LINKS, SCANNER_BURST),
    ("link_sweep",             SC,   "link_sweep",       "link_sweep stale_browser missing_browser_headers", LINKS,
     SCANNER_BURST),
    ("delivery_scan",          SC,   "delivery_scan",    "early network stale_browser",                 ANY, DELIVERY_SCAN),
    ("delivery_scan",          SC,   "delivery_scan",    "early network missing_browser_headers",       ANY, DELIVERY_SCAN),
    ("delivery_scan",          SC,   "delivery_scan",    "early stale_browser missing_browser_headers", ANY, DELIVERY_SCAN),
    ("delivery_scan",          SC,   "delivery_scan",    "soon network stale_browser missing_browser_headers", ANY,
     DELIVERY_SCAN),
    ("scanner_network",        SC,   "vendor_network",   "machine_network stale_browser",               ANY,
     "Security scanner: from {network}, with an outdated browser"),
    ("scanner_network",        SC,   "vendor_network",   "machine_network missing_browser_headers",     ANY,
     "Security scanner: from {network}, without browser headers"),
    ("click_time_scan",        SC,   "click_time",       "followed_by_other_client machine_traits",     CLICK,
     "Link check at click time{vendor}: another browser requested the same link {follow_gap} later "
     "(the person, after the gateway's check)"),
    ("click_time_scan",        SC,   "click_time",       "followed_quickly_by_other_client checks_again", CLICK,
     "Link check at click time{vendor}: another browser requested the same link {follow_gap} later "
     "(the person, after the gateway's check)"),
    # colleagues behind one office address read an all-hands email together: the address alone needs
    # a machine trait, or the minutes right after sending when gateways scan every copy
    ("many_recipients",        SC,   "many_recipients",  "shared_ip_recipients weak_machine",           ANY,
     "Security scanner: the same address requested the copies of {recipients} other recipients within seconds"),
    ("many_recipients",        SC,   "many_recipients",  "shared_ip_recipients early",                  ANY,
     "Security scanner: the same address requested the copies of {recipients} other recipients within seconds"),
    ("many_recipients",        SC,   "many_recipients",  "shared_ip_same_agent early",                  ANY,
     "Security scanner: the same address and user agent requested another recipient's copy right after sending"),
    # a person needs positive evidence: a browser, an app on a device, a mail client
    ("unrecognised_client",    UN,   "unrecognised_client", "tool_agent",                               ANY,
     "a user agent ({ua}) that names neither a browser nor a mail client, from {network}: not known to be a "
     "person"),
    ("person",                 H,    "direct",           "",                                            ANY,
     "a person: {agent}"),
)
# fmt: on

#: rules whose verdict rests on behaviour: their reasons also list the weak signals that agreed
BEHAVIOURAL = frozenset(
    {
        "decoy_same_source",
        "link_burst",
        "same_source_as_scanner",
        "link_pair_burst",
        "link_sweep",
        "delivery_scan",
        "scanner_network",
        "click_time_scan",
        "many_recipients",
    }
)

RULES: tuple[Rule, ...] = tuple(
    Rule(code, cls, subtype, tuple(signals.split()), text, kinds, code in BEHAVIOURAL)
    for code, cls, subtype, signals, kinds, text in _TABLE
)


__all__ = ["BEHAVIOURAL", "FROM_CRAWLER", "FROM_ROW", "RULES", "Rule"]
