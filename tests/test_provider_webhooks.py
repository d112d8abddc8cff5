"""Provider events in, through a real `mailbeacon serve` on loopback: each provider's real bounce
payload (signed with test keys standing in for the provider's) recorded as a bounce of the right
recipient, in the stats and in the "why" answer; forged ones refused with nothing recorded; the same
notification twice recorded once; Amazon SES by email through /api/v1/inbound, and over HTTP with
Amazon's servers (the signing certificate, the subscription confirmation) faked behind HTTPS_PROXY;
the finer SNS cases in-process with a fake fetcher."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from api_world import World, start_world
from conftest import FakeClock
from fake_amazon import FakeAmazon
from mailbeacon.cli import main
from mailbeacon.errors import UpstreamTemporary
from mailbeacon.intake import Intake
from mailbeacon.model import Message, RecipientField, Relation, ReplyKind
from mailbeacon.pipeline import Pipeline
from mailbeacon.provider_events import configure
from mailbeacon.runtime import Runtime
from mailbeacon.store import NewRecipient
from mailbeacon.web.app import create_app
from mailbeacon.web.providers import https_fetch
from provider_keys import CERT_URL, MAILGUN_KEY, SendGridKey, SnsCert, corpus_path, mailgun_signed, payload
from seeding import seed_account
from serving import free_port
from test_providers import sns_mail

SES_TOPIC = "arn:aws:sns:us-east-1:1234567890:SES_Events"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from start_world(tmp_path_factory.mktemp("providers"))


def track(rt: Runtime, workspace: str, rfc: str, *recipients: str, subject: str = "Hello") -> Message:
    ws = rt.store.workspace(workspace)
    user = rt.store.users(ws.id)[0]
    msg, _ = rt.store.create_message(
        workspace_id=ws.id,
        user_id=user.id,
        rfc_message_id=rfc,
        sender=user.email,
        subject=subject,
        sent_at=rt.clock(),
        links=[],
        decoy_link=None,
        tracking={"opens": True, "clicks": True, "replies": True, "reasons": []},
        outcome={"html": True, "instrumented": True, "failure": None, "notes": []},
        source="python",
        recipients=[NewRecipient(a, RecipientField.TO, Relation.EXTERNAL) for a in recipients],
    )
    return msg


@pytest.fixture(scope="module")
def hooks(world: World) -> dict[str, Any]:
    """Every provider set for workspace A through the API; the webhook URLs it answered with."""
    sendgrid = SendGridKey()
    urls: dict[str, Any] = {"sendgrid_key": sendgrid}
    with world.client("alice") as alice:
        for body in (
            {"provider": "sendgrid", "public_key": sendgrid.public},
            {"provider": "mailgun", "signing_key": MAILGUN_KEY},
            {"provider": "postmark"},
            {"provider": "ses", "topic_arns": [SES_TOPIC]},
        ):
            r = alice.put("/api/v1/providers", json=body)
            assert r.status_code == 200, r.text
            urls[str(body["provider"])] = r.json()["webhook_url"]
    return urls


def bounces(world: World, message_id: int) -> dict[str, int]:
    with world.client("alice") as alice:
        detail = alice.get(f"/api/v1/messages/{message_id}").json()
    return {r["address"]: r["bounces"] for r in detail["recipient_numbers"]}


def why_codes(world: World, message_id: int, address: str) -> list[str]:
    with world.client("alice") as alice:
        answer = alice.get(f"/api/v1/messages/{message_id}/recipients/{address}/why").json()
    return [line["code"] for line in answer["notes"] + answer["checklist"]]


def test_provider_settings_are_an_admins_and_their_secrets_are_not_shown(world: World, hooks: dict[str, Any]) -> None:
    assert hooks["sendgrid"].startswith(f"{world.url}/api/v1/providers/sendgrid/")
    user, _, rest = hooks["postmark"].removeprefix("http://").partition("@")
    assert user.startswith("postmark:") and rest.startswith(world.url.removeprefix("http://"))
    with world.client("alice") as alice, world.client("carol") as carol:
        listed = {p["provider"]: p for p in alice.get("/api/v1/providers").json()}
        assert listed["mailgun"]["settings"] == {"signing_key": True} and listed["mailgun"]["webhook_url"] is None
        assert listed["ses"]["settings"] == {"topic_arns": [SES_TOPIC]}
        assert MAILGUN_KEY not in alice.get("/api/v1/providers").text
        r = carol.put("/api/v1/providers", json={"provider": "mailgun", "signing_key": "mine"})
        assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"
        assert carol.get("/api/v1/providers").status_code == 403
        r = alice.put("/api/v1/providers", json={"provider": "sendgrid", "public_key": "not a key"})
        assert r.status_code == 400 and "verification key" in r.json()["detail"]
        again = alice.put("/api/v1/providers", json={"provider": "mailgun"})  # nothing changed: same URL
        assert again.status_code == 200 and again.json()["webhook_url"] is None


def test_a_sendgrid_bounce_is_a_bounce_of_its_recipient_once_and_forgeries_are_refused(
    world: World, hooks: dict[str, Any]
) -> None:
    msg = track(
        world.rt, "a", "<wrfRRvF7Q0GgwUo2CvDmEA@ismtpd0006p1sjc2.sendgrid.net>", "noreply@example.com", "x@example.com"
    )
    body = corpus_path("sendgrid-bounce.json").read_bytes()
    key: SendGridKey = hooks["sendgrid_key"]
    forged = httpx.post(hooks["sendgrid"], content=body, headers=SendGridKey().headers(body))
    assert forged.status_code == 401 and forged.headers["content-type"] == "application/problem+json"
    assert "SendGrid signature" in forged.json()["detail"]
    unsigned = httpx.post(hooks["sendgrid"], content=body)
    assert unsigned.status_code == 401
    assert bounces(world, msg.id) == {"noreply@example.com": 0, "x@example.com": 0}
    first = httpx.post(hooks["sendgrid"], content=body, headers=key.headers(body))
    assert first.status_code == 200 and first.json() == {
        "provider": "sendgrid", "events": 1, "recorded": 1, "unmatched": 0, "confirmed": False
    }  # fmt: skip
    again = httpx.post(hooks["sendgrid"], content=body, headers=key.headers(body, "1700000100"))
    assert again.status_code == 200 and again.json()["recorded"] == 0
    assert bounces(world, msg.id) == {"noreply@example.com": 1, "x@example.com": 0}
    assert "delivery.bounced" in why_codes(world, msg.id, "noreply@example.com")
    assert "delivery.bounced" not in why_codes(world, msg.id, "x@example.com")
    with world.client("alice") as alice:  # the same transaction told it: one `bounce` event
        told = [e for e in alice.get("/api/v1/events", params={"limit": 200}).json()["items"] if e["type"] == "bounce"]
    mine = [e["data"] for e in told if e["data"].get("failed_recipient") == "noreply@example.com"]
    assert len(mine) == 1 and mine[0]["provider"] == "sendgrid" and mine[0]["status"] == "5.1.1", told
    # an unknown URL, or another provider's: nothing
    assert httpx.post(hooks["sendgrid"] + "x", content=body, headers=key.headers(body)).status_code == 404
    assert httpx.post(hooks["sendgrid"].replace("/sendgrid/", "/mailgun/"), content=body).status_code == 404


def test_mailbeacon_why_shows_the_providers_bounce(
    world: World, hooks: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    msg = track(world.rt, "a", "<14c5d75ce93.dfd.64b469@ismtpd-555>", "example@example.com")
    body = corpus_path("sendgrid-dropped-bounced.json").read_bytes()
    r = httpx.post(hooks["sendgrid"], content=body, headers=hooks["sendgrid_key"].headers(body))
    assert r.json()["recorded"] == 1
    monkeypatch.setenv("MAILBEACON_DATABASE_URL", str(world.rt.settings.effective_database_url))
    monkeypatch.setenv("MAILBEACON_DATA_DIR", str(world.rt.settings.effective_data_dir))
    monkeypatch.setenv("COLUMNS", "250")
    assert main(["why", str(msg.id), "example@example.com"]) == 0
    out = capsys.readouterr().out
    assert "[problem] 9. A bounce came back" in out and ": Bounced Address." in out, out


def test_mailgun_bounce_replay_age_and_complaint(world: World, hooks: dict[str, Any]) -> None:
    msg = track(world.rt, "a", "<20180812214658.1.0DF563D0B3597700@example.org>", "invalid@example.com")
    now = datetime.now(UTC)
    body = mailgun_signed(payload("mailgun-failed-permanent.json"), now, token="t" * 50)
    assert httpx.post(hooks["mailgun"], content=body).json()["recorded"] == 1
    replay = httpx.post(hooks["mailgun"], content=body)
    assert replay.status_code == 403 and "used already" in replay.json()["detail"]
    fresh = mailgun_signed(payload("mailgun-failed-permanent.json"), now, token="u" * 50)
    assert httpx.post(hooks["mailgun"], content=fresh).json()["recorded"] == 0  # the same event: once
    old = mailgun_signed(payload("mailgun-failed-permanent.json"), datetime(2018, 8, 12, tzinfo=UTC), token="v" * 50)
    assert httpx.post(hooks["mailgun"], content=old).status_code == 401
    forged = mailgun_signed(payload("mailgun-failed-permanent.json"), now, token="w" * 50, key="guess")
    assert httpx.post(hooks["mailgun"], content=forged).status_code == 401
    assert bounces(world, msg.id) == {"invalid@example.com": 1}
    # a complaint is recorded (a report), not counted as a bounce
    spam = track(world.rt, "a", "<20130718032413.263EE2E0926@example.org>", "recipient@example.com")
    body = mailgun_signed(payload("mailgun-complained.json"), now, token="c" * 50)
    assert httpx.post(hooks["mailgun"], content=body).json()["recorded"] == 1
    assert bounces(world, spam.id) == {"recipient@example.com": 0}
    (reply,) = world.rt.store.replies(message_id=spam.id)
    assert reply.kind is ReplyKind.REPORT and reply.detail["provider"] == "mailgun"


def test_postmark_bounce_by_the_credentials_in_its_url(world: World, hooks: dict[str, Any]) -> None:
    msg = track(world.rt, "a", "<pm-1@acme.test>", "bounce@example.com", subject="Postmark event test")
    body = corpus_path("postmark-bounce.json").read_bytes()
    bare = "http://" + hooks["postmark"].partition("@")[2]
    assert httpx.post(bare, content=body).status_code == 401
    assert httpx.post(bare, content=body, auth=("postmark", "wrong")).status_code == 401
    r = httpx.post(hooks["postmark"], content=body)  # httpx sends the URL's user:password as Basic
    assert r.status_code == 200 and r.json()["recorded"] == 1, r.text
    assert bounces(world, msg.id) == {"bounce@example.com": 1}
    (reply,) = world.rt.store.replies(message_id=msg.id)
    assert reply.detail["matched_by"] == "recipient-and-subject" and reply.detail["bounce_type"] == "hard"


def test_ses_by_email_through_inbound(world: World) -> None:
    msg = track(world.rt, "a", "<custom-message-ID>", "jane@example.com", "mary@example.com")
    raw = sns_mail(payload("ses-bounce.json"))
    with world.client("alice") as alice:
        r = alice.post("/api/v1/inbound", content=raw)
        assert r.status_code == 201, r.text
        assert [(x["kind"], x["new"]) for x in r.json()["replies"]] == [("bounce", True)]
        assert alice.post("/api/v1/inbound", content=raw).status_code == 200  # once
    assert bounces(world, msg.id) == {"jane@example.com": 1, "mary@example.com": 0}


def test_a_workspace_hook_reaches_only_its_own_mail(world: World, hooks: dict[str, Any]) -> None:
    msg = track(world.rt, "a", "<sg-isolation@acme.test>", "victim@example.com")
    bert_key = SendGridKey()
    with world.client("bert") as bert:
        bert_url = bert.put("/api/v1/providers", json={"provider": "sendgrid", "public_key": bert_key.public}).json()[
            "webhook_url"
        ]
    event = [
        {"event": "bounce", "email": "victim@example.com", "smtp-id": "<sg-isolation@acme.test>", "sg_event_id": "i1"}
    ]
    body = json.dumps(event).encode()
    r = httpx.post(bert_url, content=body, headers=bert_key.headers(body))
    assert r.status_code == 200 and r.json()["unmatched"] == 1 and r.json()["recorded"] == 0
    assert httpx.post(hooks["sendgrid"], content=body, headers=bert_key.headers(body)).status_code == 401
    assert bounces(world, msg.id) == {"victim@example.com": 0}


# -- Amazon SNS over HTTP: the served app fetches from Amazon's servers, a fake behind HTTPS_PROXY ----


@pytest.fixture(scope="module")
def ses_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, FakeAmazon, SnsCert]]:
    tmp = tmp_path_factory.mktemp("ses")
    cert = SnsCert()
    amazon = FakeAmazon(cert.pem, tmp / "amazon-ca.pem")
    with pytest.MonkeyPatch.context() as env:  # only the child `mailbeacon serve` sees them
        env.setenv("HTTPS_PROXY", amazon.url)
        env.setenv("SSL_CERT_FILE", str(tmp / "amazon-ca.pem"))
        worlds = start_world(tmp)
        w = next(worlds)
    yield w, amazon, cert
    next(worlds, None)
    amazon.close()


def test_ses_over_http_subscription_confirmed_bounce_recorded_forgery_refused(
    ses_world: tuple[World, FakeAmazon, SnsCert],
) -> None:
    w, amazon, cert = ses_world
    msg = track(w.rt, "a", "<custom-message-ID>", "jane@example.com", "mary@example.com")
    with w.client("alice") as alice:
        topics = [SES_TOPIC, "arn:aws:sns:us-west-2:123456789012:SES_Notifications"]
        url = alice.put("/api/v1/providers", json={"provider": "ses", "topic_arns": topics}).json()["webhook_url"]
    sns = {"content-type": "text/plain; charset=UTF-8"}  # as SNS posts it
    confirmation = payload("ses-subscription-confirmation.json")
    r = httpx.post(url, content=json.dumps(cert.sign(confirmation)), headers=sns, timeout=30)
    assert r.status_code == 200 and r.json()["confirmed"] is True, r.text
    assert amazon.requests == [CERT_URL, confirmation["SubscribeURL"]]
    bounce = json.dumps(cert.sign(payload("ses-bounce.json"), "2"))
    forged = bounce.replace("jane@example.com", "mary@example.com")
    r = httpx.post(url, content=forged, headers=sns, timeout=30)
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
    assert bounces(w, msg.id) == {"jane@example.com": 0, "mary@example.com": 0}
    for _ in range(2):
        r = httpx.post(url, content=bounce, headers=sns, timeout=30)
        assert r.status_code == 200, r.text
    assert bounces(w, msg.id) == {"jane@example.com": 1, "mary@example.com": 0}
    assert "delivery.bounced" in why_codes(w, msg.id, "jane@example.com")
    assert amazon.requests.count(CERT_URL) == 1  # fetched once, then from the cache


# -- Amazon SNS over HTTP, in-process: Amazon's servers are the fake fetcher ------------------------


class AmazonFetcher:
    def __init__(self, cert: SnsCert) -> None:
        self.cert = cert
        self.fetched: list[str] = []

    def __call__(self, url: str) -> bytes:
        self.fetched.append(url)
        return self.cert.pem if url.endswith(".pem") else b"<ConfirmSubscriptionResponse/>"


async def test_sns_notifications_signed_confirmed_and_forged(
    runtime: Runtime, tmp_path: Path, clock: FakeClock
) -> None:
    user = seed_account(runtime)
    msg = track(runtime, "acme", "<custom-message-ID>", "jane@example.com", "mary@example.com", "richard@example.com")
    url = configure(
        runtime,
        user.workspace_id,
        "ses",
        {"topic_arns": [SES_TOPIC, "arn:aws:sns:us-west-2:123456789012:SES_Notifications"]},
    ).url
    assert url is not None
    path = url.split("://", 1)[1].partition("/")[2]
    cert = SnsCert(clock())
    amazon = AmazonFetcher(cert)
    intake = Intake(runtime.store, tmp_path / "journal", interval=0.01)
    transport = httpx.ASGITransport(app=create_app(runtime, intake, Pipeline(runtime), fetcher=amazon))
    async with httpx.AsyncClient(transport=transport, base_url="http://t.example.test") as client:

        async def post(message: dict[str, Any]) -> httpx.Response:
            return await client.post(f"/{path}", content=json.dumps(message), headers={"content-type": "text/plain"})

        confirm = await post(cert.sign(payload("ses-subscription-confirmation.json")))
        assert confirm.status_code == 200 and confirm.json()["confirmed"] is True
        assert amazon.fetched == [CERT_URL, payload("ses-subscription-confirmation.json")["SubscribeURL"]]
        bounce = cert.sign(payload("ses-bounce.json"), "2")
        r = await post(bounce)
        assert r.status_code == 200 and r.json()["recorded"] == 1, r.text
        assert (await post(bounce)).json()["recorded"] == 0
        assert amazon.fetched.count(CERT_URL) == 1  # the certificate is cached
        several = cert.sign({**payload("ses-multiple-bounce.json"), "TopicArn": SES_TOPIC})
        r = await post(several)
        # no Message-ID in this one: each recipient's only tracked message to that address
        assert (r.json()["events"], r.json()["recorded"], r.json()["unmatched"]) == (2, 2, 0)
        forged = {**bounce, "Message": bounce["Message"].replace("jane@", "mary@")}
        assert (await post(forged)).status_code == 401
        elsewhere = cert.sign(payload("ses-bounce.json"), cert_url="https://evil.example/cert.pem")
        before = len(amazon.fetched)
        assert (await post(elsewhere)).status_code == 401 and len(amazon.fetched) == before
        other_topic = cert.sign({**payload("ses-bounce.json"), "TopicArn": "arn:aws:sns:us-east-1:999999999999:X"})
        assert (await post(other_topic)).status_code == 403
        assert (await client.post(f"/{path}", content=b"not json")).status_code == 400
        gone = {**payload("ses-subscription-confirmation.json"), "Type": "UnsubscribeConfirmation"}
        before = len(amazon.fetched)
        r = await post(cert.sign(gone))
        assert r.status_code == 200 and r.json()["confirmed"] is False and len(amazon.fetched) == before
        bad_subscribe = {**payload("ses-subscription-confirmation.json"), "SubscribeURL": "https://evil.example/"}
        assert (await post(cert.sign(bad_subscribe))).status_code == 401 and len(amazon.fetched) == before
    bounced = [r for r in runtime.store.replies(message_id=msg.id) if r.kind is ReplyKind.BOUNCE]
    assert sorted((r.from_address, r.detail["matched_by"]) for r in bounced) == [
        ("jane@example.com", "original-message-id"),
        ("jane@example.com", "recipient"),
        ("richard@example.com", "recipient"),
    ]


def test_settings_a_provider_needs_and_removing_one(world: World, hooks: dict[str, Any]) -> None:
    with world.client("bert") as bert:
        for body, says in (
            ({"provider": "mailgun"}, "signing key"),
            ({"provider": "postmark", "username": "a:b"}, "cannot hold"),
            ({"provider": "ses", "topic_arns": ["arn:aws:sqs:x"]}, "topic's ARN"),
        ):
            r = bert.put("/api/v1/providers", json=body)
            assert r.status_code == 400 and says in r.json()["detail"], (body, r.text)
    # runs last of the served tests: the URL stops working once the provider is removed
    with world.client("alice") as alice:
        assert alice.request("DELETE", "/api/v1/providers", json={"provider": "postmark"}).status_code == 204
        assert alice.request("DELETE", "/api/v1/providers", json={"provider": "postmark"}).status_code == 204
        assert "postmark" not in {p["provider"] for p in alice.get("/api/v1/providers").json()}
        assert alice.request("DELETE", "/api/v1/providers", json={"provider": "sendgrid"}).status_code == 204
        r = alice.put("/api/v1/providers", json={"provider": "sendgrid"})  # a new one needs its key
        assert r.status_code == 400 and "verification key" in r.json()["detail"]
    bounce = corpus_path("postmark-bounce.json").read_bytes()
    assert httpx.post(hooks["postmark"], content=bounce).status_code == 404


def test_fetching_is_https_only_and_its_failures_are_temporary(tmp_path: Path) -> None:
    with pytest.raises(UpstreamTemporary, match="only https"):
        https_fetch("http://sns.us-east-1.amazonaws.com/x.pem")
    with pytest.raises(UpstreamTemporary, match="failed"):
        https_fetch(f"https://127.0.0.1:{free_port()}/x.pem")


def test_the_provider_command(cli: Any) -> None:
    assert cli("workspace", "add", "acme")[0] == 0
    key = SendGridKey()
    code, out, err = cli("provider", "set", "sendgrid", "-w", "acme", "--public-key", key.public)
    assert code == 0 and "/api/v1/providers/sendgrid/" in out, err
    code, out, _ = cli("provider", "set", "mailgun", "-w", "acme", "--signing-key", "-", stdin="from-stdin\n")
    assert code == 0
    code, out, _ = cli("provider", "show", "-w", "acme", "--json")
    shown = {p["provider"]: p["settings"] for p in json.loads(out)}
    assert shown == {"mailgun": {"signing_key": True}, "sendgrid": {"public_key": key.public}}
    code, _, err = cli("provider", "set", "ses", "-w", "acme", "--topic-arn", "nope")
    assert code == 1 and "topic's ARN" in err and "Traceback" not in err
    code, _, err = cli("provider", "set", "nope", "-w", "acme")
    assert code == 1 and "no provider 'nope'" in err
    assert cli("provider", "remove", "mailgun", "-w", "acme")[0] == 0
    code, _, err = cli("provider", "remove", "mailgun", "-w", "acme")
    assert code == 1 and "no mailgun hook" in err
