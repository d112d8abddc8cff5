"""Checklist item 10: the sender's setup - the mailbox replies come from, and the extension that
recognises the sender's own views. Pure."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlsplit

from .answer import Line, Status
from .facts import DeviceFact, Facts
from .seen import Seen
from .wording import ago

OK, PROBLEM, UNKNOWN = Status.OK, Status.PROBLEM, Status.UNKNOWN
#: a mailbox not checked successfully for this long is stale
MAILBOX_STALE = timedelta(hours=1)
#: an extension that has not reported a view for this long may have lost access to the webmail
EXTENSION_QUIET = timedelta(days=14)
#: the webmail site where the mail of a mailbox host is read (the sender's watched mailbox tells
#: which webmail the extension needs access to)
WEBMAIL_OF_MAILBOX = {
    "imap.gmail.com": "mail.google.com",
    "imap.googlemail.com": "mail.google.com",
    "outlook.office365.com": "outlook.office.com",
    "imap-mail.outlook.com": "outlook.live.com",
    "imap.mail.yahoo.com": "mail.yahoo.com",
}


def _webmail_without_access(facts: Facts, exts: list[DeviceFact]) -> list[str]:
    """The webmail sites of the sender's mailboxes that no reporting extension may read."""
    reported = [d.sites for d in exts if d.sites is not None]
    if not reported or any("*" in s for s in reported):
        return []
    allowed = {site for s in reported for site in s}
    needed = []
    for mb in facts.mailboxes:
        site = WEBMAIL_OF_MAILBOX.get((urlsplit(mb.url).hostname or "").lower())
        if site and site not in allowed and site not in needed:
            needed.append(site)
    return needed


def watched(facts: Facts, now: datetime) -> bool:
    """Is a mailbox of the sender being checked successfully (so replies and bounces can be seen)?"""
    return any(
        m.state == "connected" and m.last_ok_at is not None and now - m.last_ok_at <= MAILBOX_STALE
        for m in facts.mailboxes
    )


def mailbox_name(url: str) -> str:
    """'alice@imap.acme.test' for imaps://alice@imap.acme.test:993 (the URL itself if it has no user)."""
    parts = urlsplit(url)
    return f"{parts.username}@{parts.hostname}" if parts.username and parts.hostname else url


def iso(dt: datetime | None) -> str | None:
    return dt.isoformat().replace("+00:00", "Z") if dt else None


def mailbox(facts: Facts, seen: Seen, now: datetime) -> Line:
    """10. For replies: is a mailbox connected for the sender, and is it healthy?"""
    if facts.switches is not None and not facts.switches.replies:
        return Line(10, "mailbox.replies_off", UNKNOWN, "Replies were not tracked for this email (see above).")
    if not facts.mailboxes:
        if facts.inbound_api:
            return Line(10, "mailbox.inbound_api", OK, "Replies reach mailbeacon through the inbound API.")
        return Line(
            10,
            "mailbox.none",
            PROBLEM,
            "No mailbox is connected for you, so replies and bounces cannot be seen.",
            "Connect your mailbox (IMAP) to mailbeacon.",
        )
    rows = [
        {"mailbox": m.url, "state": m.state, "last_ok_at": iso(m.last_ok_at), "last_error": m.last_error}
        for m in facts.mailboxes
    ]
    for m in facts.mailboxes:
        if m.state == "error":
            return Line(
                10,
                "mailbox.error",
                PROBLEM,
                f"Your mailbox {mailbox_name(m.url)} is failing: {m.last_error or 'no detail'}.",
                "Fix its password or server settings; replies are picked up once it connects again.",
                {"mailboxes": rows},
            )
        if m.state == "stopped" or m.last_ok_at is None or now - m.last_ok_at > MAILBOX_STALE:
            since = "has never been checked" if m.last_ok_at is None else f"was last checked {ago(now, m.last_ok_at)}"
            return Line(
                10,
                "mailbox.stale",
                PROBLEM,
                f"Your mailbox {mailbox_name(m.url)} {since}.",
                "Check that mailbeacon is running and can reach the mail server.",
                {"mailboxes": rows},
            )
    m = max(facts.mailboxes, key=lambda b: b.last_ok_at or now)
    assert m.last_ok_at is not None
    text = f"Your mailbox {mailbox_name(m.url)} is connected; it was last checked {ago(now, m.last_ok_at)}."
    return Line(10, "mailbox.ok", OK, text, None, {"mailboxes": rows})


def extension(facts: Facts, seen: Seen, now: datetime) -> Line:
    """10. For self-open suppression: is the extension paired, and does it reach the webmail site?"""
    exts = [d for d in facts.devices if d.kind == "extension"]
    data = {
        "extensions": [
            {
                "name": d.name,
                "last_report_at": iso(d.last_seen_at),
                "sites": list(d.sites) if d.sites is not None else None,
            }
            for d in exts
        ]
    }
    if not exts:
        return Line(
            10,
            "extension.none",
            UNKNOWN,
            "No browser extension is paired, so your views in webmail cannot be recognised as yours.",
            "Install the mailbeacon extension in the browser you read mail in.",
            data,
        )
    ids = {d.public_id for d in exts}
    seen_in_hits = [h.at for h in seen.hits if h.device_id in ids]
    last = max([d.last_seen_at for d in exts if d.last_seen_at] + seen_in_hits, default=None)
    if last is None:
        return Line(
            10,
            "extension.silent",
            PROBLEM,
            "Your extension is paired but has never reported a view of your mail.",
            "Allow the extension on your webmail site in the browser's extension settings.",
            data,
        )
    missing = _webmail_without_access(facts, exts)
    if missing:
        return Line(
            10,
            "extension.no_access",
            PROBLEM,
            f"Your browser extension has no access to {', '.join(missing)}, so your views there count as opens; "
            f"it was last seen {ago(now, last)}.",
            f"Turn on {', '.join(missing)} on the extension's options page.",
            data,
        )
    if now - last > EXTENSION_QUIET:
        return Line(
            10,
            "extension.quiet",
            UNKNOWN,
            f"Your extension was last seen {ago(now, last)}.",
            "Check that it is still installed and allowed on your webmail site.",
            data,
        )
    return Line(10, "extension.ok", OK, f"Your extension is paired; it was last seen {ago(now, last)}.", None, data)
