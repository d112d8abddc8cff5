"""Every corpus .eml through recognition: what it is, which tracked email it answers, whose it is.

Each row names the tracked email the message refers to. Where the file itself carries the id
(In-Reply-To, References, the original inside a bounce, Original-Message-ID of a read receipt)
the file is used byte for byte; otherwise a `References:` header naming the tracked email is put
in front of the unchanged bytes (`inject`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from conftest import CORPUS
from mailbeacon.model import Relation, ReplyKind
from mailbeacon.replies import SentIndex, SentMessage, SentRecipient, analyse, recognise

EML = CORPUS / "eml"
RECEIVED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SENDER = "seller@mb-sender.test"
INJECTED = "<tracked-1@mb-sender.test>"

R, A, B, P = ReplyKind.REPLY, ReplyKind.AUTO_REPLY, ReplyKind.BOUNCE, ReplyKind.REPORT


@dataclass(frozen=True)
class Case:
    path: str
    #: what the message is by itself (None = written by a person)
    machine: ReplyKind | None
    #: the kind recorded against the tracked email
    kind: ReplyKind
    #: the tracked email's id as the file names it; None = inject a References header
    tracked: str | None
    #: the recipient it must be attributed to (None = to no recipient)
    recipient: str | None
    matched_by: str
    attribution: str
    #: further detail fields that must have exactly these values
    detail: dict[str, Any] = field(default_factory=dict)
    #: more recipients of the tracked email
    others: tuple[str, ...] = ("someone-else@other-company.test",)


def bounce(status: str, **more: Any) -> dict[str, Any]:
    return {"status": status, "action": "failed", "warning": False, **more}


CASES = [
    # -- replies ---------------------------------------------------------------------------------
    Case(
        "replies/flanker-multi-received-reply.eml",
        None,
        R,
        "<AANLkTinUdYK2NpEiYCKGnCEp_OXKqst_bWNdBVHsfDVh@mail.gmail.com>",
        "hello@example.com",
        "in-reply-to",
        "from",
        {"forward": True},
    ),
    Case("replies/rubymail-empty-in-reply-to.eml", None, R, None, "ak@g.com", "references", "from"),
    Case(
        "replies/rubymail-html-reply-two-from.eml",
        None,
        R,
        "<8fc5086d0912020131y377ba0ccpf8f14783cfc3014a@test.com>",
        "tester1@test.com",
        "in-reply-to",
        "from",
    ),
    Case(
        "replies/rubymail-raw-email-reply.eml",
        None,
        R,
        "<348F04F142D69C21-291E56D292BC@xxxx.net>",
        "xxxxxxxx@xxx.org",
        "in-reply-to",
        "from",
    ),
    # two References headers, the second ends in a broken id: the valid ones still count
    Case(
        "replies/rubymail-references-one-invalid.eml",
        None,
        R,
        "<foo@bar.net>",
        "redacted@flashmail.net",
        "references",
        "from",
    ),
    Case(
        "replies/rubymail-rfc2822-example06-reply.eml",
        None,
        R,
        "<1234@local.machine.example>",
        "smith@home.example",
        "in-reply-to",
        "reply-to",
    ),
    Case("replies/talon-android-reply.eml", None, R, None, "bob@example.com", "references", "from"),
    Case(
        "replies/talon-apple-mail-reply.eml",
        None,
        R,
        "<CABzQGhkMXDxUt_tSVQcg=43aniUhtsVfCZVzu-PG0kwS_uzqMw@mail.gmail.com>",
        "adam@tictail.com",
        "in-reply-to",
        "from",
    ),
    Case("replies/talon-gmail-reply.eml", None, R, None, "xxx@gmail.com", "references", "from"),
    Case("replies/talon-hotmail-reply.eml", None, R, None, "xxx@hotmail.com", "references", "from"),
    # -- forwards --------------------------------------------------------------------------------
    Case("forwards/rubymail-forward-as-rfc822.eml", None, R, None, "foo@example.com", "references", "from"),
    Case(
        "forwards/stalwart-rfc-007-forward.eml",
        None,
        R,
        None,
        "only-one@example.org",
        "references",
        "sole-recipient",
        others=(),
    ),
    Case("forwards/talon-aol-inline-forward.eml", None, R, None, "xxx@aol.com", "references", "from"),
    # -- auto-replies ----------------------------------------------------------------------------
    Case(
        "auto-replies/sisimai-not-bounce-auto-replied-notification.eml",
        A,
        A,
        None,
        "xxxx@yyyyyy.net",
        "references",
        "sole-recipient",
        others=(),
    ),
    Case(
        "auto-replies/sisimai-rfc3834-01-away.eml",
        A,
        A,
        None,
        "kijitora@example.net",
        "references",
        "from",
        {"ooo": True, "return_date": "2005-05-05"},
    ),
    Case(
        "auto-replies/sisimai-rfc3834-02-exchange-automatic-reply.eml",
        A,
        A,
        None,
        "nekonyaan@example.org",
        "references",
        "from",
        {"ooo": True},
    ),
    Case(
        "auto-replies/sisimai-rfc3834-03-icloud-vacation.eml",
        A,
        A,
        "<25203A4E-F90F-4A14-BF51-3E7B9D39BE8E@libsisimai.org>",
        "kijitora@apple.example.com",
        "in-reply-to",
        "from",
        {"ooo": True, "return_date": "2020-01-10"},
    ),
    # -- bounces ---------------------------------------------------------------------------------
    Case(
        "bounces/cpython-msg_16-dsn-uppercase-types.eml",
        B,
        B,
        "<002001c144a6$8752e060$56104586@oxy.edu>",
        "jangel1@cougar.noc.ucla.edu",
        "original-message-id",
        "failed-recipient",
        bounce("5.0.0", format="dsn"),
    ),
    Case(
        "bounces/flanker-bounce-delayed.eml",
        B,
        B,
        None,
        "foo@example.com",
        "references",
        "failed-recipient",
        bounce("4.0.0", diagnostic="smtp; 426 connection timed out"),
    ),
    Case(
        "bounces/flanker-bounce-mailbox-full.eml",
        B,
        B,
        "<4E326A95.3010907@example.com>",
        "user@aol.com",
        "original-message-id",
        "failed-recipient",
        bounce("5.2.2"),
    ),
    Case(
        "bounces/flanker-bounce-office365.eml",
        B,
        B,
        "<20171013111011.20866.254C2F3A4D7AA526@ninomail.com>",
        "noname@example.com",
        "original-message-id",
        "failed-recipient",
        bounce("5.1.10"),
    ),
    Case(
        "bounces/mailparser-delivery-status.eml",
        B,
        B,
        "<xxxxx@email.amazonses.com>",
        "xxxx@xxxx.com",
        "original-message-id",
        "failed-recipient",
        bounce("5.1.1"),
    ),
    Case(
        "bounces/postal-postfix-bounce.eml",
        B,
        B,
        None,
        "bob@nutty.tk",
        "references",
        "failed-recipient",
        bounce("5.1.1", format="postfix"),
    ),
    Case(
        "bounces/rubymail-report-422-warning.eml",
        B,
        B,
        "<15655788.13.1200472642578.JavaMail.Administrator@mail.ttttt.com.au>",
        "fraser@oooooooo.com.au",
        "original-message-id",
        "failed-recipient",
        {"status": "4.2.2", "action": "delayed", "warning": True},
    ),
    Case(
        "bounces/sisimai-exchange2007-03.eml",
        B,
        B,
        "<20100429233445.FF00FFEE0000@r2.example.org>",
        "kijitora@neko.example.com",
        "original-message-id",
        "failed-recipient",
        bounce("5.2.3"),
    ),
    Case(
        "bounces/sisimai-exim-01.eml",
        B,
        B,
        "<E1P1ce6-000Egt-GZ@e1.example.org>",
        "kijitora@example.ed.jp",
        "original-message-id",
        "failed-recipient",
        bounce("5.7.0", format="x-failed-recipients"),
    ),
    Case(
        "bounces/sisimai-office365-01.eml",
        B,
        B,
        "<FFFFFFFF.EEEEEEEE@example.ed.jp>",
        "kijitora@example.com",
        "original-message-id",
        "failed-recipient",
        bounce("5.1.10", format="office365"),
    ),
    Case(
        "bounces/sisimai-postfix-01.eml",
        B,
        B,
        None,
        "kijitora@example.org",
        "references",
        "failed-recipient",
        bounce("5.1.1", failed_recipient="r@p351355.pool.example.ne.jp"),
    ),
    Case(
        "bounces/sisimai-qmail-01.eml",
        B,
        B,
        "<000000000.9999999999999.JavaMail.postmaster@mailhub>",
        "kijitora@example.ne.jp",
        "original-message-id",
        "failed-recipient",
        bounce("5.5.0", format="qmail"),
    ),
    Case(
        "bounces/sisimai-rfc3464-51.eml",
        B,
        B,
        "<00222222-2222-2222-2222-FF00FFFF0000@example.jp>",
        "kijitora@example.de",
        "original-message-id",
        "failed-recipient",
        bounce("5.0.0"),
    ),
    Case(
        "bounces/sisimai-sendmail-01.eml",
        B,
        B,
        "<E1C50F1B-1C83-4820-BC36-AC6FBFBE8568@example.org>",
        "userunknown@bouncehammer.jp",
        "original-message-id",
        "failed-recipient",
        bounce("5.1.1"),
    ),
    # -- reports ---------------------------------------------------------------------------------
    Case(
        "reports/flanker-arf-yahoo.eml",
        P,
        P,
        "<20120711015015.4A8BE2E088E@www.example.com>",
        "user@yahoo.com",
        "original-message-id",
        "report-recipient",
        {"report": "arf", "feedback_type": "abuse"},
    ),
    Case(
        "reports/flanker-mdn.eml",
        P,
        P,
        "<199509192301.23456@example.org>",
        "joe_recipient@example.com",
        "original-message-id",
        "report-recipient",
        {"report": "mdn"},
    ),
    Case(
        "reports/sisimai-arf-01.eml",
        P,
        P,
        None,
        "redacted@example.net",
        "references",
        "report-recipient",
        {"report": "arf"},
    ),
    # -- ordinary mail of every shape, answering a tracked email ----------------------------------
    *(
        Case(f"charsets/letters-{name}.eml", None, R, "<Message-Id-0@example.com>", author, "in-reply-to", "from")
        for name, author in (
            ("chinese-related-gb18030-qp", "alice.fajianren@example.com"),
            ("english-related-ascii-7bit", "alice.sender@example.com"),
            ("finnish-signed-iso885915-qp", "alice.lahettaja@example.com"),
            ("japanese-related-iso2022jp-b64", "alice.yuubin@example.com"),
            ("korean-related-euckr-qp", "alice.bonaeneunsalam@example.com"),
            ("polish-related-iso88592-b64", "alicja.nadajaca@example.com"),
        )
    ),
    *(
        Case(path, None, R, None, author, "references", "from")
        for path, author in (
            ("charsets/rubymail-big5-html-empty-cte.eml", "3712f2@msa.hinet.net"),
            ("charsets/rubymail-japanese-shift-jis.eml", "xxxxxxx@docomo.ne.jp"),
            ("alt/anymail-sample-email.eml", "someone@example.com"),
            ("alt/flanker-8bitmime.eml", "bob@example.com"),
            ("alt/flanker-quoted-printable.eml", "bob@example.com"),
            ("encoding/flanker-enclosed.eml", "bob@example.net"),
            ("encoding/flanker-long-links.eml", "postmaster@example.com"),  # a person writing as postmaster
            ("encoding/mailparser-base64-root.eml", "test@example.com"),
            ("encoding/rubymail-cte-qp-with-space.eml", "fyouizjnp@swissonline.ch"),
            ("encoding/talon-reply-quotations-share-block.eml", "xxx@example.com"),
            ("malformed/flanker-dashed-boundaries.eml", "me@example.com"),
            ("malformed/flanker-missing-final-boundary.eml", "me@example.com"),
            ("malformed/flanker-signed.eml", "sender@example.dom"),
            ("malformed/rubymail-illegal-boundary.eml", "email_test@me.nowhere"),
            ("malformed/rubymail-rfc6532-utf8-headers.eml", "jdöe@mächine.example"),
            ("related/flanker-multipart.eml", "administrator@example.com"),
            ("related/mailparser-nested.eml", "u@example.com"),
            ("related/mailparser-nodemailer.eml", "andris@kreata.ee"),
            ("related/mailpit-inline-attachment.eml", "sender@example.com"),
            ("related/stalwart-thirdparty-011.eml", "dummy@xyz-webserver.abcd-gestion.local"),
            ("related/stalwart-thirdparty-017.eml", "test@example.com"),
        )
    ),
    Case(
        "charsets/stalwart-thirdparty-005-utf16-eucjp.eml",
        None,
        R,
        None,
        "only-one@example.org",
        "references",
        "sole-recipient",
        others=(),
    ),
]


def inject(raw: bytes, msgid: str) -> bytes:
    """`References: <id>` in front of the unchanged message (same line ending as the file)."""
    eol = b"\r\n" if b"\r\n" in raw[:4096] else b"\n"
    return b"References: " + msgid.encode() + eol + raw


def tracked_email(case: Case) -> SentMessage:
    rcpts = [case.recipient or "nobody@nowhere.test", *case.others]
    return SentMessage(
        id=7,
        workspace_id=1,
        rfc_message_id=case.tracked or INJECTED,
        sender=SENDER,
        recipients=tuple(SentRecipient(100 + i, a, Relation.EXTERNAL) for i, a in enumerate(rcpts)),
        sender_addresses=frozenset({SENDER}),
        workspace_domains=frozenset({"mb-sender.test"}),
        subject="Our proposal",
    )


def test_every_corpus_eml_is_in_the_table() -> None:
    listed = {c.path for c in CASES}
    on_disk = {str(p.relative_to(EML)) for p in EML.rglob("*.eml")}
    assert on_disk == listed


@pytest.mark.parametrize("case", CASES, ids=[c.path for c in CASES])
def test_corpus_message(case: Case) -> None:
    raw = (EML / case.path).read_bytes()
    if case.tracked is None:
        raw = inject(raw, INJECTED)
    sent = tracked_email(case)
    analysis = analyse(raw, SentIndex([sent]), received_at=RECEIVED)

    assert analysis.machine_kind is case.machine
    assert len(analysis.replies) == 1
    reply = analysis.replies[0]
    assert reply.kind is case.kind
    assert reply.message_id == sent.id
    expected_rcpt = next((r.id for r in sent.recipients if r.address == case.recipient), None)
    assert reply.recipient_id == expected_rcpt
    assert reply.detail["matched_by"] == case.matched_by
    assert reply.detail["attribution"] == case.attribution
    for key, value in case.detail.items():
        assert reply.detail[key] == value, key
    assert reply.rfc_message_id == analysis.rfc_message_id
    assert reply.at.tzinfo is not None
    # machine-made mail always says why
    if case.machine is not None:
        assert reply.detail["reasons"], "a machine kind carries its reasons"
    else:
        assert reply.detail["reasons"] == []


@pytest.mark.parametrize("case", CASES, ids=[c.path for c in CASES])
def test_corpus_message_without_a_tracked_email(case: Case) -> None:
    """Nothing tracked is referred to: no reply, but the message is still classified."""
    raw = (EML / case.path).read_bytes()
    unrelated = SentMessage(
        1, 1, "<unrelated@mb-sender.test>", SENDER, (SentRecipient(1, case.recipient or "x@y.test"),)
    )
    analysis = analyse(raw, SentIndex([unrelated]), received_at=RECEIVED)
    assert analysis.replies == ()
    assert analysis.machine_kind is case.machine
    assert recognise(raw, SentIndex([unrelated]), received_at=RECEIVED) == []


def test_date_header_is_the_reply_time() -> None:
    raw = (EML / "replies/rubymail-raw-email-reply.eml").read_bytes()
    case = next(c for c in CASES if c.path.endswith("rubymail-raw-email-reply.eml"))
    (reply,) = recognise(raw, SentIndex([tracked_email(case)]), received_at=RECEIVED)
    assert reply.at == datetime(2007, 11, 18, 8, 56, 7, tzinfo=UTC)  # Sun, 18 Nov 2007 19:56:07 +1100


def test_paths_exist() -> None:
    for c in CASES:
        assert Path(EML / c.path).is_file(), c.path
