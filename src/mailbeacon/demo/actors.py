"""Who makes the demo's requests: people's mail clients and browsers, proxies, scanners, bots.

Each actor is a user agent, an address and the headers it sends, as the classifier's signature
data knows them (`classify/signatures/`: Google's image proxy and Microsoft's ranges, Apple's
Private Relay egress list, Slack's unfurler); people come from home and office lines that are in
none of the lists. A browser's version is the one current on the day played (`Actor.at`), so the
demo stays right as the years pass.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

#: what a current browser sends with an image and with a navigation
_IMAGE = (
    ("accept", "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"),
    ("accept-language", "en-GB,en;q=0.9"),
    ("sec-fetch-dest", "image"),
    ("sec-fetch-mode", "no-cors"),
    ("sec-fetch-site", "cross-site"),
)
_PAGE = (
    ("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
    ("accept-language", "en-GB,en;q=0.9"),
    ("sec-fetch-dest", "document"),
    ("sec-fetch-mode", "navigate"),
    ("sec-fetch-site", "none"),
    ("sec-fetch-user", "?1"),
)
#: a mail client's image request (no Sec-Fetch: not a browser)
_MAIL_CLIENT = (("accept", "image/*,*/*;q=0.8"), ("accept-language", "en-GB,en;q=0.9"))


@dataclass(frozen=True)
class Actor:
    """One client: `{chrome}` and `{edge}` in the user agent become the versions of the day."""

    name: str
    user_agent: str
    ip: str
    headers: tuple[tuple[str, str], ...] = ()
    #: the sender's own browser, paired with the extension: sends the paired-device cookie
    paired: bool = False

    def at(self, day: date) -> Actor:
        major = str(chromium_major(day))
        return replace(self, user_agent=self.user_agent.format(chrome=major, edge=major))

    def page(self) -> Actor:
        """The same browser navigating (a click) rather than loading an image."""
        if self.headers and dict(self.headers).get("sec-fetch-dest") == "image":
            return replace(self, headers=_PAGE)
        return self


def chromium_major(day: date) -> int:
    """Chrome's (and Edge's) major version on `day`: one every four weeks or so since 120."""
    return 120 + max(0, (day - date(2023, 12, 5)).days) * 2 // 63


_CHROME_MAC = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{chrome}.0.0.0 Safari/537.36"
_CHROME_WIN = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{chrome}.0.0.0 Safari/537.36"
_EDGE_WIN = _CHROME_WIN + " Edg/{edge}.0.0.0"
_CHROME_ANDROID = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{chrome}.0.0.0 Mobile Safari/537.36"
_APPLE_MAIL = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"
_IPHONE_MAIL = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"
)
_IPHONE_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/26.0 Mobile/15E148 Safari/604.1"
)
_OUTLOOK = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17928; Pro)"
_GMAIL_PROXY = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
#: Defender for Office 365 Safe Links detonating links: an old Chrome from Microsoft's mail ranges
_SAFE_LINKS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/72.0.3626.109 Safari/537.36"


def apple_mail(ip: str) -> Actor:
    return Actor("Apple Mail on a Mac", _APPLE_MAIL, ip, _MAIL_CLIENT)


def iphone_mail(ip: str) -> Actor:
    return Actor("Mail on an iPhone (Privacy Protection off)", _IPHONE_MAIL, ip, _MAIL_CLIENT)


def outlook(ip: str) -> Actor:
    return Actor("Outlook for Windows", _OUTLOOK, ip, _MAIL_CLIENT)


def chrome(ip: str, *, mac: bool = False, paired: bool = False) -> Actor:
    return Actor("Chrome", _CHROME_MAC if mac else _CHROME_WIN, ip, _IMAGE, paired=paired)


def edge(ip: str) -> Actor:
    return Actor("Edge", _EDGE_WIN, ip, _PAGE)


def chrome_android(ip: str) -> Actor:
    return Actor("Chrome on Android", _CHROME_ANDROID, ip, _PAGE)


def gmail_proxy(ip: str) -> Actor:
    """Google's image proxy fetching the pixel for a Gmail reader (every open counts, R9)."""
    return Actor("Gmail (Google's image proxy)", _GMAIL_PROXY, ip)


def iphone_safari(ip: str) -> Actor:
    """Safari on an iPhone (through iCloud Private Relay when `ip` is one of Apple's)."""
    return Actor("Safari on an iPhone", _IPHONE_SAFARI, ip, _PAGE)


#: Apple Mail Privacy Protection's prefetch: a bare user agent from Apple's relay
MPP_V4 = Actor("Apple Mail Privacy Protection", "Mozilla/5.0", "104.28.115.96")
MPP_V6 = Actor("Apple Mail Privacy Protection", "Mozilla/5.0", "2a02:26f7:c8d4:263:15c3:9ac7:413a:22fb")
SAFE_LINKS = Actor("Microsoft Defender Safe Links", _SAFE_LINKS, "52.110.207.72", (("accept", "*/*"),))
GATEWAY = Actor("a security gateway", _SAFE_LINKS, "52.111.9.3")
SLACK = Actor("Slack's link unfurler", "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "44.116.230.62")
