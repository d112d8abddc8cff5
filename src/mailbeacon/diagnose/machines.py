"""Naming the machines that touched an email, and what each did. Pure.

`NAMES` is data: the first row whose reason code or subtype the hit's verdict carries names the
machine. Codes come from the classifier's rule table and user-agent signatures
(docs/classification.md); a new scanner there needs one row here to get its own name.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from ..model import HitKind, VerdictClass
from .facts import HitFact
from .wording import after, join, plural

#: verdict classes that are machines, not people (R9)
MACHINE_CLASSES = frozenset({VerdictClass.SCANNER, VerdictClass.MACHINE_OPEN, VerdictClass.PREVIEW})

_PREVIEWS = {
    "slack": "Slack",
    "teams": "Microsoft Teams",
    "microsoft": "Microsoft 365",
    "facebook": "Facebook",
    "twitter": "X (Twitter)",
    "whatsapp": "WhatsApp",
    "telegram": "Telegram",
    "discord": "Discord",
    "snapchat": "Snapchat",
    "bing": "Bing",
    "yahoo": "Yahoo Mail",
    "linkedin": "LinkedIn",
    "reddit": "Reddit",
    "mattermost": "Mattermost",
    "chatwork": "Chatwork",
    "dingtalk": "DingTalk",
    "clickup": "ClickUp",
}

# fmt: off
#: (where to look: "code" in the verdict's reason codes | "subtype" | "class", value, the machine's name)
NAMES: tuple[tuple[str, str, str], ...] = (
    ("code",    "barracuda",              "Barracuda's email scanner"),
    ("code",    "mimecast",               "Mimecast's link scanner"),
    ("code",    "proofpoint",             "Proofpoint's link scanner"),
    ("code",    "trend_micro",            "Trend Micro's email scanner"),
    ("code",    "one_outlook",            "a Microsoft 365 service"),
    ("code",    "google_safety",          "Google's link-safety check"),
    ("code",    "apple_mpp",              "Apple Mail Privacy Protection"),
    ("code",    "gmail_prefetch",         "Gmail's image prefetch"),
    ("code",    "proxy_retry",            "Yahoo's mail proxy"),
    ("code",    "image_proxy_link_fetch", "Google's image proxy"),
    ("code",    "yahoo_link_fetch",       "Yahoo's mail proxy"),
    ("code",    "browser_prefetch",       "a browser prefetch"),
    ("code",    "head_request",           "a link checker"),
    ("code",    "http_library",           "a script"),
    ("code",    "headless_browser",       "an automated browser"),
    ("code",    "unknown_tool",           "an automated tool"),
    *(("subtype", key, f"{name}'s link preview") for key, name in _PREVIEWS.items()),
    ("code",    "network_microsoft",      "Microsoft's link scanner"),
    ("code",    "network_scanner_vendor", "an email-security gateway"),
    ("code",    "network_google",         "a scanner on Google's cloud"),
    ("code",    "network_googlebot",      "Googlebot"),
    ("code",    "network_bing",           "Bing's crawler"),
    ("class",   "preview",                "a link preview"),
    ("class",   "machine_open",           "a privacy prefetch"),
    ("class",   "scanner",                "a security scanner"),
)
# fmt: on


def name_of(hit: HitFact) -> str:
    """The name of the machine behind a hit (its verdict must be a machine class)."""
    codes = set(hit.codes)
    for where, value, name in NAMES:
        if (
            (where == "code" and value in codes)
            or (where == "subtype" and hit.subtype == value)
            or (where == "class" and hit.verdict is not None and hit.verdict.value == value)
        ):
            return name
    return "a machine"


@dataclass(frozen=True, slots=True)
class Machine:
    """What one machine did to the email: pixel fetches, links clicked, when it started."""

    name: str
    opens: int
    clicks: int
    links: int
    decoys: int
    first_at: datetime
    reasons: tuple[str, ...]

    @property
    def hits(self) -> int:
        return self.opens + self.clicks + self.decoys

    def did(self, sent_at: datetime) -> str:
        """'Microsoft's link scanner fetched it and clicked 3 links 4 seconds after sending'."""
        acts = []
        if self.opens:
            acts.append("fetched it")
        if self.links:
            acts.append(f"clicked {plural(self.links, 'link')}")
        elif self.decoys:
            acts.append("requested its hidden check link")
        return f"{self.name} {join(acts) or 'touched it'} {after(sent_at, self.first_at)}"

    def as_json(self) -> dict[str, object]:
        return {
            "machine": self.name,
            "pixel_loads": self.opens,
            "clicks": self.clicks,
            "links": self.links,
            "decoy_requests": self.decoys,
            "first_at": self.first_at.isoformat().replace("+00:00", "Z"),
            "reasons": list(self.reasons),
        }


def machines(hits: Iterable[HitFact]) -> list[Machine]:
    """The machines among `hits` (settled or provisional machine verdicts), first to act first."""
    groups: dict[str, list[HitFact]] = {}
    for h in hits:
        if h.verdict in MACHINE_CLASSES:
            groups.setdefault(name_of(h), []).append(h)
    out = []
    for name, hs in groups.items():
        reasons = tuple(dict.fromkeys(h.reasons[0].text for h in hs if h.reasons))[:3]
        out.append(
            Machine(
                name=name,
                opens=sum(1 for h in hs if h.kind is HitKind.OPEN),
                clicks=sum(1 for h in hs if h.kind is HitKind.CLICK),
                links=len({h.link for h in hs if h.kind is HitKind.CLICK}),
                decoys=sum(1 for h in hs if h.kind is HitKind.DECOY),
                first_at=min(h.at for h in hs),
                reasons=reasons,
            )
        )
    return sorted(out, key=lambda m: m.first_at)
