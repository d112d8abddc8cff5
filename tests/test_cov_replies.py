"""The tolerant readers of replies/parse.py on the inputs that take their less common branches."""

from __future__ import annotations

from datetime import UTC, date, datetime
from email.message import Message

from mailbeacon.model import ReplyKind
from mailbeacon.replies import SentIndex, analyse, parse
from mailbeacon.replies.autoreply import AutoInfo, find_auto_reply, return_date


def test_parse_message_accepts_text_as_well_as_bytes() -> None:
    msg = parse.parse_message("Subject: hello\nFrom: a@example.com\n\nbody\n")
    assert parse.header(msg, "subject") == "hello"
    assert parse.part_text(msg) == "body\n"


def test_clean_replaces_lone_surrogates_it_cannot_re_encode() -> None:
    # "\ud800" is not a surrogate escape (those are \udc80-\udcff), so the first re-encoding fails
    assert parse.clean("a\ud800b\x00c\x07d\te") == "a?bcd\te"
    assert parse.clean("caf\udcc3\udca9") == "café"


def test_text_that_only_looks_like_an_encoded_word_is_kept_as_written() -> None:
    msg = parse.parse_headers("Subject: price =? unknown\n\n")
    assert parse.header(msg, "subject") == "price =? unknown"


def test_encoded_words_are_decoded() -> None:
    msg = parse.parse_headers("Subject: =?utf-8?q?Caf=C3=A9?= ok\n\n")
    assert parse.header(msg, "subject") == "Café ok"


def test_has_header() -> None:
    msg = parse.parse_headers("Auto-Submitted: auto-replied\n\n")
    assert parse.has_header(msg, "auto-submitted")
    assert not parse.has_header(msg, "precedence")


def test_a_date_that_leaves_the_representable_range_in_utc_is_none() -> None:
    assert parse.parse_date("Fri, 31 Dec 9999 23:30:00 -0100") is None
    assert parse.parse_date("not a date") is None
    ok = parse.parse_date("Mon, 1 Jan 2024 01:00:00 +0100")
    assert ok is not None and ok.hour == 0 and ok.utcoffset() is not None and not ok.utcoffset()


def test_part_text_truncates_huge_parts() -> None:
    part = Message()
    part["Content-Type"] = "text/plain; charset=us-ascii"
    part.set_payload("x" * (parse.MAX_PART_BYTES + 10))
    assert len(parse.part_text(part)) == parse.MAX_PART_BYTES


def test_part_text_of_a_multipart_is_empty() -> None:
    msg = parse.parse_message(
        b"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nhi\n--b--\n"
    )
    assert msg.is_multipart()
    assert parse.part_text(msg) == ""
    assert [text for _, text in parse.text_parts(msg)] == ["hi"]


def test_rfc2231_parameters_are_read_as_their_value() -> None:
    msg = parse.parse_message(
        b"Content-Type: text/plain; name*=utf-8''Report%20Q1.TXT\nContent-Disposition: attachment\n\nx\n"
    )
    assert parse.param(msg, "name") == "report q1.txt"
    assert parse.param(msg, "charset") == ""


def test_walk_stops_after_max_parts() -> None:
    parts = "".join(f"--b\nContent-Type: text/plain\n\npart {i}\n" for i in range(parse.MAX_PARTS + 50))
    msg = parse.parse_message(f"Content-Type: multipart/mixed; boundary=b\n\n{parts}--b--\n")
    walked = list(parse.walk(msg))
    assert len(walked) == parse.MAX_PARTS
    assert [t for _, t in parse.text_parts(msg)][-1] == f"part {parse.MAX_PARTS - 2}"


def test_addresses_are_normalised_deduplicated_and_capped() -> None:
    many = ", ".join(f"u{i}@example.com" for i in range(parse.MAX_ADDRESSES + 5))
    got = parse.addresses(["A <U0@Example.com>", "", many])
    assert len(got) == parse.MAX_ADDRESSES
    assert got[0] == "u0@example.com"
    assert got.count("u0@example.com") == 1


def test_return_dates_in_absence_notices() -> None:
    ref = date(2024, 3, 10)
    assert return_date("I am back on 3/20.", ref) == date(2024, 3, 20)  # month first: 20 is no month
    assert return_date("I am back on 20/3.", ref) == date(2024, 3, 20)  # day first
    assert return_date("I am back on 3/4.", ref) is None  # either way round: not guessed
    # a day without a year that has passed is next year's
    assert return_date("Out of office until 5 January.", date(2024, 12, 20)) == date(2025, 1, 5)
    assert return_date("Out of office until 2024-02-31.", ref) is None  # no such day


def test_a_report_of_an_unknown_type_is_a_report() -> None:
    raw = (
        b"From: reports@example.net\r\nTo: me@example.com\r\nSubject: report\r\n"
        b"Message-ID: <rep1@example.net>\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/report; report-type=x-custom; boundary=RR\r\n\r\n"
        b"--RR\r\nContent-Type: text/plain\r\n\r\nSomething about your domain.\r\n"
        b"--RR\r\nContent-Type: application/octet-stream\r\n\r\nAAAA\r\n--RR--\r\n"
    )
    analysis = analyse(raw, SentIndex([]), received_at=datetime(2024, 3, 10, tzinfo=UTC))
    assert analysis.machine_kind == ReplyKind.REPORT
    assert analysis.replies == ()
    assert any("report-type=x-custom" in r.text for r in analysis.reasons)


def test_a_delay_warning_without_a_delivery_status_part_is_a_warning() -> None:
    raw = (
        b"From: Mail Delivery System <mailer-daemon@mx.example.net>\r\nTo: me@example.com\r\n"
        b"Subject: Warning: message 1abc delayed 24 hours\r\nX-Failed-Recipients: bob@example.org\r\n"
        b"Auto-Submitted: auto-replied\r\nMessage-ID: <warn1@mx.example.net>\r\n\r\n"
        b"This message has not yet been delivered. We will keep trying.\r\n\r\n  bob@example.org\r\n"
    )
    analysis = analyse(raw, SentIndex([]), received_at=datetime(2024, 3, 10, tzinfo=UTC))
    assert analysis.machine_kind == ReplyKind.BOUNCE
    codes = {r.code for r in analysis.reasons}
    assert {"x-failed-recipients", "bounce:delayed"} <= codes


def _auto(raw: bytes, text: str) -> AutoInfo | None:
    msg = parse.parse_message(raw)
    return find_auto_reply(msg, parse.read_facts(msg, raw), text, date(2024, 3, 10))


def test_apple_end_date_wins_unless_it_is_no_day() -> None:
    head = b"From: Bob <bob@example.org>\r\nSubject: Out of office\r\nAuto-Submitted: auto-replied\r\n"
    body = "I am out of office, back on 3/20."
    good = _auto(head + b"X-Apple-Criteria: endDate=2024-03-25\r\n\r\n" + body.encode(), body)
    bad = _auto(head + b"X-Apple-Criteria: endDate=2024-02-31\r\n\r\n" + body.encode(), body)
    assert good is not None and good.return_date == date(2024, 3, 25)
    assert bad is not None and bad.return_date == date(2024, 3, 20)  # the text's date instead


def test_an_auto_reply_from_a_mailer_daemon_is_firm() -> None:
    info = _auto(b"From: MAILER-DAEMON@mx.example.net\r\nSubject: Auto: away\r\n\r\nx\r\n", "x")
    assert info is not None and info.firm
    assert "daemon-sender" in {r.code for r in info.reasons}
