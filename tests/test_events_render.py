"""What an event says (pure): the payload every consumer sends and the sentence a person reads."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailbeacon.events import About, Owner, Told, inferred_event, ordinal, payload, text, verdict_events
from mailbeacon.model import Event, EventKind, Hit, HitKind, Reason, Verdict, VerdictClass
from mailbeacon.stats import Counts

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


# -- which events decisions make (pure) --------------------------------------------------------

_KINDS = st.sampled_from([HitKind.OPEN, HitKind.OPEN, HitKind.CLICK, HitKind.DECOY])
_CLASSES = st.sampled_from(list(VerdictClass))


@settings(max_examples=200, deadline=None)
@given(
    hits=st.lists(st.tuples(_KINDS, _CLASSES, _CLASSES, st.booleans(), st.integers(1, 2)), max_size=25),
    batch=st.integers(1, 6),
)
def test_what_stands_once_every_hit_settled_is_what_counts(
    hits: list[tuple[HitKind, VerdictClass, VerdictClass, bool, int]], batch: int
) -> None:
    """Hits decided provisionally (unless first seen settled) then settled, in batches: each is told
    at most once and corrected at most once, only a told one is corrected, and in the end the
    opens and clicks that stand are exactly the people's ones; `count` numbers the standing opens."""
    owner = Owner(message_id=3, workspace_id=1, user_id=2)
    made = [
        (Hit(uid=str(i), kind=k, workspace_id=1, message_id=3, recipient_id=r, at=AT, link=0, id=i + 1), p, q, direct)
        for i, (k, p, q, direct, r) in enumerate(hits)
    ]
    outbox: dict[str, Event] = {}
    told: dict[int, Told] = {}

    def decide(decisions: list[tuple[Hit, Verdict, bool]]) -> None:
        nonlocal told
        events, after = verdict_events(decisions, {3: owner}, told, {(3, 0): "https://example.com/a"}, AT)
        for e in events:
            assert e.key not in outbox  # never told twice
            outbox[e.key] = replace(e, id=len(outbox) + 1)
        told = {
            rid: replace(t, hits={h: outbox[f"hit:{h}"].id if i is None else i for h, i in t.hits.items()})
            for rid, t in after.items()
        }

    def verdict(cls: VerdictClass) -> Verdict:
        return Verdict(cls, (Reason("r", "because"),))

    first = [(h, verdict(q if direct else p), direct) for h, p, q, direct in made]
    later = [(h, verdict(q), True) for h, _, q, direct in made if not direct]
    for decisions in (first, later):
        for i in range(0, len(decisions), batch):
            decide(decisions[i : i + batch])
    people = {h.id for h, _, q, _ in made if q is VerdictClass.HUMAN and h.kind in (HitKind.OPEN, HitKind.CLICK)}
    corrected = {e.data["hit_id"] for e in outbox.values() if e.kind is EventKind.CORRECTION}
    told_hits = {e.data["hit_id"] for e in outbox.values() if e.kind in (EventKind.OPEN, EventKind.CLICK)}
    assert corrected <= told_hits and told_hits - corrected == people
    for rid in (1, 2):
        standing = [h.id for h, _, q, _ in made if h.id in people and h.kind is HitKind.OPEN and h.recipient_id == rid]
        assert told.get(rid, Told()).opens == len(standing)
    for e in outbox.values():
        if e.kind is EventKind.OPEN:
            assert isinstance(e.data["count"], int) and e.data["count"] >= 1
        if e.kind is EventKind.CLICK:
            assert e.data["url"] == "https://example.com/a"


def test_an_inferred_open_needs_the_counters_to_infer_it_and_no_open_standing() -> None:
    owner = Owner(message_id=3, workspace_id=1, user_id=2)
    clicked = Counts(clicks_human=1, first_click_at=AT)
    e = inferred_event(4, owner, clicked, Told())
    assert e is not None and (e.kind, e.key, e.at, e.data) == (
        EventKind.OPEN_INFERRED,
        "inferred:4",
        AT,
        {"from": "click"},
    )
    assert inferred_event(4, owner, clicked, Told(opens=1)) is None  # an open is told (provisional, say)
    assert inferred_event(4, owner, clicked, Told(inferred=True)) is None  # told once
    assert inferred_event(4, owner, Counts(opens_human=1, clicks_human=1), Told()) is None
    replied = inferred_event(4, owner, Counts(replies=1, first_reply_at=AT), Told())
    assert replied is not None and replied.data == {"from": "reply"}
