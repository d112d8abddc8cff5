"""Facts that explain silence, each its own line: an unreachable tracking address, Gmail's clipping,
only machines so far (and a possible quarantine), images blocked, a forward, hits still being checked.
Only the facts that hold are returned. Pure."""

from __future__ import annotations

from datetime import datetime

from ..model import ReplyKind, VerdictClass
from ..reachability import public_url_issues
from ..rewrite.size import GMAIL_CLIP_BYTES, clipped_by_gmail
from .answer import Line, Status
from .facts import Facts
from .machines import name_of
from .seen import Seen
from .wording import after, join, kb, plural, span

#: what to do about a tracking address recipients cannot use: the server's, or the workspace's own domain
_URL_TODO = {
    "server": "Give mailbeacon a public https address (setting public_url); it applies to emails sent afterwards.",
    "workspace": (
        "Give the workspace's tracking domain a public https address (tracking_url in the workspace's "
        "settings); it applies to emails sent afterwards."
    ),
}
_URL_TEXT = {
    "loopback": "The tracking address {url} points at this machine, so no recipient can load the pixel or open tracked links.",
    "private": "The tracking address {url} is on a private network, so recipients cannot load the pixel or open tracked links.",
    "local_name": "The tracking address {url} is a local name, so recipients cannot load the pixel or open tracked links.",
    "plain_http": "The tracking address {url} uses plain http, so some mail apps block the pixel and your own browser is not recognised.",
}  # fmt: skip


def reachability(facts: Facts, seen: Seen) -> list[Line]:
    issues = public_url_issues(facts.public_url)
    if not issues or (facts.injection is not None and not facts.injection.instrumented):
        return []
    code = issues[0]  # the worst first: unreachable, then plain http
    status = Status.UNKNOWN if code == "plain_http" else Status.PROBLEM
    return [
        Line(
            None,
            f"address.{code}",
            status,
            _URL_TEXT[code].format(url=facts.public_url),
            _URL_TODO["workspace" if facts.public_url == facts.workspace_tracking_url else "server"],
            {"public_url": facts.public_url, "problems": issues},
        )
    ]


def clipping(facts: Facts, seen: Seen) -> list[Line]:
    size = facts.html_bytes
    if size is None or not clipped_by_gmail(size):
        return []
    return [
        Line(
            None,
            "size.gmail_clipped",
            Status.PROBLEM,
            f"The email is {kb(size)} of HTML, over Gmail's {kb(GMAIL_CLIP_BYTES)} limit: Gmail cuts it short "
            "and hides the rest behind a link.",
            "Keep emails under 100 KB: fewer embedded images, less formatting.",
            {"html_bytes": size, "gmail_limit_bytes": GMAIL_CLIP_BYTES},
        )
    ]


def only_machines(facts: Facts, seen: Seen) -> list[Line]:
    if not seen.only_machines:
        return []
    acts = [m.did(facts.sent_at) for m in seen.machines[:2]]
    if len(seen.machines) > 2:
        acts.append(plural(len(seen.machines) - 2, "other machine"))
    data = {"machines": [m.as_json() for m in seen.machines]}
    prefetch_only = all(h.verdict is VerdictClass.MACHINE_OPEN for h in seen.hits)
    if seen.bounced:
        text = f"{join(acts)}, but the email bounced: nobody read it."
        return [Line(None, "machines.bounced", Status.PROBLEM, text, "Check the address and send it again.", data)]
    if prefetch_only:
        text = f"{join(acts)}; that shows it arrived, not that anyone read it."
        return [Line(None, "machines.prefetch_only", Status.UNKNOWN, text, None, data)]
    lines = [Line(None, "machines.only", Status.UNKNOWN, f"{join(acts)}; nobody has read it yet.", None, data)]
    if any(h.verdict is VerdictClass.SCANNER for h in seen.hits):
        lines.append(
            Line(
                None,
                "machines.quarantine",
                Status.UNKNOWN,
                "A security gateway checked it and no person followed: it may be held in quarantine.",
                "Ask the recipient whether it arrived, or to look in their quarantine or spam folder.",
            )
        )
    return lines


def images_blocked(facts: Facts, seen: Seen) -> list[Line]:
    if not seen.human_clicks or seen.human_opens:
        return []
    return [
        Line(
            None,
            "images.blocked",
            Status.OK,
            "They clicked a link but their mail app never loaded the pixel: it blocks images.",
            "Nothing to fix: their opens are counted from their clicks.",
            {"human_clicks": seen.human_clicks, "human_pixel_loads": 0},
        )
    ]


#: link previews that mean someone pasted a link from the email into a chat or a social post
_SHARED_BY = frozenset({"microsoft", "facebook", "twitter", "linkedin", "reddit", "snapchat", "embed"})


def forwarded(facts: Facts, seen: Seen) -> list[Line]:
    shared = [
        h
        for h in seen.hits
        if h.verdict is VerdictClass.PREVIEW and ("chat_unfurl" in h.codes or h.subtype in _SHARED_BY)
    ]
    names = list(dict.fromkeys(name_of(h) for h in shared))
    if not names:
        return []
    who = join(names)
    return [
        Line(
            None,
            "forwarded",
            Status.OK,
            f"{who[:1].upper() + who[1:]} shows the email was probably forwarded or shared.",
            None,
            {"previews": names},
        )
    ]


def pending(facts: Facts, seen: Seen) -> list[Line]:
    if not seen.pending:
        return []
    n = seen.pending
    return [
        Line(
            None,
            "hits.pending",
            Status.UNKNOWN,
            f"{plural(n, 'hit')} {'is' if n == 1 else 'are'} still being checked and not counted yet.",
            f"Look again in {span(facts.settle_window)}.",
            {"pending_hits": n},
        )
    ]


def no_from(facts: Facts, seen: Seen) -> list[Line]:
    if facts.injection is None or "no-from-header" not in facts.injection.notes:
        return []
    return [
        Line(
            None,
            "headers.no_from",
            Status.PROBLEM,
            "The email has no From: line, and many receiving servers (Gmail among them) refuse such mail.",
            "Check the program that wrote the email: it must set From.",
        )
    ]


def auto_replies(facts: Facts, seen: Seen) -> list[Line]:
    auto = [r for r in facts.replies if r.kind is ReplyKind.AUTO_REPLY]
    if not auto:
        return []
    return [
        Line(
            None,
            "replies.automatic",
            Status.OK,
            f"An automatic reply (such as an out-of-office) came back {after(facts.sent_at, auto[0].at)}; "
            "it does not count as a reply.",
            None,
            {"auto_replies": len(auto)},
        )
    ]


NOTES = (reachability, clipping, no_from, pending, only_machines, images_blocked, forwarded, auto_replies)


def notes(facts: Facts, seen: Seen, now: datetime) -> tuple[Line, ...]:
    return tuple(line for fn in NOTES for line in fn(facts, seen))
