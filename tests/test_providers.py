"""Provider notifications, pure: each provider's real payloads (django-anymail's tests, see
tests/corpus/MANIFEST.md) read into bounces and complaints, tied to tracked mail; the signature checks
with test keys standing in for the providers'; Amazon SES notifications by email."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import given
from hypothesis import strategies as st

from mailbeacon.errors import AuthError, InvalidInput
from mailbeacon.model import ReplyKind
from mailbeacon.provider_auth import (
    sendgrid_public_key,
    sns_string_to_sign,
    sns_url_ok,
    verify_basic,
    verify_mailgun,
    verify_sendgrid,
    verify_sns,
)
from mailbeacon.replies import SentIndex, SentMessage, SentRecipient, analyse, needs_body
from mailbeacon.replies.providers import (
    PARSERS,
    ProviderEvent,
    parse_mailgun,
    parse_postmark,
    parse_sendgrid,
    parse_ses,
    sns_document,
    to_replies,
)
from provider_keys import MAILGUN_KEY, SendGridKey, SnsCert, mailgun_signed, payload

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
B, P = ReplyKind.BOUNCE, ReplyKind.REPORT


def events_of(name: str) -> list[ProviderEvent]:
    data = payload(name)
    provider = name.split("-")[0]
    return parse_ses(data) if provider == "ses" else PARSERS[provider](data)


# (file, [(kind, recipient, bounce_type)], the original's Message-ID, the event id, status)
CASES: list[tuple[str, list[tuple[ReplyKind, str, str]], tuple[str, ...], str, str]] = [
    (
        "ses-bounce.json",
        [(B, "jane@example.com", "hard")],
        ("<custom-message-ID>",),
        "00000138111222aa-44455566-cccc-cccc-cccc-ddddaaaa068a-000000",
        "5.1.1",
    ),
    (
        "ses-multiple-bounce.json",
        [(B, "jane@example.com", "hard"), (B, "richard@example.com", "hard")],
        (),
        "19ba9823-d7f2-53c1-860e-cb10e0d13dfc",
        "",
    ),
    ("ses-complaint.json", [(P, "richard@example.com", "complaint")], (), "19ba9823-d7f2-53c1-860e-cb10e0d13dfc", ""),
    ("ses-subscription-confirmation.json", [], (), "", ""),
    (
        "sendgrid-bounce.json",
        [(B, "noreply@example.com", "hard")],
        ("<wrfRRvF7Q0GgwUo2CvDmEA@ismtpd0006p1sjc2.sendgrid.net>",),
        "lC0Rc-FuQmKbnxCWxX1jRQ",
        "5.1.1",
    ),
    (
        "sendgrid-dropped-bounced.json",
        [(B, "example@example.com", "hard")],
        ("<14c5d75ce93.dfd.64b469@ismtpd-555>",),
        "zmzJhfJgAfUSOW80yEbPyw==",
        "5.0.0",
    ),
    (
        "sendgrid-deferred.json",
        [(B, "recipient@example.com", "delayed")],
        ("<wrfRRvF7Q0GgwUo2CvDmEA@ismtpd0006p1sjc2.sendgrid.net>",),
        "b_syL5UiTvWC_Ky5L6Bs5Q",
        "",
    ),
    ("sendgrid-delivered.json", [], (), "", ""),
    (
        "mailgun-failed-permanent.json",
        [(B, "invalid@example.com", "hard")],
        ("<20180812214658.1.0DF563D0B3597700@example.org>",),
        "",  # no id in the payload: the hash of the event
        "550",
    ),
    (
        "mailgun-failed-temporary.json",
        [(B, "undeliverable@nomx.example.com", "delayed")],
        ("<20180812214638.1.4A7D468E9BC18C5D@example.org>",),
        "",
        "498",
    ),
    (
        "mailgun-complained.json",
        [(P, "recipient@example.com", "complaint")],
        ("<20130718032413.263EE2E0926@example.org>",),
        "ncV2XwymRUKbPek_MIM-Gw",
        "",
    ),
    ("postmark-bounce.json", [(B, "bounce@example.com", "hard")], (), "Bounce:901542550", ""),
    ("postmark-spam-complaint.json", [(P, "spam@example.com", "complaint")], (), "SpamComplaint:901542550", ""),
]


@pytest.mark.parametrize(("name", "expected", "ids", "event_id", "status"), CASES, ids=[c[0] for c in CASES])
def test_each_real_payload_reads_as_its_bounces_and_complaints(
    name: str, expected: list[tuple[ReplyKind, str, str]], ids: tuple[str, ...], event_id: str, status: str
) -> None:
    events = events_of(name)
    assert [(e.kind, e.recipient, e.bounce_type) for e in events] == expected
    for e in events:
        assert e.original_ids == ids
        assert e.status == status
        assert e.event_id == event_id if event_id else len(e.event_id) == 32
    assert events_of(name) == events  # the same notification reads the same (its id included)


def test_the_details_a_person_reads_are_kept() -> None:
    (ses,) = events_of("ses-bounce.json")
    assert ses.diagnostic == "smtp; 550 5.1.1 <jane@example.com>... User unknown"
    assert ses.description == "Permanent: General" and ses.subject == "Hello"
    assert ses.at == datetime(2016, 1, 27, 14, 59, 44, 101000, tzinfo=UTC)
    assert ses.provider_message_id == "00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000"
    (pm,) = events_of("postmark-bounce.json")
    assert pm.at == datetime(2016, 4, 27, 20, 28, 50, 396393, tzinfo=UTC)  # seven digits, -04:00
    assert pm.diagnostic.startswith("smtp;550 5.1.1") and pm.subject == "Postmark event test"
    (mg,) = events_of("mailgun-failed-permanent.json")
    assert mg.diagnostic.startswith("550 5.1.1 The email account") and mg.at is not None
    (sg,) = events_of("sendgrid-bounce.json")
    assert sg.diagnostic.startswith("550 5.1.1") and sg.at == datetime.fromtimestamp(1461095250, UTC)


def test_other_event_kinds_and_shapes() -> None:
    sg = parse_sendgrid(
        [
            {"event": "spamreport", "email": "Bob <BOB@Client.Example>", "sg_event_id": "s1", "timestamp": 1},
            {"event": "bounce", "type": "blocked", "email": "carol@client.example"},
            {"event": "open", "email": "dan@client.example"},
            {"event": "bounce", "email": "not an address"},
        ]
    )
    assert [(e.kind, e.recipient, e.bounce_type) for e in sg] == [
        (P, "bob@client.example", "complaint"),
        (B, "carol@client.example", "soft"),
    ]
    assert parse_postmark({"RecordType": "Bounce", "Type": "AutoResponder", "Email": "a@b.example"}) == []
    assert parse_postmark({"RecordType": "Bounce", "Type": "Transient", "Email": "a@b.example"})[0].bounce_type == (
        "delayed"
    )
    assert parse_postmark({"RecordType": "Bounce", "Type": "HardBounce", "Email": ""}) == []
    assert parse_mailgun({"event-data": {"event": "delivered", "recipient": "a@b.example"}}) == []
    rejected = parse_mailgun({"event-data": {"event": "rejected", "message": {"headers": {"to": "R <r@x.example>"}}}})
    assert [(e.recipient, e.bounce_type) for e in rejected] == [("r@x.example", "hard")]
    ses = {"Type": "Notification", "MessageId": "m", "Message": json.dumps({"eventType": "Delivery"})}
    assert parse_ses(ses) == [] and parse_ses({"Message": "not json {"}) == []
    for bad in ([], [1], "text", 3):
        with pytest.raises(InvalidInput):
            parse_sendgrid(bad)
    assert sns_document(b"[1]") is None and sns_document(b"\xff") is None and sns_document('{"Type": 1}') is None


_json = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=5)),
    max_leaves=25,
)
_keys = st.sampled_from(
    ["event", "email", "event-data", "recipient", "RecordType", "Type", "Email", "Message", "notificationType",
     "bounce", "bouncedRecipients", "emailAddress", "mail", "headers", "timestamp", "BouncedAt", "smtp-id"]
)  # fmt: skip
_shaped = st.recursive(
    st.one_of(_json, st.sampled_from(["bounce", "failed", "Bounce", "HardBounce", "a@b.example", "Complaint"])),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_keys, inner, max_size=6)),
    max_leaves=30,
)


@given(data=st.one_of(_json, _shaped))
def test_no_payload_makes_a_parser_fail_other_than_by_saying_what_is_wrong(data: Any) -> None:
    for parse in (*PARSERS.values(), lambda d: parse_ses({"Message": json.dumps(d)}), parse_ses):
        try:
            events = parse(data)
        except InvalidInput:
            continue
        except AttributeError:
            assert parse is parse_ses and not isinstance(data, dict)  # parse_ses takes the SNS dict it is given
            continue
        assert all(e.recipient and e.event_id for e in events)


# -- tied to tracked mail -----------------------------------------------------------------------


def sent(mid: int, rfc: str, *addresses: str, subject: str = "Hello") -> SentMessage:
    rcpts = tuple(SentRecipient(mid * 10 + n, a) for n, a in enumerate(addresses))
    return SentMessage(mid, 1, rfc, "john@example.com", rcpts, subject=subject)


def test_a_bounce_is_tied_by_the_original_message_id_and_the_failed_recipient() -> None:
    view = SentIndex([sent(1, "<custom-message-ID>", "jane@example.com", "mary@example.com")])
    replies, unmatched = to_replies(events_of("ses-bounce.json"), view, received_at=NOW)
    assert unmatched == []
    (r,) = replies
    assert (r.message_id, r.recipient_id, r.kind, r.at) == (1, 10, B, NOW)  # 2016 is older than retries last
    assert r.rfc_message_id == "ses:00000138111222aa-44455566-cccc-cccc-cccc-ddddaaaa068a-000000#jane@example.com"
    assert r.detail["provider"] == "ses" and r.detail["status"] == "5.1.1" and r.detail["warning"] is False
    assert r.detail["matched_by"] == "original-message-id" and r.detail["bounce_type"] == "hard"
    # the same notification twice is the same reply (the store keeps one per message + id)
    assert to_replies(events_of("ses-bounce.json"), view, received_at=NOW)[0] == replies


def test_a_recent_provider_time_is_kept_a_delay_is_a_warning_a_complaint_a_report() -> None:
    view = SentIndex([sent(2, "<wrfRRvF7Q0GgwUo2CvDmEA@ismtpd0006p1sjc2.sendgrid.net>", "recipient@example.com")])
    later = datetime.fromtimestamp(1461200990, UTC) + timedelta(hours=1)
    (r,), _ = to_replies(events_of("sendgrid-deferred.json"), view, received_at=later)
    assert r.at == datetime.fromtimestamp(1461200990, UTC)
    assert r.detail["warning"] is True and r.detail["action"] == "delayed"
    view = SentIndex([sent(3, "<20130718032413.263EE2E0926@example.org>", "recipient@example.com")])
    (c,), _ = to_replies(events_of("mailgun-complained.json"), view, received_at=NOW)
    assert c.kind is P and c.detail["report"] == "complaint" and c.from_address == "recipient@example.com"


def test_a_message_id_that_is_not_tracked_is_never_tied_to_other_mail() -> None:
    other = sent(4, "<else@example.com>", "noreply@example.com")
    replies, unmatched = to_replies(
        events_of("sendgrid-bounce.json"), SentIndex([other]), received_at=NOW, candidates=lambda a: [other]
    )
    assert replies == [] and len(unmatched) == 1
    # a tracked id whose recipients do not include the address: not tied either
    wrong = sent(5, "<wrfRRvF7Q0GgwUo2CvDmEA@ismtpd0006p1sjc2.sendgrid.net>", "someone@example.com")
    assert to_replies(events_of("sendgrid-bounce.json"), SentIndex([wrong]), received_at=NOW)[0] == []


def test_without_a_message_id_the_recipient_and_subject_decide() -> None:
    newer = sent(6, "<n@x>", "bounce@example.com", subject="Other")
    older = sent(7, "<o@x>", "bounce@example.com", subject="Postmark event test")
    events = events_of("postmark-bounce.json")
    (r,), _ = to_replies(events, SentIndex(), received_at=NOW, candidates=lambda a: [newer, older])
    assert (r.message_id, r.detail["matched_by"]) == (7, "recipient-and-subject")
    (r,), _ = to_replies(events, SentIndex(), received_at=NOW, candidates=lambda a: [newer])
    assert (r.message_id, r.detail["matched_by"]) == (6, "recipient")
    two = [newer, sent(8, "<t@x>", "bounce@example.com", subject="Third")]
    assert to_replies(events, SentIndex(), received_at=NOW, candidates=lambda a: two)[0] == []
    assert to_replies(events, SentIndex(), received_at=NOW)[0] == []  # no candidates given


# -- Amazon SES by email (an SNS email-json subscription) -----------------------------------------


def sns_mail(notification: dict[str, Any], sender: str = "no-reply@sns.amazonaws.com") -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"] = f"AWS Notifications <{sender}>", "bounces@acme.test"
    msg["Subject"], msg["Message-ID"] = "AWS Notification Message", "<sns-mail-1@email.amazonses.com>"
    msg.set_content(json.dumps(notification))
    return msg.as_bytes()


def test_an_ses_notification_by_email_is_recognised_in_the_replies_path() -> None:
    view = SentIndex([sent(9, "<custom-message-ID>", "jane@example.com", "mary@example.com")])
    raw = sns_mail(payload("ses-bounce.json"))
    assert needs_body(raw.split(b"\n\n")[0], view) == "provider"
    a = analyse(raw, view, received_at=NOW, source="api")
    assert a.machine_kind is B and a.reasons[0].code == "ses_notification"
    (r,) = a.replies
    assert (r.message_id, r.recipient_id, r.source) == (9, 90, "api")
    # the same rfc id as by webhook: one notification by both ways is recorded once
    assert r.rfc_message_id == to_replies(events_of("ses-bounce.json"), view, received_at=NOW)[0][0].rfc_message_id
    # a subscription confirmation by email concerns no tracked email
    confirm = analyse(sns_mail(payload("ses-subscription-confirmation.json")), view, received_at=NOW)
    assert confirm.replies == ()
    # SNS JSON from anyone else is an ordinary message
    assert analyse(sns_mail(payload("ses-bounce.json"), "joe@else.example"), view, received_at=NOW).machine_kind is None


# -- the signature checks ---------------------------------------------------------------------------


def test_sendgrid_signature() -> None:
    key = SendGridKey()
    body = (b"[" + json.dumps(payload("sendgrid-bounce.json")[0]).encode()) + b"]"
    h = key.headers(body)
    sig, ts = h["X-Twilio-Email-Event-Webhook-Signature"], h["X-Twilio-Email-Event-Webhook-Timestamp"]
    verify_sendgrid(key.public, sig, ts, body)
    for args in ((sig, ts, body + b" "), (sig, "1700000001", body), ("", ts, body), (sig, "", body), ("%%%", ts, body)):
        with pytest.raises(AuthError):
            verify_sendgrid(key.public, *args)
    with pytest.raises(AuthError):
        verify_sendgrid(SendGridKey().public, sig, ts, body)  # another account's key
    pem = key.private.public_key().public_bytes(
        serialization.Encoding.PEM,
        serialization.PublicFormat.SubjectPublicKeyInfo,
    )
    assert sendgrid_public_key(pem.decode()).curve.name == "secp256r1"
    rsa_der = base64.b64encode(
        SnsCert()
        .key.public_key()
        .public_bytes(
            serialization.Encoding.DER,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
    ).decode()
    for bad in ("not base64!", base64.b64encode(b"junk").decode(), rsa_der):
        with pytest.raises(InvalidInput):
            sendgrid_public_key(bad)


def test_mailgun_signature_its_age_and_key() -> None:
    data = payload("mailgun-complained.json")
    signed = json.loads(mailgun_signed(data, NOW))
    assert verify_mailgun(MAILGUN_KEY, signed["signature"], NOW + timedelta(minutes=5)) == "a" * 50
    with pytest.raises(AuthError, match="too old"):
        verify_mailgun(MAILGUN_KEY, signed["signature"], NOW + timedelta(minutes=16))
    with pytest.raises(AuthError, match="does not check out"):
        verify_mailgun("another key", signed["signature"], NOW)
    with pytest.raises(AuthError, match="needs its signature"):
        verify_mailgun(MAILGUN_KEY, {"token": "t"}, NOW)
    sig = hmac.new(MAILGUN_KEY.encode(), ("soon" + "a" * 50).encode(), hashlib.sha256).hexdigest()
    with pytest.raises(AuthError, match="not a Unix time"):  # signed, but no time
        verify_mailgun(MAILGUN_KEY, {"token": "a" * 50, "timestamp": "soon", "signature": sig}, NOW)


def test_postmark_basic_credentials() -> None:
    good = "Basic " + base64.b64encode(b"postmark:s3cret").decode()
    verify_basic(good, "postmark", "s3cret")
    for header in ("", "Bearer x", "Basic ***", "Basic " + base64.b64encode(b"postmark:other").decode()):
        with pytest.raises(AuthError):
            verify_basic(header, "postmark", "s3cret")


@pytest.mark.parametrize("version", ["1", "2"])
def test_sns_signature_with_the_certificate(version: str) -> None:
    cert = SnsCert(NOW)
    for name in ("ses-bounce.json", "ses-subscription-confirmation.json", "ses-multiple-bounce.json"):
        message = payload(name)
        message.setdefault("TopicArn", "arn:aws:sns:us-east-1:123456789012:SES_Events")
        signed = cert.sign(message, version)
        verify_sns(signed, cert.pem, NOW)
        with pytest.raises(AuthError, match="does not check out"):
            verify_sns({**signed, "Message": signed["Message"] + " "}, cert.pem, NOW)
        with pytest.raises(AuthError, match="does not check out"):
            verify_sns(signed, SnsCert(NOW).pem, NOW)  # another key
    with pytest.raises(AuthError, match="not valid now"):
        verify_sns(signed, cert.pem, NOW + timedelta(days=2))
    with pytest.raises(AuthError, match="SignatureVersion"):
        verify_sns({**signed, "SignatureVersion": "3"}, cert.pem, NOW)
    with pytest.raises(AuthError, match="cannot be read"):
        verify_sns(signed, b"-----BEGIN CERTIFICATE-----\nxx\n", NOW)
    with pytest.raises(InvalidInput, match="lacks Timestamp"):
        sns_string_to_sign({k: v for k, v in signed.items() if k != "Timestamp"})
    with pytest.raises(InvalidInput):
        sns_string_to_sign({"Type": "Other"})


def test_only_https_urls_on_sns_hosts_are_fetched() -> None:
    assert sns_url_ok("https://sns.us-east-1.amazonaws.com/SimpleNotificationService-1.pem")
    assert sns_url_ok("https://sns.ap-southeast-2.amazonaws.com:443/?Action=ConfirmSubscription&Token=x")
    for url in (
        "http://sns.us-east-1.amazonaws.com/x.pem",
        "https://sns.us-east-1.amazonaws.com.evil.example/x.pem",
        "https://evil.example/sns.us-east-1.amazonaws.com/x.pem",
        "https://user@sns.us-east-1.amazonaws.com/x.pem",
        "https://sns.us-east-1.amazonaws.com:8443/x.pem",
        "https://s3.amazonaws.com/x.pem",
        "https://sns.us-east-1.amazonaws.com:bad/x.pem",
        "",
    ):
        assert not sns_url_ok(url), url
