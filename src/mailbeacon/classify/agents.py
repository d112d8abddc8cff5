"""What a user-agent string says, worked out once per distinct string. Pure.

`describe(ua)` returns an `Agent`: the first matching row of the signature table for opens and
for clicks, whether the generic crawler list flags it (and as what), and for browsers the
family, major version and platform. Results are memoised by string (user agents repeat a lot;
the memo never changes an answer, it only saves time).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

from ..model import VerdictClass
from .catalog import TAG_CLASSES, Signatures, UaRow, default

_BROWSERS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("Edge", re.compile(r"\bEdg(?:e|A|iOS)?/(\d+)")),
    ("Opera", re.compile(r"\b(?:OPR|OPiOS)/(\d+)")),
    ("Samsung Internet", re.compile(r"\bSamsungBrowser/(\d+)")),
    ("Firefox", re.compile(r"\b(?:Firefox|FxiOS)/(\d+)")),
    ("Chrome", re.compile(r"\b(?:Chrome|CriOS|Chromium)/(\d+)")),
    ("Safari", re.compile(r"\bVersion/(\d+)[\d.]*(?: Mobile/\S+)? Safari/")),
    ("Internet Explorer", re.compile(r"\bMSIE (\d+)|\bTrident/7\.0.*\brv:(11)")),
)
_PLATFORMS: tuple[tuple[str, str], ...] = (
    ("Windows Phone", "Windows Phone"),
    ("Windows", "Windows"),
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iOS"),
    ("iPod", "iOS"),
    ("CrOS", "ChromeOS"),
    ("Macintosh", "macOS"),
    ("Mac OS X", "macOS"),
    ("Linux", "Linux"),
)
#: what a browser or an app on a person's device names: a rendering engine, a device platform, a
#: text-mode or feature-phone browser. A user agent naming none of these (`Something::Bookmark/2.0`,
#: `name/v0-570-gdeadbee`) is a tool, whatever its name. Checked against every labelled browser and
#: app of isbot's fixture (tests/test_classify.py).
_CLIENT_TOKENS = re.compile(
    r"AppleWebKit/|Gecko|KHTML|Trident/|Presto/|Goanna/|EdgeHTML|"
    r"\b(?:Windows|Win(?:32|64|NT|\d+)|Macintosh|Mac OS|macOS|\bMac\b|Darwin/|CFNetwork/|iPhone|iPad|iPod|iOS\b|"
    r"Android|Dalvik/|Linux|X11|CrOS|FreeBSD|OpenBSD|NetBSD|Ubuntu|Symbian|Series ?(?:40|60)|S60|MIDP|J2ME|"
    r"BlackBerry|BB10|Nokia|SonyEricsson|SAMSUNG|Kindle|PlayStation|Nintendo|Tizen|webOS|Web0S|SmartTV|"
    r"Amiga|MorphOS|BeOS|Haiku|Inferno|textmode)|"
    r"^(?:Lynx|ELinks|Links|w3m|Dillo|NetSurf|MozacFetch)\b|^Opera/|^Mozilla/\d(?:\.\d+)? \((?!compatible;)",
    re.IGNORECASE,
)
#: release trains: family -> (anchor version, its release date, days per major version)
_TRAINS: dict[str, tuple[int, date, float]] = {
    "Chrome": (120, date(2023, 12, 5), 31.5),
    "Edge": (120, date(2023, 12, 7), 31.5),
    "Opera": (105, date(2023, 11, 23), 35.0),
    "Firefox": (120, date(2023, 11, 21), 28.7),
    "Safari": (17, date(2023, 9, 18), 365.0),
    "Samsung Internet": (23, date(2023, 10, 1), 120.0),
}
#: an "outdated" browser: its version came out this many days (or more) before the hit
STALE_DAYS = {"Safari": 730}
STALE_DAYS_DEFAULT = 365
#: a "current" browser: its version came out at most this many days before the hit
FRESH_DAYS = {"Safari": 400}
FRESH_DAYS_DEFAULT = 100


def release_date(browser: str, major: int) -> date | None:
    """Approximate release date of a major version, from the family's release cadence."""
    if browser == "Internet Explorer":
        return date(2013, 10, 17) if major >= 11 else date(2011, 3, 14)
    train = _TRAINS.get(browser)
    if train is None:
        return None
    anchor, anchor_day, days = train
    if browser == "Safari" and major >= 26:
        # Safari jumped from 18 to 26 (named after the year) in September 2025
        anchor, anchor_day = 26, date(2025, 9, 15)
    elif browser == "Safari" and major > 18:
        return None
    try:
        return anchor_day + timedelta(days=(major - anchor) * days)
    except OverflowError:
        return None


