"""Recognition rules one by one: message ids, nearest-first matching, tracking tokens in quoted
HTML, attribution (colleagues, the sender, other addresses), auto-reply markers, bounces naming
several recipients, times, and what is worth fetching. Real corpus messages are used with a
header added or a quoted pixel put into their HTML; the rest of each message stays byte-exact."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import CORPUS
from mailbeacon.model import HitKind, Relation, ReplyKind
from mailbeacon.replies import SentIndex, SentMessage, SentRecipient, analyse, needs_body, recognise
from mailbeacon.replies.autoreply import return_date, subject_phrase
from mailbeacon.replies.parse import msg_ids
from mailbeacon.tokens import Keyring

EML = CORPUS / "eml"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SENDER = "seller@acme.test"
PUBLIC = "https://t.acme.test"
KEYRING = Keyring({1: b"k" * 32})
OTHER_KEYRING = Keyring({1: b"z" * 32})


def corpus(path: str) -> bytes:
    return (EML / path).read_bytes()


def headers(raw: bytes, *lines: str) -> bytes:
    eol = b"\r\n" if b"\r\n" in raw[:4096] else b"\n"
    return b"".join(line.encode() + eol for line in lines) + raw


def without(raw: bytes, name: str) -> bytes:
    """The message with every line of header `name` (and its folded continuation) removed."""
    out: list[bytes] = []
    skipping = False
    head, sep, body = raw.partition(b"\n\n") if b"\r\n\r\n" not in raw else raw.partition(b"\r\n\r\n")
    for line in head.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t") and skipping:
            continue
        skipping = line.lower().startswith(name.lower().encode() + b":")
        if not skipping:
            out.append(line)
    return b"".join(out) + sep + body


def sent(
    msg_id: str = "<t1@acme.test>",
    *recipients: tuple[int, str, Relation],
    mid: int = 7,
    ws: int = 1,
    subject: str = "Our proposal",
) -> SentMessage:
    rcpts = recipients or ((70, "lead@client.test", Relation.EXTERNAL),)
    return SentMessage(
        id=mid,
        workspace_id=ws,
        rfc_message_id=msg_id,
        sender=SENDER,
        recipients=tuple(SentRecipient(i, a, rel) for i, a, rel in rcpts),
        sender_addresses=frozenset({SENDER, "seller.private@acme.test", "seller@home.test"}),
        workspace_domains=frozenset({"acme.test"}),
        workspace_members=frozenset({SENDER, "boss@acme-group.test"}),
        subject=subject,
    )


APPLE = "replies/talon-apple-mail-reply.eml"  # From adam@tictail.com, In-Reply-To <CABzQ...@mail.gmail.com>
APPLE_ID = "<CABzQGhkMXDxUt_tSVQcg=43aniUhtsVfCZVzu-PG0kwS_uzqMw@mail.gmail.com>"


def one(
    raw: bytes, *messages: SentMessage, keyring: Keyring | None = None
) -> tuple[ReplyKind, int | None, dict[str, Any]]:
    replies = recognise(raw, SentIndex(messages), received_at=NOW, keyring=keyring, public_url=PUBLIC)
    assert len(replies) == 1, replies
    r = replies[0]
    return r.kind, r.recipient_id, dict(r.detail) | {"other_address": r.other_address}


# -- message ids ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", []),
        ("   ", []),
        ("<a@b>", ["<a@b>"]),
        ("<a@b> <c@d>", ["<a@b>", "<c@d>"]),
        ("<a@b>,<c@d>", ["<a@b>", "<c@d>"]),
        ("<a@b> (added by mailer) <a@b>", ["<a@b>"]),
        ("<invalid. something@bar.net>", ["<invalid.something@bar.net>"]),
        ("a@b", ["<a@b>"]),  # no angle brackets
        ("Your message of Tue, 1 Jan <x@y>", ["<x@y>"]),
        ("<>", []),
        ("<<a@b>>", ["<a@b>"]),
    ],
)
def test_msg_ids_are_read_tolerantly(value: str, expected: list[str]) -> None:
    assert msg_ids(value) == expected


@given(st.text(max_size=300))
def test_msg_ids_never_raise(value: str) -> None:
    for ident in msg_ids(value):
        assert ident.startswith("<") and ident.endswith(">") and " " not in ident


# -- matching ------------------------------------------------------------------------------------


def test_in_reply_to_comes_before_references() -> None:
    raw = corpus("replies/flanker-multi-received-reply.eml")  # References: <AANLkTi=1ANR...> <AANLkTinUd...>
    older = sent(
        "<AANLkTi=1ANR2FzeeQ-vK3-_ty0gUrOsAxMRYkob6CL-c@mail.gmail.com>",
        (1, "hello@example.com", Relation.EXTERNAL),
        mid=1,
    )
    newer = sent(
        "<AANLkTinUdYK2NpEiYCKGnCEp_OXKqst_bWNdBVHsfDVh@mail.gmail.com>",
        (2, "hello@example.com", Relation.EXTERNAL),
        mid=2,
    )
    (r,) = recognise(raw, SentIndex([older, newer]), received_at=NOW)
    assert (r.message_id, r.detail["matched_by"]) == (2, "in-reply-to")
    (r,) = recognise(raw, SentIndex([older]), received_at=NOW)
    assert (r.message_id, r.detail["matched_by"]) == (1, "references")


def test_references_nearest_first() -> None:
    raw = headers(without(corpus(APPLE), "References"), "References: <old@acme.test>\n <new@acme.test> <x@elsewhere>")
    raw = without(raw, "In-Reply-To")
    old = sent("<old@acme.test>", (1, "adam@tictail.com", Relation.EXTERNAL), mid=1)
    new = sent("<new@acme.test>", (2, "adam@tictail.com", Relation.EXTERNAL), mid=2)
    (r,) = recognise(raw, SentIndex([old, new]), received_at=NOW)
    assert r.message_id == 2


def test_stored_ids_without_angle_brackets_match() -> None:
    bare = sent(APPLE_ID.strip("<>"), (70, "adam@tictail.com", Relation.EXTERNAL))
    kind, rid, _ = one(corpus(APPLE), bare)
    assert (kind, rid) == (ReplyKind.REPLY, 70)


# -- tracking tokens in quoted HTML --------------------------------------------------------------

GMAIL = "replies/talon-gmail-reply.eml"  # no In-Reply-To, HTML with a gmail_quote blockquote, From xxx@gmail.com


def quote_in_gmail_reply(snippet: str) -> bytes:
    raw = corpus(GMAIL)
    marker = b'<blockquote class="gmail_quote'
    i = raw.index(marker)
    return raw[:i] + snippet.encode() + raw[i:]


def test_quoted_pixel_behind_gmail_proxy_names_the_recipient() -> None:
    token = KEYRING.sign(HitKind.OPEN, 1, 7, 71)
    pixel = f'<img src="https://ci3.googleusercontent.com/meips/ADKq_Nb=s0-d-e1-ft#{PUBLIC}/o/{token}.gif">'
    msg = sent(
        "<t1@acme.test>", (70, "lead@client.test", Relation.EXTERNAL), (71, "cfo@client.test", Relation.EXTERNAL)
    )
    kind, rid, detail = one(quote_in_gmail_reply(pixel), msg, keyring=KEYRING)
    assert (kind, rid) == (ReplyKind.REPLY, 71)
    assert detail["matched_by"] == "token" and detail["attribution"] == "token" and detail["other_address"] is True


def test_percent_encoded_click_link_in_plain_text() -> None:
    token = KEYRING.sign(HitKind.CLICK, 1, 7, 70, link=2)
    safelink = (
        "https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2Ft.acme.test%2Fc%2F" + token + "&data=05"
    )
    raw = headers(without(without(corpus(APPLE), "In-Reply-To"), "References"))
    raw = raw.replace(b"> Hi there!", b"> Hi there! " + safelink.encode())
    kind, rid, detail = one(raw, sent(), keyring=KEYRING)
    assert (kind, rid, detail["matched_by"]) == (ReplyKind.REPLY, 70, "token")


@pytest.mark.parametrize(
    "token",
    [
        OTHER_KEYRING.sign(HitKind.OPEN, 1, 7, 70),  # signed with another key
        KEYRING.sign(HitKind.OPEN, 1, 7, 70)[:-2] + "AA",  # tampered
        KEYRING.sign(HitKind.OPEN, 2, 7, 70),  # right message id, other workspace
        KEYRING.sign(HitKind.OPEN, 1, 7, 99),  # not a recipient of that message
        KEYRING.sign(HitKind.OPEN, 1, 8, 70),  # a message this view does not hold
    ],
)
def test_tokens_that_do_not_verify_or_fit_match_nothing(token: str) -> None:
    raw = quote_in_gmail_reply(f'<img src="{PUBLIC}/o/{token}.gif">')
    assert recognise(raw, SentIndex([sent()]), received_at=NOW, keyring=KEYRING, public_url=PUBLIC) == []


def test_token_refines_attribution_when_headers_matched() -> None:
    """Matched by In-Reply-To, written from an unknown address: the quoted pixel says who it was."""
    token = KEYRING.sign(HitKind.OPEN, 1, 7, 71)
    raw = headers(quote_in_gmail_reply(f'<img src="{PUBLIC}/o/{token}">'), "In-Reply-To: <t1@acme.test>")
    msg = sent("<t1@acme.test>", (70, "a@one.test", Relation.EXTERNAL), (71, "b@two.test", Relation.EXTERNAL))
    kind, rid, detail = one(raw, msg, keyring=KEYRING)
    assert (kind, rid, detail["matched_by"], detail["attribution"]) == (ReplyKind.REPLY, 71, "in-reply-to", "token")


# -- who wrote it ----------------------------------------------------------------------------------


def apple_from(address: str) -> bytes:
    return headers(without(corpus(APPLE), "From"), f"From: Someone <{address}>")


@pytest.mark.parametrize(
    ("author", "kind", "rid", "attribution", "other"),
    [
        ("lead@client.test", ReplyKind.REPLY, 70, "from", False),
        ("LEAD@Client.TEST", ReplyKind.REPLY, 70, "from", False),
        ("assistant@client.test", ReplyKind.REPLY, 70, "domain", True),  # same company, other address
        ("someone@partner.test", ReplyKind.REPLY, None, "domain-ambiguous", True),  # two recipients there
        ("private@gmail.test", ReplyKind.REPLY, None, "none", True),  # several externals: no guess
        (SENDER, ReplyKind.SENDER, None, "none", False),  # the sender's own message in the thread
        ("seller.private@acme.test", ReplyKind.SENDER, None, "none", False),  # another address of the sender
        ("colleague@acme.test", ReplyKind.COLLEAGUE, None, "none", False),  # workspace domain (R6)
        ("boss@acme-group.test", ReplyKind.COLLEAGUE, None, "none", False),  # workspace member
        ("teammate@acme.test", ReplyKind.COLLEAGUE, 73, "from", False),  # a colleague who was a recipient
        ("seller@home.test", ReplyKind.REPLY, 74, "from", False),  # sent to own other address: counts
    ],
)
def test_attribution(author: str, kind: ReplyKind, rid: int | None, attribution: str, other: bool) -> None:
    msg = sent(
        APPLE_ID,
        (70, "lead@client.test", Relation.EXTERNAL),
        (71, "x@partner.test", Relation.EXTERNAL),
        (72, "y@partner.test", Relation.EXTERNAL),
        (73, "teammate@acme.test", Relation.COLLEAGUE),
        (74, "seller@home.test", Relation.SENDER),
    )
    got = one(apple_from(author), msg)
    assert (got[0], got[1], got[2]["attribution"], got[2]["other_address"]) == (kind, rid, attribution, other)


def test_sole_external_recipient_gets_a_reply_from_another_address() -> None:
    kind, rid, detail = one(apple_from("someone@unrelated.test"), sent(APPLE_ID))
    assert (kind, rid, detail["attribution"], detail["other_address"]) == (ReplyKind.REPLY, 70, "sole-recipient", True)


# -- machine-made mail ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "kind"),
    [
        ("X-Autoreply: yes", ReplyKind.AUTO_REPLY),
        ("X-Autorespond: Out of office", ReplyKind.AUTO_REPLY),
        ("Auto-Submitted: auto-generated", ReplyKind.AUTO_REPLY),
        ("Auto-Submitted: no", ReplyKind.REPLY),
        ("Precedence: bulk", ReplyKind.AUTO_REPLY),
        ("Precedence: auto_reply", ReplyKind.AUTO_REPLY),
        ("Precedence: first-class", ReplyKind.REPLY),
        ("X-Auto-Response-Suppress: All", ReplyKind.REPLY),  # a request to responders, not a mark
        ("X-MS-Exchange-Inbox-Rules-Loop: adam@tictail.com", ReplyKind.AUTO_REPLY),
        ("List-Id: <team.lists.client.test>", ReplyKind.REPLY),  # a person answering through a list
    ],
)
def test_auto_reply_headers(extra: str, kind: ReplyKind) -> None:
    got, _, _ = one(headers(corpus(APPLE), extra), sent(APPLE_ID, (70, "adam@tictail.com", Relation.EXTERNAL)))
    assert got is kind


def test_auto_response_suppress_with_another_hint_is_automatic() -> None:
    raw = headers(corpus(APPLE), "X-Auto-Response-Suppress: All", "Return-Path: <>")
    got, _, detail = one(raw, sent(APPLE_ID, (70, "adam@tictail.com", Relation.EXTERNAL)))
    assert got is ReplyKind.AUTO_REPLY
    assert {c for c, _ in detail["reasons"]} == {"x-auto-response-suppress", "null-return-path"}


@pytest.mark.parametrize(
    ("subject", "phrase"),
    [
        ("Automatic reply: Our proposal", "Automatic reply"),
        ("Out of Office: Re: Our proposal", "Out of Office"),
        ("Automatische Antwort: Angebot", "Automatische Antwort"),
        ("Réponse automatique : proposition", "Réponse automatique"),
        ("Respuesta automática: propuesta", "Respuesta automática"),
        ("Risposta automatica: proposta", "Risposta automatica"),
        ("Automatisch antwoord: voorstel", "Automatisch antwoord"),
        ("Autosvar: forslag", "Autosvar"),
        ("Automatyczna odpowiedź: oferta", "Automatyczna odpowiedź"),
        ("Автоответ: предложение", "Автоответ"),
        ("自動応答: ご提案", "自動応答"),
        ("Away until May 5", "Away"),
        ("Re: Out of office policy", ""),  # the phrase came with the thread
        ("Re: Our proposal", ""),
        ("Reply to your proposal", ""),
    ],
)
def test_out_of_office_subjects(subject: str, phrase: str) -> None:
    assert subject_phrase(subject) == phrase


def test_ooo_phrase_from_the_tracked_subject_proves_nothing() -> None:
    raw = headers(without(corpus(APPLE), "Subject"), "Subject: Out of office schedule for March")
    msg = sent(APPLE_ID, (70, "adam@tictail.com", Relation.EXTERNAL), subject="Out of office schedule for March")
    assert one(raw, msg)[0] is ReplyKind.REPLY
    other = sent(APPLE_ID, (70, "adam@tictail.com", Relation.EXTERNAL), subject="Our proposal")
    assert one(raw, other)[0] is ReplyKind.AUTO_REPLY


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I am away until May 5.", date(2026, 5, 5)),
        ("Back on 12 March 2026, limited access to email.", date(2026, 3, 12)),
        ("I will return on Monday.", date(2026, 3, 9)),  # NOW is Monday 2 March 2026
        ("Ich bin bis zum 13.03.2026 nicht im Büro.", date(2026, 3, 13)),
        ("Je suis absent jusqu'au 20 mars.", date(2026, 3, 20)),
        ("Estaré fuera hasta el 4 de abril.", date(2026, 4, 4)),
        ("Out of office until 2026-03-16", date(2026, 3, 16)),
        ("Back in January", None),  # no day
        ("Returning 3/4", None),  # ambiguous day and month
        ("Until 25/03", date(2026, 3, 25)),
        ("I am out of the office.", None),
    ],
)
def test_return_dates(text: str, expected: date | None) -> None:
    assert return_date(text, NOW.date()) == expected


def test_bounce_with_two_tracked_recipients_gives_two_records() -> None:
    raw = corpus("bounces/sisimai-exim-01.eml").replace(
        b"X-Failed-Recipients: kijitora@example.ed.jp",
        b"X-Failed-Recipients: kijitora@example.ed.jp, mike@example.ed.jp",
    )
    msg = sent(
        "<E1P1ce6-000Egt-GZ@e1.example.org>",
        (70, "kijitora@example.ed.jp", Relation.EXTERNAL),
        (71, "mike@example.ed.jp", Relation.EXTERNAL),
        (72, "fine@example.ed.jp", Relation.EXTERNAL),
    )
    replies = recognise(raw, SentIndex([msg]), received_at=NOW)
    assert [(r.kind, r.recipient_id) for r in replies] == [(ReplyKind.BOUNCE, 70), (ReplyKind.BOUNCE, 71)]
    assert len({r.rfc_message_id for r in replies}) == 2
    assert replies[0].rfc_message_id == "<E1P1ceB-000FL1-4q@e1.example.org>"


def test_bounce_token_in_returned_original_names_the_recipient() -> None:
    """A DSN returning our HTML: the pixel inside the returned copy says whose copy bounced."""
    token = KEYRING.sign(HitKind.OPEN, 1, 7, 71)
    raw = corpus("bounces/mailparser-delivery-status.eml").replace(
        b"<div>test email</div>", f'<div>test email</div><img src=3D"{PUBLIC}/o/{token}">'.encode()
    )
    msg = sent("<unknown@acme.test>", (70, "a@x.test", Relation.EXTERNAL), (71, "b@x.test", Relation.EXTERNAL))
    kind, rid, detail = one(raw, msg, keyring=KEYRING)
    assert (kind, rid, detail["matched_by"], detail["status"]) == (ReplyKind.BOUNCE, 71, "token", "5.1.1")


# -- times -----------------------------------------------------------------------------------------


def test_missing_or_future_date_uses_the_receive_time() -> None:
    msg = sent(APPLE_ID, (70, "adam@tictail.com", Relation.EXTERNAL))
    (r,) = recognise(without(corpus(APPLE), "Date"), SentIndex([msg]), received_at=NOW)
    assert r.at == NOW
    future = headers(without(corpus(APPLE), "Date"), "Date: Tue, 1 Jan 2030 10:00:00 +0000")
    (r,) = recognise(future, SentIndex([msg]), received_at=NOW)
    assert r.at == NOW
    (r,) = recognise(corpus(APPLE), SentIndex([msg]), received_at=NOW)
    assert r.at == datetime(2015, 8, 22, 17, 22, 20, tzinfo=UTC)


def test_message_without_message_id_gets_a_stable_one() -> None:
    raw = corpus("charsets/stalwart-thirdparty-005-utf16-eucjp.eml")
    a = analyse(raw, SentIndex(), received_at=NOW)
    b = analyse(raw, SentIndex(), received_at=NOW)
    assert a.rfc_message_id == b.rfc_message_id and a.rfc_message_id.endswith("@no-message-id.mailbeacon.invalid>")


# -- headers first ---------------------------------------------------------------------------------


def header_block(raw: bytes) -> bytes:
    sep = b"\r\n\r\n" if b"\r\n\r\n" in raw else b"\n\n"
    return raw.split(sep, 1)[0] + sep


@pytest.mark.parametrize(
    ("path", "tracked", "known", "why"),
    [
        (APPLE, APPLE_ID, (), "thread"),
        (APPLE, "<other@acme.test>", (), ""),  # a thread that is not ours
        ("bounces/sisimai-qmail-01.eml", "<other@acme.test>", (), "report"),
        ("bounces/flanker-bounce-mailbox-full.eml", "<other@acme.test>", (), "report"),
        ("replies/talon-gmail-reply.eml", "<other@acme.test>", (), "reply-like"),  # Re: without thread headers
        ("alt/anymail-sample-email.eml", "<other@acme.test>", (), ""),
        ("alt/anymail-sample-email.eml", "<other@acme.test>", ("someone@example.com",), "known-address"),
    ],
)
def test_needs_body(path: str, tracked: str, known: tuple[str, ...], why: str) -> None:
    rcpts = [(70 + i, a, Relation.EXTERNAL) for i, a in enumerate(known)] or [(70, "z@z.test", Relation.EXTERNAL)]
    assert needs_body(header_block(corpus(path)), SentIndex([sent(tracked, *rcpts)])) == why


# -- malformed mail never raises -----------------------------------------------------------------

ALL = sorted(EML.rglob("*.eml"))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(ALL), st.data())
def test_mangled_corpus_mail_never_raises(path: Path, data: st.DataObject) -> None:
    raw = bytearray(path.read_bytes())
    for _ in range(data.draw(st.integers(1, 8))):
        op = data.draw(st.sampled_from(["cut", "flip", "insert"]))
        pos = data.draw(st.integers(0, max(0, len(raw) - 1)))
        if op == "cut":
            del raw[pos : pos + data.draw(st.integers(1, 200))]
        elif op == "flip" and raw:
            raw[pos] = data.draw(st.integers(0, 255))
        else:
            raw[pos:pos] = data.draw(st.binary(max_size=40))
    msg = sent("<t1@acme.test>")
    raw = bytearray(headers(bytes(raw), "In-Reply-To: <t1@acme.test>"))
    for r in recognise(bytes(raw), SentIndex([msg]), received_at=NOW, keyring=KEYRING, public_url=PUBLIC):
        assert r.message_id == 7


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    analyse(raw, SentIndex([sent()]), received_at=NOW, keyring=KEYRING, public_url=PUBLIC)
    needs_body(raw, SentIndex([sent()]))
