"""Reply recognition stays linear on hostile input (issue 9): huge References fields, bounces
quoting a hundred thousand Message-IDs, junk headers of every kind.

No test here measures time: the sizes are chosen so that the quadratic code this replaced needs
minutes (13 s for 30,000 References ids, over 2 minutes for 100,000) while linear code needs well
under a second, and pytest-timeout is the bound. What is counted instead is the work handed to the
database: the ids asked for never exceed the cap, however many the message names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailbeacon.model import Relation
from mailbeacon.replies import SentIndex, SentMessage, SentRecipient, analyse
from mailbeacon.replies.parse import MAX_THREAD_IDS

RECEIVED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TRACKED = "<tracked-1@mb-sender.test>"
SENT = SentMessage(
    id=7,
    workspace_id=1,
    rfc_message_id=TRACKED,
    sender="ann@mb-sender.test",
    recipients=(SentRecipient(100, "bob@example.test", Relation.EXTERNAL),),
    sender_addresses=frozenset({"ann@mb-sender.test"}),
    workspace_domains=frozenset({"mb-sender.test"}),
    subject="Our proposal",
)


class CountingView(SentIndex):
    """The in-memory view, counting the ids it is asked to look up."""

    def __init__(self) -> None:
        super().__init__([SENT])
        self.asked: list[int] = []

    def by_rfc_ids(self, rfc_ids: Sequence[str]) -> Mapping[str, SentMessage]:
        self.asked.append(len(rfc_ids))
        return super().by_rfc_ids(rfc_ids)


def reply_with_references(ids: list[str]) -> bytes:
    return (
        b"From: Bob <bob@example.test>\r\nTo: ann@mb-sender.test\r\nSubject: Re: Our proposal\r\n"
        b"Message-ID: <reply-1@example.test>\r\nReferences: " + "\r\n ".join(ids).encode() + b"\r\n\r\nThanks!\r\n"
    )


@pytest.mark.timeout(60)
def test_a_reference_list_of_100k_ids_is_recognised_in_linear_time() -> None:
    ids = [f"<junk-{i}@attacker.test>" for i in range(100_000)] + [TRACKED]
    view = CountingView()
    analysis = analyse(reply_with_references(ids), view, received_at=RECEIVED)
    assert [r.message_id for r in analysis.replies] == [7]  # the nearest id is the tracked one
    assert max(view.asked) <= MAX_THREAD_IDS


@pytest.mark.timeout(60)
def test_a_reference_far_beyond_the_cap_is_not_considered() -> None:
    """Nearest first: the tracked id at the far start of 100k junk ids is past the cap."""
    ids = [TRACKED] + [f"<junk-{i}@attacker.test>" for i in range(100_000)]
    analysis = analyse(reply_with_references(ids), CountingView(), received_at=RECEIVED)
    assert analysis.replies == ()


@pytest.mark.timeout(60)
def test_a_bounce_quoting_100k_message_ids_is_read_in_linear_time() -> None:
    quoted = "".join(f"Message-ID: <junk-{i}@attacker.test>\r\n" for i in range(100_000))
    raw = (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.test>\r\nTo: ann@mb-sender.test\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <bounce-1@mx.example.test>\r\n"
        "Content-Type: multipart/report; report-type=delivery-status; boundary=B\r\n\r\n"
        "--B\r\nContent-Type: text/plain\r\n\r\n" + quoted + "--B\r\n"
        "Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.test\r\n\r\n"
        "Final-Recipient: rfc822; bob@example.test\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n--B--\r\n"
    ).encode()
    view = CountingView()
    analyse(raw, view, received_at=RECEIVED)
    assert max(view.asked, default=0) <= 2 * MAX_THREAD_IDS


REPLY_HEAD = b"From: Bob <bob@example.test>\r\nSubject: Re: Our proposal\r\nIn-Reply-To: " + TRACKED.encode() + b"\r\n"
BOUNCE_HEAD = (
    b"From: MAILER-DAEMON@mx.example.test\r\nSubject: Undelivered Mail Returned to Sender\r\n\r\n"
    b"The following addresses had permanent fatal errors\r\n"
)
#: shapes that were quadratic too (found by scanning repeated units over each kind of message):
#: a tag-stripping regex, a line-start regex whose \s* spanned lines, nested dash runs in the
#: "original message follows" marker (20,000 dashes: 22 s), a bare-id regex rescanning one long
#: word from every position (an MDN's Original-Message-ID), and list-based de-duplication
HOSTILE = {
    "html of '<' without '>'": REPLY_HEAD + b"Content-Type: text/html\r\n\r\n" + b"<" * 400_000,
    "html of '<!--'": REPLY_HEAD + b"Content-Type: text/html\r\n\r\n" + b"<!--" * 100_000,
    "bounce of blank lines": BOUNCE_HEAD + b"\n" * 400_000,
    "bounce with a line of dashes": BOUNCE_HEAD + b"-" * 400_000,
    "bounce listing 100k addresses": BOUNCE_HEAD
    + b"".join(b"<u%d@example.test>: unknown\n" % i for i in range(100_000)),
    "To of 100k addresses": REPLY_HEAD
    + b"To: "
    + b", ".join(b"u%d@x.test" % i for i in range(100_000))
    + b"\r\n\r\nhi",
    "DSN recipient of 20k ':' (the stdlib address parser recurses)": (
        b"From: MAILER-DAEMON@mx.test\r\nSubject: Undelivered\r\nContent-Type: multipart/report; "
        b"report-type=delivery-status; boundary=B\r\n\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        b"Reporting-MTA: dns; mx\r\n\r\nFinal-Recipient: rfc822; x"
        + b":" * 20_000
        + b"\r\nAction: failed\r\n\r\n--B--\r\n"
    ),
    "MDN Original-Message-ID of one 400k-character word": (
        b"From: Bob <bob@example.test>\r\nSubject: Read: x\r\nContent-Type: multipart/report; "
        b"report-type=disposition-notification; boundary=B\r\n\r\n--B\r\n"
        b"Content-Type: message/disposition-notification\r\n\r\nOriginal-Message-ID: "
        + b"[" * 400_000
        + b"\r\n--B--\r\n"
    ),
    "From of 100k addresses": b"From: " + b", ".join(b"u%d@x.test" % i for i in range(100_000)) + b"\r\n\r\nhi",
}


@pytest.mark.timeout(30)
@pytest.mark.parametrize("case", list(HOSTILE), ids=list(HOSTILE))
def test_hostile_bodies_and_address_lists_are_read_in_linear_time(case: str) -> None:
    view = CountingView()
    analyse(HOSTILE[case], view, received_at=RECEIVED)
    assert max(view.asked, default=0) <= 2 * MAX_THREAD_IDS


_id = st.one_of(
    st.builds(lambda n: f"<junk-{n}@attacker.test>", st.integers(0, 50_000)),
    st.just(TRACKED),
    st.text(st.characters(codec="utf-8", exclude_characters="\r\n\x00"), max_size=30),
)
_FIELDS = ["References", "In-Reply-To", "Message-ID", "From", "Subject", "Auto-Submitted", "Content-Type"]


@pytest.mark.timeout(240)
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    fields=st.lists(st.tuples(st.sampled_from(_FIELDS), st.lists(_id, max_size=20)), max_size=8),
    repeat=st.integers(1, 1500),
    body=st.binary(max_size=2000),
)
def test_recognition_of_junk_headers_stays_bounded(
    fields: list[tuple[str, list[str]]], repeat: int, body: bytes
) -> None:
    """Any mix of fields, each value repeated up to 1500 times (up to 30,000 ids per field),
    is recognised well inside the timeout, never raises and never asks for more than the cap."""
    head = b"".join(
        name.encode() + b": " + " ".join(values * repeat).encode("utf-8", "surrogateescape") + b"\r\n"
        for name, values in fields
    )
    view = CountingView()
    analyse(head + b"\r\n" + body, view, received_at=RECEIVED)
    assert max(view.asked, default=0) <= 2 * MAX_THREAD_IDS
