"""The demo's day, as data: who sends what to whom, who does what when, and what must be counted.

Two senders of one workspace (`northwind.example`) send 50 emails in the morning, one every few
minutes. Each email's recipient then does what its steps say, at seconds after the sending. The
first ones play the scenarios of PRODUCT.md's table ("Scenarios that must come out right");
`EXPECTED` holds what the table says their counters must be. The others are everyday traffic.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .actors import (
    GATEWAY,
    MPP_V4,
    MPP_V6,
    SAFE_LINKS,
    SLACK,
    Actor,
    apple_mail,
    chrome,
    chrome_android,
    edge,
    gmail_proxy,
    iphone_mail,
    iphone_safari,
    outlook,
)

DOMAIN = "northwind.example"
WORKSPACE = "Northwind"
MINUTE = 60.0
HOUR = 3600.0
#: seconds between two sends in the morning
SEND_EVERY = 5 * MINUTE


class Do(StrEnum):
    OPEN = "open"  # the pixel loads
    CLICK = "click"  # one rewritten link
    SCAN = "scan"  # a scanner: the pixel, then every link and the hidden decoy, within a second
    SELF_VIEW = "self_view"  # the sender's paired browser shows the email (the extension's beacon)
    REPLY = "reply"
    AUTO_REPLY = "auto_reply"
    BOUNCE = "bounce"


@dataclass(frozen=True)
class Sender:
    key: str
    name: str
    email: str
    other_address: str  # the sender's own other mailbox (R2)
    admin: bool = False


MAYA = Sender("maya", "Maya Lopez", f"maya@{DOMAIN}", "maya.lopez@fastmail.example", admin=True)
SAM = Sender("sam", "Sam Okafor", f"sam@{DOMAIN}", "sam.okafor@icloud.example")
SENDERS = (MAYA, SAM)

#: Maya's browser, paired with the extension (its cookie makes its pixel loads `self`, R2)
MAYA_BROWSER = chrome("81.2.69.160", mac=True, paired=True)


@dataclass(frozen=True)
class Step:
    after: float  # seconds after the email was sent
    do: Do
    actor: Actor | None = None
    link: int = 0


@dataclass(frozen=True)
class Send:
    sender: Sender
    to: str
    name: str
    subject: str
    template: str
    steps: tuple[Step, ...] = ()
    scenario: str = ""  # the key of its row in EXPECTED


def _s(after: float, do: Do, actor: Actor | None = None, link: int = 0) -> Step:
    return Step(after, do, actor, link)


OPEN, CLICK = Do.OPEN, Do.CLICK
M, H = MINUTE, HOUR

SCENARIO_SENDS: tuple[Send, ...] = (
    Send(
        MAYA,
        MAYA.other_address,
        "Maya Lopez",
        "Draft: pricing one-pager",
        "leemunroe-email.html",
        (
            _s(30 * M, OPEN, MAYA_BROWSER),
            _s(31 * M, CLICK, MAYA_BROWSER.page(), 1),
        ),
        "own-paired",
    ),
    Send(
        SAM,
        SAM.other_address,
        "Sam Okafor",
        "Slides for Thursday",
        "leemunroe-email.html",
        (
            _s(50 * M, OPEN, iphone_mail("2a02:df:3488:52b7:c6ec:1f31:ff0b:1")),
            _s(51 * M, CLICK, iphone_safari("2a02:df:3488:52b7:c6ec:1f31:ff0b:1"), 0),
            _s(4 * H, OPEN, iphone_mail("2a02:df:3488:52b7:c6ec:1f31:ff0b:1")),
        ),
        "own-phone",
    ),
    Send(
        MAYA,
        SAM.email,
        "Sam Okafor",
        "Can you check the Fabrikam quote?",
        "mailgun-action.html",
        (
            _s(15 * M, OPEN, outlook("86.39.45.98")),
            _s(16 * M, CLICK, edge("86.39.45.98"), 0),
            _s(40 * M, Do.REPLY),
        ),
        "colleague",
    ),
    Send(
        MAYA,
        "daniel.reyes@brightlane.example",
        "Daniel Reyes",
        "Northwind x Brightlane: next steps",
        "cerberus-hybrid.html",
        (
            _s(10 * M, Do.SELF_VIEW),
            _s(10 * M + 1, OPEN, gmail_proxy("66.249.84.20")),
            _s(3 * H, OPEN, MAYA_BROWSER),
            _s(3 * H + 20, CLICK, MAYA_BROWSER.page(), 1),
        ),
        "sent-folder",
    ),
    Send(
        MAYA,
        "lena.fischer@harbor-analytics.example",
        "Lena Fischer",
        "Your trial workspace is ready",
        "sendgrid-paste-digest.html",
        (
            _s(45 * M, OPEN, apple_mail("176.130.154.73")),
            _s(47 * M, CLICK, chrome("176.130.154.73", mac=True).page(), 0),
            _s(49 * M, CLICK, chrome("176.130.154.73", mac=True).page(), 2),
            _s(3 * H, OPEN, apple_mail("176.130.154.73")),
            _s(3 * H + 5 * M, Do.REPLY),
            _s(6 * H, OPEN, iphone_mail("92.97.127.134")),
        ),
        "external",
    ),
    Send(
        SAM,
        "tom.becker@fabrikam.example",
        "Tom Becker",
        "Proposal: Northwind for Fabrikam",
        "konsav-general.html",
        (
            _s(6, Do.SCAN, SAFE_LINKS),
            _s(1 * H + 10 * M, OPEN, outlook("62.30.112.7")),
            _s(1 * H + 12 * M, CLICK, edge("62.30.112.7"), 3),
            _s(2 * H, Do.REPLY),
        ),
        "safe-links",
    ),
    Send(
        MAYA,
        "chloe.martin@icloud.example",
        "Chloé Martin",
        "Welcome to Northwind",
        "mailgun-action.html",
        (
            _s(3 * M, OPEN, MPP_V4),
            _s(5 * H, OPEN, MPP_V6),
        ),
        "mpp",
    ),
    Send(
        SAM,
        "noah.kim@icloud.example",
        "Noah Kim",
        "Your invoice and what's next",
        "sendgrid-paste-digest.html",
        (
            _s(2 * M, OPEN, MPP_V4),
            _s(2 * H, CLICK, iphone_safari("104.28.115.96"), 1),
        ),
        "mpp-click",
    ),
    Send(
        MAYA,
        "raj.patel@gmail.example",
        "Raj Patel",
        "Quick question about your rollout",
        "leemunroe-email.html",
        (
            _s(20 * M, OPEN, gmail_proxy("66.249.84.20")),
            _s(2 * H, OPEN, gmail_proxy("66.249.81.156")),
            _s(2 * H + 1 * M, CLICK, chrome_android("213.234.210.103"), 0),
            _s(5 * H, OPEN, gmail_proxy("66.249.91.94")),
            _s(5 * H + 10 * M, Do.REPLY),
        ),
        "gmail",
    ),
    Send(
        SAM,
        "olga.ivanova@norrsken.example",
        "Olga Ivanova",
        "The case study you asked for",
        "cerberus-hybrid.html",
        (_s(3 * H, CLICK, chrome("81.72.124.107").page(), 0),),
        "images-blocked",
    ),
    Send(
        SAM,
        "ben.carter@lumen.example",
        "Ben Carter",
        "Agenda for the Lumen workshop",
        "leemunroe-email.html",
        (
            _s(1 * H, OPEN, outlook("90.210.145.55")),
            _s(2 * H, OPEN, apple_mail("188.201.74.90")),  # the colleague Ben forwarded it to
            _s(2 * H + 5 * M, CLICK, SLACK, 0),  # ... who pasted the links into Slack
            _s(2 * H + 5 * M + 1, CLICK, SLACK, 1),
        ),
        "forwarded",
    ),
    Send(
        MAYA,
        "julia.weber@kontor.example",
        "Julia Weber",
        "Catching up after the fair",
        "leemunroe-email.html",
        (_s(1 * M, Do.AUTO_REPLY),),
        "out-of-office",
    ),
    Send(
        SAM,
        "k.novak@fabrikam.example",
        "K. Novak",
        "Proposal: Northwind for Fabrikam",
        "mailgun-action.html",
        (
            _s(5, Do.SCAN, GATEWAY),
            _s(90, Do.BOUNCE),
        ),
        "bounce",
    ),
)


@dataclass(frozen=True)
class Expected:
    """One row of the check: a scenario of PRODUCT.md's table and the counters it must give."""

    key: str
    label: str
    opens: int
    clicks: int
    replies: int
    #: further counters shown on their own rows: (label, counter of `stats.Counts`, value)
    also: tuple[tuple[str, str, int], ...] = ()


