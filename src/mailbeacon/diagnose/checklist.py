"""The troubleshooting checklist (PRODUCT.md, items 1-10), one function per item. Pure.

Each function reads the facts (and what the hits add up to) and returns the item's line: a
status, one sentence on what happened, one on what to do, and the facts behind it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from ..addresses import domain_of
from ..model import HitKind, Relation, ReplyKind, VerdictClass
from .answer import Line, Status
from .facts import Facts
from .health import extension, iso, mailbox, watched
from .seen import Seen, first_at
from .wording import FAILURE_TODO, after, failure_code, failure_reason, join, plural, times

OK, PROBLEM, UNKNOWN = Status.OK, Status.PROBLEM, Status.UNKNOWN
_KINDS = ("opens", "clicks", "replies")
_NOUNS = {"opens": "open", "clicks": "click", "replies": "reply"}
_WHERE = {
    "server": "the server's defaults",
    "workspace": "your workspace's preferences",
    "user": "your preferences",
}
#: free mail providers: sharing one with the recipient does not make them a colleague
PUBLIC_DOMAINS = frozenset(
    {"gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "yahoo.com", "icloud.com",
     "me.com", "aol.com", "proton.me", "protonmail.com", "gmx.de", "gmx.net", "web.de", "yandex.ru", "mail.ru"}
)  # fmt: skip

Check = Callable[[Facts, Seen, datetime], Line]
#: how pixel loads are grouped in item 5: group -> (one, several)
_BY = {
    "person": ("by a person", "by people"),
    "own": ("in your own browser", "in your own browser"),
    "machine": ("by a machine", "by machines"),
    "undecided": ("undecided", "undecided"),
    "pending": ("still being checked", "still being checked"),
}


def _all(n: int, noun: str) -> str:
    """'The only hit', 'Both hits', 'All 5 hits'."""
    return f"The only {noun}" if n == 1 else f"Both {noun}s" if n == 2 else f"All {n} {noun}s"


def _off(facts: Facts, email: bool) -> dict[str, list[str]]:
    """Switches that were off, by level: {"user": ["opens"], ...} (the email's own, or the others)."""
    out: dict[str, list[str]] = {}
    for code in facts.switches.reasons if facts.switches else ():
        kind, _, level = code.partition("-off-")
        if kind in _KINDS and (level == "email") == email:
            out.setdefault(level, []).append(kind)
    return out


def _kinds(kinds: list[str]) -> str:
    words = join([_NOUNS[k] for k in kinds])
    return words[:1].upper() + words[1:] + " tracking " + ("was" if len(kinds) == 1 else "were")


def preferences(facts: Facts, seen: Seen, now: datetime) -> Line:
    """1. Was tracking on in the preferences (server, workspace, user)?"""
    if facts.switches is None:
        return Line(1, "preferences.unknown", UNKNOWN, "The tracking preferences at sending time were not recorded.")
    off = _off(facts, email=False)
    codes = list(facts.switches.reasons)
    if not off:
        return Line(1, "preferences.on", OK, "Your preferences allowed tracking opens, clicks and replies.")
    parts = [f"{_kinds(kinds)} off in {_WHERE.get(level, level)}" for level, kinds in off.items()]
    parts[1:] = [p[:1].lower() + p[1:] for p in parts[1:]]
    where = "your workspace's preferences" if "workspace" in off else "your preferences"
    return Line(
        1,
        "preferences.off",
        PROBLEM,
        "; ".join(parts) + " when this email was sent.",
        f"Switch it on in {where}; it applies to the emails you send afterwards.",
        {"switches_off": codes},
    )


def composer(facts: Facts, seen: Seen, now: datetime) -> Line:
    """2. Was tracking on for this email (composer toggle, X-Mailbeacon-Track, API argument)?"""
    if facts.switches is None:
        return Line(2, "composer.unknown", UNKNOWN, "Whether tracking was on for this email was not recorded.")
    off = _off(facts, email=True).get("email", [])
    if not off:
        return Line(2, "composer.on", OK, "Tracking was not switched off for this email.")
    text = (
        "Tracking was switched off for this email." if len(off) == 3 else f"{_kinds(off)} switched off for this email."
    )
    return Line(
        2,
        "composer.off",
        PROBLEM,
        text,
        "Leave tracking on in the composer when you want to know about this recipient.",
        {"switches_off": [f"{k}-off-email" for k in off]},
    )


def injection(facts: Facts, seen: Seen, now: datetime) -> Line:
    """3. Was anything injected? (no HTML part, rewriting refused or failed: with the reason)"""
    inj = facts.injection
    if inj is None:
        return Line(3, "injection.unknown", UNKNOWN, "What was added to the email was not recorded.")
    facts_json = {
        "html": inj.html,
        "pixel": inj.pixel,
        "links": inj.links,
        "decoy": inj.decoy,
        "failure": inj.failure,
        "notes": list(inj.notes),
    }
    want_opens = facts.switches is None or facts.switches.opens
    want_clicks = facts.switches is None or facts.switches.clicks
    if inj.failure:
        code = failure_code(inj.failure)
        todo = FAILURE_TODO.get(code, f"Tell your mailbeacon administrator about message {facts.message_id}.")
        text = f"Nothing was added and the email went out as written: {failure_reason(inj.failure)}."
        return Line(3, f"injection.failed.{code.replace(' ', '_')}", PROBLEM, text, todo, facts_json)
    if not (want_opens or want_clicks):
        text = "Nothing was added to the email, because tracking was switched off."
        return Line(3, "injection.off", PROBLEM, text, None, facts_json)
    if want_opens and not inj.html:
        return Line(
            3,
            "injection.no_html",
            PROBLEM,
            "The email has no HTML part, so it could not carry the tracking pixel.",
            "Write in HTML (rich text) when you want to see opens.",
            facts_json,
        )
    if want_opens and not inj.pixel:
        return Line(
            3,
            "injection.no_pixel",
            PROBLEM,
            "The tracking pixel could not be added to this email's HTML.",
            f"Tell your mailbeacon administrator about message {facts.message_id}.",
            facts_json,
        )
    carried = []
    if inj.pixel:
        carried.append("a tracking pixel")
    if inj.links:
        carried.append(plural(inj.links, "tracked link"))
    text = f"The email carries {join(carried)}." if carried else "Nothing in the email could carry tracking."
    if want_clicks and not inj.links:
        text = text[:-1] + "; it has no links to track."
    return Line(
        3, "injection.done" if carried else "injection.none", OK if carried else PROBLEM, text, None, facts_json
    )


def recipient_kind(facts: Facts, seen: Seen, now: datetime) -> Line:
    """4. Is the recipient external, a colleague, or the sender's own address?"""
    who = facts.recipient
    data = {"relation": facts.relation.value, "workspace_domains": list(facts.workspace_domains)}
    if facts.relation is Relation.SENDER:
        text = f"{who} is one of your own addresses: views in your paired browser are not counted."
        return Line(4, "recipient.sender", OK, text, None, data)
    if facts.relation is Relation.COLLEAGUE:
        text = f"{who} is a colleague in your workspace: opens and clicks count, replies do not."
        theirs = sum(1 for r in facts.replies if r.kind is ReplyKind.COLLEAGUE)
        if theirs:
            text = text[:-1] + f" ({plural(theirs, 'reply', 'replies')} recorded)."
        return Line(4, "recipient.colleague", OK, text, None, data)
    domain = domain_of(who)
    if not facts.workspace_domains and domain == domain_of(facts.sender) and domain not in PUBLIC_DOMAINS:
        return Line(
            4,
            "recipient.domain_unset",
            PROBLEM,
            f"{who} shares your domain, but your workspace has no domain set, so they count as outside it.",
            f"Add {domain} to your workspace's domains so that colleagues are recognised.",
            data,
        )
    return Line(
        4, "recipient.external", OK, f"{who} is outside your workspace: opens, clicks and replies count.", None, data
    )


def pixel(facts: Facts, seen: Seen, now: datetime) -> Line:
    """5. Did the pixel load at all?"""
    inj = facts.injection
    if inj is not None and not inj.pixel:
        return Line(
            5, "pixel.absent", UNKNOWN, "The email carries no pixel, so only a click or a reply can show it was read."
        )
    opens = [h for h in seen.hits if h.kind is HitKind.OPEN]
    if not opens and (seen.human_clicks or seen.replies):
        return Line(
            5,
            "pixel.never_but_read",
            PROBLEM,
            "The tracking pixel never loaded, though they " + ("clicked." if seen.human_clicks else "replied."),
            None,
            {"pixel_loads": 0},
        )
    if not opens and seen.bounced:
        text = "The tracking pixel has not loaded: the email did not reach them (see below)."
        return Line(5, "pixel.undelivered", PROBLEM, text, None, {"pixel_loads": 0})
    if not opens:
        return Line(
            5,
            "pixel.never",
            PROBLEM,
            "The tracking pixel has not loaded at all.",
            "They have not opened it yet, or their mail app, an ad-blocker or antivirus blocks images.",
            {"pixel_loads": 0},
        )
    by: dict[str, int] = {}
    for h in opens:
        if not h.settled or h.verdict is None:
            group = "pending"
        elif h.verdict is VerdictClass.HUMAN:
            group = "person"
        elif h.verdict is VerdictClass.SELF:
            group = "own"
        elif h.verdict is VerdictClass.UNKNOWN:
            group = "undecided"
        else:
            group = "machine"
        by[group] = by.get(group, 0) + 1
    n = len(opens)
    if len(by) == 1:
        (group,) = by
        how = f"once, {_BY[group][0]}" if n == 1 else f"{times(n)}, {'both' if n == 2 else 'all'} {_BY[group][1]}"
    else:
        how = f"{times(n)}: " + join([f"{k} {_BY[group][0 if k == 1 else 1]}" for group, k in by.items()])
    status = UNKNOWN if set(by) == {"pending"} else OK
    return Line(5, "pixel.loaded", status, f"The pixel loaded {how}.", None, {"pixel_loads": by})


def own_views(facts: Facts, seen: Seen, now: datetime) -> Line:
    """6. Were all hits the sender's own? Is the sender's browser paired at all?"""
    data = {"paired_devices": [{"kind": d.kind, "name": d.name} for d in facts.devices], "own_hits": seen.self_hits}
    if not facts.devices:
        status = PROBLEM if seen.human_opens else UNKNOWN
        return Line(
            6,
            "own.unpaired",
            status,
            "Your browser is not paired, so your own views of this email may count as opens.",
            "Pair your browser: install the mailbeacon extension or sign in to the dashboard.",
            data,
        )
    if seen.self_hits and seen.self_hits == len(seen.hits):
        return Line(
            6,
            "own.only",
            PROBLEM,
            f"{_all(seen.self_hits, 'hit')} so far came from your own paired browser: its pixel loads do not count.",
            "Nothing to fix: your own views are never counted as opens.",
            data,
        )
    if seen.self_hits:
        text = f"{plural(seen.self_hits, 'hit')} came from your own paired browser and {'is' if seen.self_hits == 1 else 'are'} not counted."
        return Line(6, "own.some", OK, text, None, data)
    return Line(6, "own.none", OK, "Your browser is paired, and none of the hits were your own views.", None, data)


def machines_line(facts: Facts, seen: Seen, now: datetime) -> Line:
    """7. Were all hits machines (which ones, with reasons)?"""
    data = {"machines": [m.as_json() for m in seen.machines]}
    if not seen.machine_hits:
        return Line(7, "machines.none", OK, "No machine has touched it.", None, data)
    names = join([m.name for m in seen.machines[:3]] + (["others"] if len(seen.machines) > 3 else []))
    total = len(seen.hits)
    if seen.machine_hits == total:
        return Line(
            7,
            "machines.only",
            PROBLEM,
            f"{_all(total, 'hit')} came from machines, not people: {names}.",
            "Nothing to fix: machine hits are kept out of the counts.",
            data,
        )
    text = f"{seen.machine_hits} of {plural(total, 'hit')} came from machines and are not counted: {names}."
    return Line(7, "machines.some", OK, text, None, data)


def clicks_without_pixel(facts: Facts, seen: Seen, now: datetime) -> Line:
    """8. Clicks but no pixel load -> images blocked; open inferred from the click (R5)."""
    data = {"human_clicks": seen.human_clicks, "human_pixel_loads": seen.human_opens, "replies": seen.replies}
    if seen.human_clicks and not seen.human_opens:
        return Line(
            8,
            "inferred.click",
            PROBLEM,
            "They clicked a link, but the pixel never loaded for them: images are blocked.",
            "Nothing to fix: the open is counted, inferred from the click.",
            data,
        )
    if seen.replies and not seen.human_opens:
        return Line(
            8,
            "inferred.reply",
            PROBLEM,
            "They replied, but the pixel never loaded for them: images are blocked.",
            "Nothing to fix: the open is counted, inferred from the reply.",
            data,
        )
    if seen.human_clicks:
        return Line(8, "inferred.none", OK, "They clicked, and the pixel loaded for them too.", None, data)
    return Line(8, "inferred.no_clicks", OK, "No click came in without the pixel loading.", None, data)


def bounce(facts: Facts, seen: Seen, now: datetime) -> Line:
    """9. Did delivery fail (a bounce, or the outgoing server's refusal)?"""
    if facts.relay:
        return Line(
            9,
            "delivery.refused",
            PROBLEM,
            f"Your outgoing mail server refused this address: {facts.relay}.",
            "Check the address and send the email again.",
            {"relay": facts.relay},
        )
    if seen.bounces:
        b = seen.bounces[0]
        why = b.diagnostic or (f"status {b.status}" if b.status else "")
        text = f"A bounce came back {after(facts.sent_at, b.at)}" + (f": {why}" if why else "") + "."
        todo = "Check the address and send the email again."
        if seen.machine_hits:
            todo = "Check the address: the machine hits came from the receiving server's gateway, not a person."
        data = {"bounces": [{"at": iso(r.at), "status": r.status, "diagnostic": r.diagnostic} for r in seen.bounces]}
        return Line(9, "delivery.bounced", PROBLEM, text, todo, data)
    if seen.delay_warnings:
        w = first_at(seen.delay_warnings)
        assert w is not None
        text = f"A delivery-delay warning came back {after(facts.sent_at, w)}; the receiving server is still trying."
        return Line(9, "delivery.delayed", UNKNOWN, text, "Wait: a bounce follows if delivery finally fails.")
    if facts.unattributed_bounces:
        return Line(
            9,
            "delivery.unattributed",
            UNKNOWN,
            "A bounce came back for this email, but it does not say which recipient it was for.",
            "Look at the bounce in your mailbox to see which address failed.",
            {"unattributed_bounces": facts.unattributed_bounces},
        )
    if not facts.mailboxes and not facts.inbound_api:
        return Line(9, "delivery.unseen", UNKNOWN, "No bounce has been seen, but no mailbox is connected to see one.")
    if facts.mailboxes and not facts.inbound_api and not watched(facts, now):
        return Line(9, "delivery.unwatched", UNKNOWN, "No bounce has been seen, but your mailbox is not being checked.")

    return Line(9, "delivery.ok", OK, "No bounce came back.")


CHECKS: tuple[Check, ...] = (
    preferences,
    composer,
    injection,
    recipient_kind,
    pixel,
    own_views,
    machines_line,
    clicks_without_pixel,
    bounce,
    mailbox,
    extension,
)
