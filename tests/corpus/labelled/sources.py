"""Real third-party data the labelled corpus is built from, and helpers to draw from it.

User agents come from tests/corpus/user-agents (isbot fixtures, monperrus' list), addresses from
tests/corpus/ip-ranges; see build.py for how scenarios use them.
"""

from __future__ import annotations

import ipaddress
import json
import random
from datetime import date
from pathlib import Path
from typing import Any

import yaml

CORPUS = Path(__file__).resolve().parent.parent

# -- data from the corpus ---------------------------------------------------------------------

NOT_PEOPLE_KEYS = {
    # fixtures that are not a person reading mail: examples, background fetchers, TV/media players
    "AAA App User Agent String Examples - Native and Webview based user agent forms for a correct app user agent string composition",
    "ZZZ Insignificat bots - Crosswalk project (deprecated)",
    "ZZZ Insignificat bots - These bots have very low appearance rate and are not worth blocking",
    "NetworkingExtension (background network requests)",
    "Amazon 4K Fire TV",
    "Apple TV",
    "Chromecast",
    "Fubo TV",
    "Hulu",
    "Internet TV",
    "QuickTime",
    "Sonos Player",
    "Spotify",
    "Xumo Media Player",
    "Google Nexus Player",
    "RadiosNet",
    "Tesla",
    "Playstation Vita",
    "Nintendo 3DS",
    "Nintendo Wii U",
    "Gog Galaxy",
    "Electron Application",
    "Flutter",
    "Trae",
    "CamScanner",
    "Zip Recruiter (Job Search phone app)",
}
MAIL_CLIENT_KEYS = ("Outlook", "Outlook Express", "Postbox")
MAINSTREAM_KEYS = (
    "Chrome",
    "Safari",
    "Firefox",
    "Vivaldi",
    "Chromium",
    "Google Pixel",
    "Yandex",
    "Android WebView",
    "HuaweiBrowser",
    "Miui",
    "Vivo",
    "Opera Touch",
    "DuckDuckGo",
    "Ecosia",
    "Tor Browser",
    "Webkit",
)


def _yaml(name: str) -> dict[str, list[str]]:
    data = yaml.safe_load((CORPUS / "user-agents" / name).read_text(encoding="utf-8"))
    return {str(k): [str(u) for u in v] for k, v in data.items()}


def _ranges(name: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    lines = (CORPUS / "ip-ranges" / name).read_text().split()
    return [ipaddress.ip_network(x, strict=False) for x in lines if x and not x.startswith("#")]


BROWSERS = _yaml("isbot-browsers.part-A.yml")
CRAWLERS = _yaml("isbot-crawlers.part-A.yml")
MONPERRUS = json.loads((CORPUS / "user-agents" / "monperrus-crawler-user-agents.json").read_text())

APPLE4 = _ranges("apple-private-relay-ipv4-merged.txt")
APPLE6 = _ranges("apple-private-relay-ipv6-merged.txt")
GOOGLE4 = _ranges("google-ipv4-merged.txt")
GOOGLEBOT4 = _ranges("googlebot-ipv4.txt")
MICROSOFT4 = _ranges("microsoft-ipv4-merged.txt")
BING4 = _ranges("bing-ipv4.txt")
#: the hosting providers' lists (the classifier's since issue 8): "residential" draws avoid them too
HOSTING4 = {
    name: _ranges(f"{name}-ipv4-merged.txt") for name in ("amazon", "oracle", "digitalocean", "linode", "vultr")
}
ALL_LISTED = [
    *(n for nets in HOSTING4.values() for n in nets),
    *APPLE4,
    *APPLE6,
    *GOOGLE4,
    *GOOGLEBOT4,
    *MICROSOFT4,
    *BING4,
    *_ranges("google-ipv6-merged.txt"),
    *_ranges("microsoft-ipv6-merged.txt"),
    *_ranges("googlebot-ipv6.txt"),
]


def monperrus(tag: str | None = None, pattern: str | None = None) -> list[str]:
    out = []
    for e in MONPERRUS:
        if (tag is None or tag in e.get("tags", [])) and (pattern is None or e["pattern"] == pattern):
            out.extend(e.get("instances", []))
    return out


PEOPLE_UAS = [u for k in MAINSTREAM_KEYS for u in BROWSERS.get(k, []) if u.startswith("Mozilla/5.0")]
OTHER_PEOPLE_UAS = [
    u
    for k, v in BROWSERS.items()
    if k not in NOT_PEOPLE_KEYS and k not in MAINSTREAM_KEYS and k not in MAIL_CLIENT_KEYS
    for u in v
]
OUTLOOK_UAS = [
    *BROWSERS["Outlook"],
    *BROWSERS["Outlook Express"],
    # quoted in signatures.md §2.4 / §7 (uap-core, isbot)
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.14931; Pro)",
]
APPLE_MAIL_UAS = [
    u
    for u in BROWSERS["Webkit"]
    if "Safari" not in u
    and u.startswith("Mozilla/5.0 (")
    and ("iPhone" in u or "iPad" in u or "Macintosh" in u)
    and "[" not in u
]
SAFARI_UAS = [u for u in BROWSERS["Safari"] if u.startswith("Mozilla/5.0 (")]
POSTBOX_UAS = BROWSERS["Postbox"]