@dataclass(frozen=True, slots=True)
class Crawler:
    """A generic crawler-list match and what kind of crawler it is."""

    cls: VerdictClass
    code: str
    text: str


@dataclass(frozen=True, slots=True)
class Agent:
    ua: str
    open_row: UaRow | None
    click_row: UaRow | None
    crawler: Crawler | None
    browser: str | None = None
    major: int | None = None
    platform: str | None = None
    #: a browser or an app on a device (names an engine or a platform), or a mail client or mail
    #: proxy of the signature table; False for a tool's own name (`name/1.0`)
    client_like: bool = False

    @property
    def empty(self) -> bool:
        return not self.ua.strip()

    @property
    def bare_mozilla(self) -> bool:
        """Exactly `Mozilla/5.0`: Apple Mail Privacy Protection's prefetch user agent."""
        return self.ua.strip() == "Mozilla/5.0"

    def row(self, kind: str) -> UaRow | None:
        return self.open_row if kind == "open" else self.click_row

    @property
    def label(self) -> str:
        """A short name for reason texts: 'Chrome 74 on Windows', 'an unrecognised client'."""
        if self.browser:
            name = f"{self.browser} {self.major}" if self.major is not None else self.browser
            return f"{name} on {self.platform}" if self.platform else name
        if self.platform:
            return f"an app on {self.platform}"
        return "an unrecognised client"

    def age_days(self, when: datetime) -> float | None:
        """Days between the release of this browser version and `when` (None when unknown)."""
        if self.browser is None or self.major is None:
            return None
        released = release_date(self.browser, self.major)
        return None if released is None else float((when.date() - released).days)

    def stale(self, when: datetime) -> bool:
        age = self.age_days(when)
        return age is not None and self.browser is not None and age >= STALE_DAYS.get(self.browser, STALE_DAYS_DEFAULT)

    def fresh(self, when: datetime) -> bool:
        age = self.age_days(when)
        return age is not None and self.browser is not None and age <= FRESH_DAYS.get(self.browser, FRESH_DAYS_DEFAULT)


def _first_row(sigs: Signatures, ua: str, kind: str) -> UaRow | None:
    lower = ua.lower()
    for row in sigs.ua_rows:
        if row.applies_to(kind) and row.matches(ua, lower):
            return row
    return None


def _crawler(sigs: Signatures, ua: str) -> Crawler | None:
    if not sigs.crawler.search(ua):
        return None
    for tag, regex in sigs.crawler_tags:
        if regex.search(ua):
            for t, cls, code, text in TAG_CLASSES:
                if t == tag:
                    return Crawler(cls, code, text)
    return Crawler(VerdictClass.SCANNER, "crawler", "a crawler or bot (generic crawler list)")


def _browser(ua: str) -> tuple[str | None, int | None]:
    if not ua.startswith("Mozilla/") and not ua.startswith("Opera/"):
        return None, None
    for name, regex in _BROWSERS:
        m = regex.search(ua)
        if m:
            digits = next(g for g in m.groups() if g)
            return name, int(digits)
    return None, None


def _platform(ua: str) -> str | None:
    for token, name in _PLATFORMS:
        if token in ua:
            return name
    return None


def _client_like(ua: str, browser: str | None, platform: str | None, rows: tuple[UaRow | None, ...]) -> bool:
    if browser is not None or platform is not None:
        return True
    if any(row is not None and row.tier != "agent" for row in rows):
        return True
    return _CLIENT_TOKENS.search(ua) is not None


@lru_cache(maxsize=8192)
def _describe(ua: str, sigs: Signatures) -> Agent:
    browser, major = _browser(ua)
    platform = _platform(ua)
    open_row, click_row = _first_row(sigs, ua, "open"), _first_row(sigs, ua, "click")
    return Agent(
        ua=ua,
        open_row=open_row,
        click_row=click_row,
        crawler=_crawler(sigs, ua) if ua.strip() and ua.strip() != "Mozilla/5.0" else None,
        browser=browser,
        major=major,
        platform=platform,
        client_like=_client_like(ua, browser, platform, (open_row, click_row)),
    )


def describe(ua: str, sigs: Signatures | None = None) -> Agent:
    return _describe(ua, sigs if sigs is not None else default())


__all__ = ["Agent", "Crawler", "describe"]
