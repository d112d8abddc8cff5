"""What an event says (pure): the payload every consumer sends and the sentence a person reads."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mailbeacon.events import About, ordinal, payload, text
from mailbeacon.model import Event, EventKind

AT = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)
ABOUT = About(
    subject="Proposal", sender="alice@acme.test", rfc_message_id="<p1@acme.test>", recipient="bob@client.example"
)


def _e(kind: EventKind, **data: object) -> Event:
    return Event(
        kind=kind, workspace_id=1, user_id=2, message_id=3, recipient_id=4, at=AT, key="hit:9", data=data, id=17
    )


@pytest.mark.parametrize(
    ("n", "word"),
    [
        (1, "1st"),
        (2, "2nd"),
        (3, "3rd"),
        (4, "4th"),
        (11, "11th"),
        (12, "12th"),
        (13, "13th"),
        (21, "21st"),
        (102, "102nd"),
        (111, "111th"),
    ],
)
def test_ordinals(n: int, word: str) -> None:
    assert ordinal(n) == word


@pytest.mark.parametrize(
    ("event", "sentence"),
    [
        (_e(EventKind.OPEN, count=1), "bob@client.example opened “Proposal”"),
        (_e(EventKind.OPEN, count=2), "bob@client.example opened “Proposal” (2nd time)"),
        (
            _e(EventKind.CLICK, link=0, url="https://example.com/pricing/?utm=x"),
            "bob@client.example clicked example.com/pricing in “Proposal”",
        ),
        (_e(EventKind.REPLY), "bob@client.example replied to “Proposal”"),
        (_e(EventKind.AUTO_REPLY), "bob@client.example answered “Proposal” automatically (out of office or similar)"),
        (
            _e(EventKind.BOUNCE, provider="Amazon SES"),
            "“Proposal” to bob@client.example could not be delivered (reported by Amazon SES)",
        ),
        (_e(EventKind.BOUNCE), "“Proposal” to bob@client.example could not be delivered"),
        (
            _e(EventKind.OPEN_INFERRED, **{"from": "reply"}),
            "bob@client.example opened “Proposal” (known from a reply: images are blocked)",
        ),
        (
            _e(EventKind.CORRECTION, corrected_kind="click", reason="Security scanner: 3 links clicked within 0.8 s"),
            "Correction: the click of “Proposal” by bob@client.example was not a person "
            "(Security scanner: 3 links clicked within 0.8 s)",
        ),
        (
            _e(EventKind.CORRECTION, corrected_kind="open"),
            "Correction: the open of “Proposal” by bob@client.example was not a person",
        ),
    ],
)
def test_each_kind_reads_as_one_sentence(event: Event, sentence: str) -> None:
    assert text(event, ABOUT) == sentence


def test_long_subjects_and_links_are_shortened_and_missing_facts_named() -> None:
    about = About(subject="  A " + "very " * 30 + "long\n subject", sender="a@x", rfc_message_id="<x>", recipient=None)
    said = text(_e(EventKind.CLICK, url="https://example.com/" + "p" * 100), about)
    assert said.startswith("Someone clicked example.com/ppp") and "…" in said and "\n" not in said
    assert text(_e(EventKind.CLICK), about).startswith("Someone clicked a link in “A very")
    assert text(_e(EventKind.OPEN), About("", "a@x", "<x>", None)) == "Someone opened “(no subject)”"


def test_payload_is_standard_webhooks_shaped_and_carries_the_sentence() -> None:
    body = payload(_e(EventKind.OPEN, count=2, provisional=True), ABOUT)
    assert body["type"] == "open" and body["timestamp"] == "2026-12-03T09:30:00Z"
    assert body["data"] == {
        "event_id": "evt_17",
        "message_id": 3,
        "rfc_message_id": "<p1@acme.test>",
        "subject": "Proposal",
        "sender": "alice@acme.test",
        "recipient_id": 4,
        "recipient": "bob@client.example",
        "provisional": True,
        "count": 2,
        "text": "bob@client.example opened “Proposal” (2nd time)",
    }
    with pytest.raises(ValueError, match="stored"):
        payload(
            Event(kind=EventKind.OPEN, workspace_id=1, user_id=2, message_id=3, recipient_id=4, at=AT, key="k"), ABOUT
        )