EXPECTED: tuple[Expected, ...] = (
    Expected("own-paired", "own other address, paired browser", 0, 1, 0),
    Expected("own-phone", "own other address, on a phone", 2, 1, 0),
    Expected("colleague", "a colleague in the workspace", 1, 1, 0),
    Expected("sent-folder", "your Sent folder, paired browser", 0, 1, 0),
    Expected("external", "an external client", 3, 2, 1),
    Expected("safe-links", "Safe Links scans, the person reads later", 1, 1, 1,
             (("scanner hits, shown apart", "hits_scanner", 11),)),
    Expected("mpp", "Apple Mail Privacy Protection", 0, 0, 0,
             (("machine opens, shown apart", "opens_machine", 2),)),
    Expected("mpp-click", "Privacy Protection, then a click", 1, 1, 0,
             (("opens inferred from the click", "opens_inferred", 1),)),
    Expected("gmail", "Gmail (Google's image proxy)", 3, 1, 1),
    Expected("images-blocked", "images blocked, a click", 1, 1, 0,
             (("opens inferred from the click", "opens_inferred", 1),)),
    Expected("forwarded", "forwarded; a chat app unfurls links", 2, 0, 0,
             (("link previews, shown apart", "hits_preview", 2),)),
    Expected("out-of-office", "an out-of-office answer", 0, 0, 0,
             (("auto-replies (not replies)", "auto_replies", 1),)),
    Expected("bounce", "a bounce after a gateway's scan", 0, 0, 0,
             (("bounces", "bounces", 1),)),
)  # fmt: skip