GMAIL_PROXY_UA = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
GMAIL_PREFETCH_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/42.0.2311.135 Safari/537.36 Edge/12.246 Mozilla/5.0"
)
YAHOO_PROXY_UA = monperrus(pattern="YahooMailProxy")[0]
YAHOO_PREVIEW_UA = monperrus(pattern="Yahoo Link Preview")[0]
MPP_UA = "Mozilla/5.0"
# Defender / Safe Links user agents at the versions reported in signatures.md §2.6
SAFE_LINKS_UAS = [
    "Mozilla/5.0 (Windows NT 6.1; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/57.0.2987.133 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/72.0.3626.109 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/64.0.3282.140 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/79.0.3945.130 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/80.0.3987.149 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/96.0.4664.110 Safari/537.36",
]
ONE_OUTLOOK_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/117.0.0.0 Safari/537.36 Edg/117.0.2045.47 OneOutlook/1.2023.927.100"
)
BARRACUDA_UA = "Barracuda Sentinel (EE)"
GOOGLE_SAFETY_UAS = monperrus(pattern="Google-Safety")
HEADLESS_UAS = monperrus("browser-automation", "HeadlessChrome") + monperrus("browser-automation", "PhantomJS")
HTTP_LIB_UAS = [
    u
    for u in monperrus("http-library")
    if u.split("/")[0].lower()
    in {
        "python-requests",
        "python-urllib",
        "okhttp",
        "go-http-client",
        "curl",
        "wget",
        "apache-httpclient",
        "axios",
        "ahc",
        "python-httpx",
        "node-fetch (+https:",
    }
    or u.startswith(("Python/", "curl"))
]
UNFURLERS = {
    "slack": [u for u in CRAWLERS["Slackbot"]] + monperrus(pattern="Slackbot"),
    "teams": monperrus(pattern="SkypeUriPreview"),
    "microsoft": monperrus(pattern="MicrosoftPreview\\/"),
    "whatsapp": monperrus(pattern="WhatsApp"),
    "telegram": CRAWLERS["Telegram"] + monperrus(pattern="TelegramBot"),
    "discord": monperrus(pattern="Discordbot"),
    "facebook": monperrus(pattern="facebookexternalhit"),
    "linkedin": CRAWLERS["LinkedIn"] + monperrus(pattern="LinkedInBot"),
    "twitter": monperrus(pattern="Twitterbot"),
    "bing": monperrus(pattern="BingPreview\\/"),
    "mattermost": monperrus(pattern="Mattermost-Bot\\/"),
    "iframely": monperrus(pattern="Iframely"),
}
GENERIC_CRAWLERS = [
    u
    for k in (
        "aHrefs Bot",
        "Semrush Bot",
        "BingBot",
        "Yandex",
        "Baidu Spider",
        "PetalBot",
        "Uptime Robot",
        "W3C Link Checker",
        "Netcraft Survey Bot",
        "Sogou",
        "MojeekBot",
        "Mail.Ru Bot",
        "Startpagina Linkchecker",
        "ClamAV Website Scanner",
    )
    for u in CRAWLERS.get(k, [])
]
PROOFPOINT4 = [ipaddress.ip_network(c) for c in ("148.163.132.0/22", "148.163.144.0/21", "205.220.160.0/21")]
RESIDENTIAL_FIRST_OCTETS = (
    24,
    67,
    68,
    71,
    73,
    76,
    81,
    82,
    84,
    86,
    88,
    90,
    92,
    93,
    95,
    98,
    109,
    151,
    176,
    178,
    188,
    190,
    201,
    212,
    213,
    217,
)
LANGS = (
    "en-US,en;q=0.9",
    "en-GB,en;q=0.9",
    "de-DE,de;q=0.9,en;q=0.8",
    "fr-FR,fr;q=0.9,en;q=0.7",
    "nl-NL,nl;q=0.9,en;q=0.8",
    "es-ES,es;q=0.9",
    "pt-BR,pt;q=0.9,en;q=0.8",
    "ja-JP,ja;q=0.9",
)


