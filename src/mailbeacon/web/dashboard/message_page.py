"""A message's page (`/app/messages/{id}`): per recipient the counted numbers beside the raw hits,
a timeline of every hit and reply with its verdict and reason (machines and the sender's own views
are shown muted, never hidden), the links with their counted and scanner clicks, and the "Why?"
answer of `diagnose/` (the same one `mailbeacon why` prints)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ...diagnose import Answer, HitFact, diagnose
from ...diagnose.machines import name_of
from ...errors import NotFound
from ...model import HitKind, Recipient, Reply, ReplyKind, VerdictClass
from ...stats import Counts, glance
from ...store import StoredVerdict
from .render import page, runtime_of, signed_in, view

CLASS_LABEL = {
    VerdictClass.HUMAN: "Person",
    VerdictClass.SELF: "You",
    VerdictClass.MACHINE_OPEN: "Privacy prefetch",
    VerdictClass.SCANNER: "Scanner",
    VerdictClass.PREVIEW: "Link preview",
    VerdictClass.UNKNOWN: "Unknown",
}
#: how a person's hit reached us (the verdict's subtype), as the sender would name the client
HUMAN_FAMILY = {
    "gmail_proxy": "Gmail (Google's image proxy)",
    "yahoo_proxy": "Yahoo Mail (its image proxy)",
    "mail_proxy": "a webmail's image proxy",
    "mail_client_outlook": "Outlook",
    "mail_client_apple": "Apple Mail",
    "mail_client": "a mail app",
    "private_relay": "a device behind iCloud Private Relay",
    "direct": "a browser or mail app, directly",
}
SELF_FAMILY = {
    "paired_device": "your paired browser",
    "self_view": "your paired browser (it said it was showing the email)",
    "sender_network": "your own network",
}
REPLY_WHAT = {
    ReplyKind.REPLY: ("Replied", "Reply", False),
    ReplyKind.AUTO_REPLY: ("Automatic reply (out of office, vacation)", "Auto-reply", True),
    ReplyKind.BOUNCE: ("Bounced: the email was not delivered", "Bounce", False),
    ReplyKind.COLLEAGUE: ("A colleague wrote in the thread", "Colleague", True),
    ReplyKind.SENDER: ("You wrote in the thread", "You", True),
    ReplyKind.REPORT: ("A read receipt, delay warning or report", "Report", True),
}


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of a recipient's timeline."""

    at: datetime
    what: str
    verdict: str
    css: str
    family: str
    reason: str
    counted: str
    muted: bool


def family(sv: StoredVerdict) -> str:
    """The client family of a hit, from its verdict's subtype and reasons."""
    v = sv.verdict
    if v is None:
        return ""
    if v.cls is VerdictClass.HUMAN:
        named = _named_client(v.reasons[0].text if v.reasons else "")
        if named and v.subtype in ("direct", "mail_client"):
            return named
        return HUMAN_FAMILY.get(v.subtype or "", (v.subtype or "").replace("_", " "))
    if v.cls is VerdictClass.SELF:
        return SELF_FAMILY.get(v.subtype or "", "you")
    if v.cls is VerdictClass.UNKNOWN:
        return (v.subtype or "").replace("_", " ")
    fact = HitFact(sv.hit.kind, sv.hit.at, sv.hit.link, v.cls, v.subtype, v.reasons, sv.settled)
    return name_of(fact)


def _named_client(reason: str) -> str:
    """The client a person's verdict names: "A person: Chrome 145 on Windows" -> "Chrome 145 on Windows",
    "Microsoft Outlook (a mail client on the reader's device)" -> "Microsoft Outlook"."""
    text = reason.removeprefix("A person: ").removeprefix("a person: ")
    name = text.split(" (", 1)[0].split(";", 1)[0].strip()
    return name if 0 < len(name) <= 60 else ""


def _what(sv: StoredVerdict, links: list[str]) -> str:
    h = sv.hit
    if h.kind is HitKind.OPEN:
        return "Loaded the pixel" if h.method != "HEAD" else "Probed the pixel (a HEAD request)"
    if h.kind is HitKind.CLICK:
        url = links[h.link] if h.link is not None and 0 <= h.link < len(links) else "a link"
        return f"Clicked {url}"
    if h.kind is HitKind.DECOY:
        return "Requested the hidden check link (no person can see it)"
    return "Your paired browser showed the email"


