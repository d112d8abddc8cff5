"""The why answer (item 10) uses what the browser extension reports about itself: which webmail
sites it may read (its heartbeat) — "your browser extension has no access to outlook.office.com"."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from mailbeacon.diagnose import MailboxFact, diagnose
from why_seeding import end_of, pure_facts, scenario

NAME = "own-address-paired-gmail-02"


def item10(sites: tuple[str, ...] | None, mailbox: str) -> tuple[str, str, str | None]:
    sc = scenario(NAME)
    facts = pure_facts(sc)
    now = end_of(sc)
    devices = tuple(dataclasses.replace(d, sites=sites) for d in facts.devices)
    mailboxes = (MailboxFact(1, mailbox, "connected", now - timedelta(minutes=5)),)
    answer = diagnose(dataclasses.replace(facts, devices=devices, mailboxes=mailboxes), now)
    (line,) = [c for c in answer.checklist if c.item == 10 and c.code.startswith("extension.")]
    return line.code, line.text, line.todo


def test_no_access_to_the_webmail_of_the_senders_mailbox() -> None:
    code, text, todo = item10(("mail.google.com",), "imaps://alice@outlook.office365.com:993")
    assert code == "extension.no_access"
    assert text.startswith("Your browser extension has no access to outlook.office.com, so your views there count")
    assert "last seen" in text
    assert todo == "Turn on outlook.office.com on the extension's options page."


def test_access_to_it_or_to_every_site_or_nothing_reported_says_nothing_about_access() -> None:
    for sites in (("mail.google.com", "outlook.office.com"), ("*",), None):
        code, _, _ = item10(sites, "imaps://alice@outlook.office365.com:993")
        assert code == "extension.ok", sites
    # a mailbox whose webmail mailbeacon does not know: nothing to say about access
    assert item10((), "imaps://alice@imap.acme.test:993")[0] == "extension.ok"