# -- helpers ---------------------------------------------------------------------------------------


def ip_in(rng: random.Random, nets: list[Any]) -> str:
    net = rng.choice(nets)
    size = net.num_addresses
    offset = rng.randrange(size) if size > 2 else 0
    return str(net.network_address + offset)


def listed(ip: str) -> bool:
    a = ipaddress.ip_address(ip)
    return any(a.version == n.version and a in n for n in ALL_LISTED)


def residential_ip(rng: random.Random, v6: bool = False) -> str:
    while True:
        if v6:
            prefix = rng.choice(("2a02:", "2001:4c", "2600:17", "2a01:e3", "2003:e"))
            tail = ":".join(f"{rng.randrange(65536):x}" for _ in range(5))
            ip = str(ipaddress.ip_address(f"{prefix}{rng.randrange(16):x}{rng.randrange(16):x}:{tail}:1"))
        else:
            ip = f"{rng.choice(RESIDENTIAL_FIRST_OCTETS)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        if ipaddress.ip_address(ip).is_global and not listed(ip):
            return ip


def safe_links_ip(rng: random.Random) -> str:
    eop = [n for n in MICROSOFT4 if str(n).startswith(("40.92.", "40.93.", "40.94.", "40.107.", "52.96.", "52.100."))]
    return ip_in(rng, eop or MICROSOFT4)


def gmail_proxy_ip(rng: random.Random) -> str:
    # observed Gmail proxy egress: 66.249.93.x (signatures.md §2.1); inside Google's list, outside Googlebot's
    while True:
        ip = f"66.249.{rng.choice((80, 81, 82, 83, 84, 88, 91, 92, 93))}.{rng.randrange(1, 255)}"
        if not any(ipaddress.ip_address(ip) in n for n in GOOGLEBOT4):
            return ip


def other_cloud_ip(rng: random.Random) -> str:
    """An address of a hosting provider we have no list for (the unfurlers' and some gateways' clouds)."""
    while True:
        ip = f"{rng.choice((3, 18, 44, 54))}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        if not listed(ip):
            return ip


def gcp_ip(rng: random.Random) -> str:
    return ip_in(rng, [n for n in GOOGLE4 if str(n).startswith("35.")])


def current_chrome(day: date, platform: str = "Windows NT 10.0; Win64; x64") -> str:
    """A current desktop Chrome (reduced UA, `N.0.0.0`) for the day: the release train's version."""
    major = 120 + (day - date(2023, 12, 5)).days // 32
    return f"Mozilla/5.0 ({platform}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{major}.0.0.0 Safari/537.36"


def current_firefox(day: date) -> str:
    major = 120 + (day - date(2023, 11, 21)).days // 29
    return f"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{major}.0) Gecko/20100101 Firefox/{major}.0"


def browser_headers(rng: random.Random, ua: str, kind: str) -> dict[str, str]:
    """Headers a real browser sends for an image (pixel) or a navigation (click), by engine and version."""
    h: dict[str, str] = {"accept-language": rng.choice(LANGS)}
    chrome = _version(ua, "Chrome/")
    firefox = _version(ua, "Firefox/")
    safari = _version(ua, "Version/") if "Safari" in ua and not chrome else None
    if kind == "open":
        h["accept"] = (
            "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8" if chrome else "image/*,*/*;q=0.8"
        )
    else:
        h["accept"] = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
    if (chrome and chrome >= 76) or (firefox and firefox >= 90) or (safari and safari >= 17):
        h["sec-fetch-dest"] = "image" if kind == "open" else "document"
        h["sec-fetch-mode"] = "no-cors" if kind == "open" else "navigate"
        h["sec-fetch-site"] = "cross-site"
    if chrome and chrome >= 89 and "Mobile" not in ua:
        h["sec-ch-ua"] = f'"Chromium";v="{chrome}", "Google Chrome";v="{chrome}", "Not-A.Brand";v="99"'
        h["sec-ch-ua-platform"] = '"Windows"' if "Windows" in ua else '"macOS"' if "Mac" in ua else '"Linux"'
    return h


def _version(ua: str, token: str) -> int | None:
    i = ua.find(token)
    if i < 0:
        return None
    digits = ""
    for ch in ua[i + len(token) :]:
        if not ch.isdigit():
            break
        digits += ch
    return int(digits) if digits else None