def _counted(sv: StoredVerdict) -> str:
    v = sv.verdict
    if v is None or not sv.settled:
        return "deciding"
    if sv.hit.kind is HitKind.OPEN and v.cls is VerdictClass.HUMAN:
        return "counted"
    if sv.hit.kind is HitKind.CLICK and v.cls is VerdictClass.HUMAN:
        return "counted"
    if sv.hit.kind is HitKind.CLICK and v.cls is VerdictClass.SELF:
        return "counted, as yours"
    return "not counted"


def hit_entry(sv: StoredVerdict, links: list[str]) -> Entry:
    v = sv.verdict
    cls = v.cls if v else None
    return Entry(
        at=sv.hit.at,
        what=_what(sv, links),
        verdict=(CLASS_LABEL[cls] if cls else "Not decided yet") + ("" if sv.settled or not v else " (for now)"),
        css=cls.value if cls else "pending",
        family=family(sv),
        reason=v.sentence if v else "waiting for the pipeline to decide",
        counted=_counted(sv),
        muted=cls is not VerdictClass.HUMAN,
    )


def reply_entry(r: Reply) -> Entry:
    what, label, muted = REPLY_WHAT[r.kind]
    counted = "counted" if r.kind is ReplyKind.REPLY else "not counted"
    who = f"from {r.from_address}" + (" (another address)" if r.other_address else "")
    return Entry(r.at, what, label, f"reply-{r.kind.value}", "", who, counted, muted)


def timeline(hits: list[StoredVerdict], replies: list[Reply], links: list[str]) -> list[Entry]:
    """Every hit (self-view beacons included) and every inbound message, oldest first."""
    entries = [hit_entry(sv, links) for sv in hits] + [reply_entry(r) for r in replies]
    return sorted(entries, key=lambda e: e.at)


def numbers(c: Counts) -> list[tuple[str, int, str]]:
    """(label, number, note) of the counted numbers, each beside what was not counted."""
    machine = c.hits_machine_open + c.hits_scanner + c.hits_preview + c.hits_unknown
    inferred = " (inferred from a click or reply)" if c.opens_inferred else ""
    return [
        ("Opens", c.opens, f"by a person{inferred}"),
        ("Clicks", c.clicks, f"{c.clicks_self} of them yours" if c.clicks_self else "by a person"),
        ("Replies", c.replies, f"{c.auto_replies} automatic, not counted" if c.auto_replies else ""),
        ("Machine hits", machine, "scanners, prefetches, previews: not counted"),
        ("Your own views", c.hits_self, "not counted as opens"),
    ]


@dataclass(frozen=True, slots=True)
class RecipientPanel:
    recipient: Recipient
    state: str
    label: str
    numbers: list[tuple[str, int, str]]
    entries: list[Entry]
    why: Answer


@signed_in
async def message(request: Request) -> Response:
    raw = str(request.path_params["message_id"])
    rt = runtime_of(request)

    def load() -> dict[str, Any]:
        if not raw.isdigit() or len(raw) > 18:
            raise NotFound(f"no tracked message {raw[:40]}")
        v = view(request)
        msg = v.message(int(raw))
        rcpts, counts, _ = v.counts(msg.id)
        links = v.link_urls(msg.id)
        now = rt.clock()
        panels = []
        for r in rcpts:
            _, c, hits, replies = v.timeline(msg.id, r.id)
            facts = v.why_facts(msg.id, r.address, public_url=rt.public_url, settle_window=rt.settings.settle_window)
            code, label = glance(c)
            panels.append(
                RecipientPanel(r, code, label, numbers(c), timeline(hits, replies, links), diagnose(facts, now))
            )
        link_rows = [
            (
                i,
                url,
                sum(counts[r.id].link_clicks.get(i, 0) for r in rcpts),
                sum(counts[r.id].link_scanner_clicks.get(i, 0) for r in rcpts),
            )
            for i, url in enumerate(links)
        ]
        return {"message": msg, "panels": panels, "link_rows": link_rows}

    try:
        context = await asyncio.to_thread(load)
    except NotFound:
        return page(request, "not_found.html", status=404, what="This email")
    return page(request, "message.html", **context)


ROUTES: list[BaseRoute] = [Route("/app/messages/{message_id}", message, methods=["GET"])]
