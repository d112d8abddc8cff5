"""The "why" answer end to end: labelled hits stored through the real store and pipeline (SQLite and
PostgreSQL), real messages through `instrument()`, then `Store.why_facts` -> `diagnose`; and the
two surfaces, `mailbeacon why` (its real entry point) and `GET /api/v1/.../why`."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from rich.console import Console

from conftest import CORPUS, FakeClock, Run, make_settings
from mailbeacon.diagnose import Answer, diagnose
from mailbeacon.instrumentation import instrument
from mailbeacon.intake import Intake
from mailbeacon.model import Message, Recipient, Reply, ReplyKind
from mailbeacon.passwords import hash_password
from mailbeacon.pipeline import Pipeline
from mailbeacon.runtime import Runtime
from mailbeacon.smtp import SmtpProxy
from mailbeacon.web.app import create_app
from seeding import seed_message
from test_diagnose import GOLDEN_PROBLEMS, GOLDEN_SCENARIO, GOLDEN_SILENCE
from test_smtp_proxy import Sink, proxy, sink, swaks, write_message  # noqa: F401  (proxy, sink: fixtures)
from why_cases import PROBLEMS, SCENARIO_ROWS, SILENCE, Case, render
from why_seeding import end_of, replay

#: the cases whose facts the store can hold as they are (no overrides of the facts record)
REPLAYABLE = {
    **{("row", k): (v, GOLDEN_SCENARIO[k]) for k, v in SCENARIO_ROWS.items()},
    **{("problem", k): (v, GOLDEN_PROBLEMS[k]) for k, v in PROBLEMS.items() if not v.facts},
    **{("silence", k): (v, GOLDEN_SILENCE[k]) for k, v in SILENCE.items() if not v.facts and not v.pending},
}


@pytest.fixture
def rt_at(tmp_path: Path, database_url: str) -> Iterator[tuple[Runtime, FakeClock]]:
    clock = FakeClock()
    rt = Runtime.open(make_settings(tmp_path, database_url, public_url="https://t.acme.com"), clock=clock)
    yield rt, clock
    rt.close()


def _why(rt: Runtime, message: Message, recipient: Recipient) -> Answer:
    facts = rt.store.why_facts(message, recipient, public_url=rt.public_url, settle_window=rt.settings.settle_window)
    return diagnose(facts, rt.clock())


@pytest.mark.parametrize("key", list(REPLAYABLE), ids=[f"{g}: {n}" for g, n in REPLAYABLE])
def test_the_store_gives_the_same_whole_answer(rt_at: tuple[Runtime, FakeClock], key: tuple[str, str]) -> None:
    rt, clock = rt_at
    case, golden = REPLAYABLE[key]
    sc = case.sc
    clock.set(sc.message.sent_at)
    message, recipient = replay(rt, clock, sc, healthy=case.healthy, replies=case.replies)
    assert clock.now == end_of(sc)
    assert render(_why(rt, message, recipient)) == golden.rstrip("\n")


# -- real messages through instrument() -------------------------------------------------------------


def _account(rt: Runtime, **settings: object) -> None:
    ws = rt.store.create_workspace("acme", ["acme.test"], rt.clock())
    user = rt.store.create_user(ws.id, "alice@acme.test", hash_password("pw"), rt.clock())
    if settings:
        rt.store.update_user(user.id, settings=settings)


def _send(rt: Runtime, raw: bytes) -> Answer:
    result = instrument(rt, raw, sender="alice@acme.test", recipients=["bob@client.example"])
    message = rt.store.message(result.message_id)
    return _why(rt, message, rt.store.recipient_of(message.id, "bob@client.example"))


def _lines(answer: Answer) -> dict[str, tuple[str, str]]:
    return {line.code: (line.status.value, line.text) for line in answer.lines}


def _html_message(html: str, subject: str = "Our offer") -> bytes:
    return (
        "From: Alice <alice@acme.test>\r\nTo: bob@client.example\r\nSubject: " + subject + "\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html
    ).encode()


def test_switched_off_in_preferences_through_instrument(rt_at: tuple[Runtime, FakeClock]) -> None:
    rt, _ = rt_at
    _account(rt, track_opens=False)
    answer = _send(rt, _html_message((CORPUS / "html/leemunroe-email.html").read_text()))
    lines = _lines(answer)
    assert lines["preferences.off"] == (
        "problem",
        "Open tracking was off in your preferences when this email was sent.",
    )
    assert lines["pixel.absent"][0] == "unknown"
    assert lines["injection.done"][1].startswith("The email carries ") and "pixel" not in lines["injection.done"][1]


def test_a_text_only_email_through_instrument(rt_at: tuple[Runtime, FakeClock]) -> None:
    rt, _ = rt_at
    _account(rt)
    answer = _send(rt, (CORPUS / "eml/alt/flanker-quoted-printable.eml").read_bytes())
    assert _lines(answer)["injection.no_html"] == (
        "problem",
        "The email has no HTML part, so it could not carry the tracking pixel.",
    )


@pytest.mark.parametrize(
    ("raw", "code", "reason"),
    [
        (b"\x00\x01binary\xff\xfe junk from a broken program\r\n", "binary", "it holds binary data"),
        (b"<p>Hello, no header lines at all</p>\r\n", "no-headers", "it has no header lines"),
    ],
)
def test_a_message_that_cannot_be_instrumented_is_recorded_with_the_reason(
    rt_at: tuple[Runtime, FakeClock], raw: bytes, code: str, reason: str
) -> None:
    rt, _ = rt_at
    _account(rt)
    result = instrument(rt, raw, sender="alice@acme.test", recipients=["bob@client.example"])
    assert result.copies[0].data.endswith(raw)  # relayed as it came (with the Message-ID every copy gets)
    stored = rt.store.message(result.message_id)
    assert stored.outcome["instrumented"] is False and str(stored.outcome["failure"]).startswith(code + ":")
    status, text = _lines(_send(rt, raw))[f"injection.failed.{code}"]
    assert status == "problem" and reason in text


def test_no_from_line_through_instrument(rt_at: tuple[Runtime, FakeClock]) -> None:
    rt, _ = rt_at
    _account(rt)
    raw = b"To: bob@client.example\r\nSubject: x\r\nContent-Type: text/html\r\n\r\n<p><a href='https://x.test/'>x</a></p>\r\n"
    assert _lines(_send(rt, raw))["headers.no_from"][0] == "problem"


def test_over_gmails_clipping_size_through_instrument(rt_at: tuple[Runtime, FakeClock]) -> None:
    rt, _ = rt_at
    _account(rt)
    one = (CORPUS / "html/leemunroe-email.html").read_text()
    assert "size.gmail_clipped" not in _lines(_send(rt, _html_message(one)))  # 13 KB: far under the limit
    two = (CORPUS / "html/colorlib-01-mjml.html").read_text() + (
        CORPUS / "html/mailchimp-modular-template-patterns.html"
    ).read_text()
    status, text = _lines(_send(rt, _html_message(two + one)))["size.gmail_clipped"]
    assert status == "problem" and re.match(r"The email is \d{3} KB of HTML, over Gmail's 102 KB limit", text)


def test_a_loopback_tracking_address_through_instrument(tmp_path: Path, sqlite_url: str) -> None:
    rt = Runtime.open(make_settings(tmp_path, sqlite_url, public_url="http://127.0.0.1:8025"), clock=FakeClock())
    try:
        _account(rt)
        answer = _send(rt, _html_message("<p>Hi <a href='https://shop.test/'>shop</a></p>"))
        assert _lines(answer)["address.loopback"] == (
            "problem",
            "The tracking address http://127.0.0.1:8025 points at this machine, "
            "so no recipient can load the pixel or open tracked links.",
        )
    finally:
        rt.close()


def test_mailbox_health_and_an_outgoing_refusal_from_the_store(rt_at: tuple[Runtime, FakeClock]) -> None:
    rt, clock = rt_at
    _account(rt)
    result = instrument(rt, _html_message("<p>x</p>"), sender="alice@acme.test", recipients=["bob@client.example"])
    user = rt.store.user("alice@acme.test")
    box = rt.store.add_mailbox(user.id, "imaps://alice@imap.acme.test:993", "sealed", ["INBOX"], clock.now)
    rt.store.set_mailbox_state(box.id, "error", error="LOGIN failed: authentication failed")
    outcome = dict(rt.store.message(result.message_id).outcome)
    outcome["relay"] = {"delivered": [], "failed": {"bob@client.example": "550 5.1.1 no such user"}}
    rt.store.update_message_outcome(result.message_id, outcome)  # what the proxy records after relaying
    message = rt.store.message(result.message_id)
    lines = _lines(_why(rt, message, rt.store.recipient_of(message.id, "bob@client.example")))
    assert lines["mailbox.error"] == (
        "problem",
        "Your mailbox alice@imap.acme.test is failing: LOGIN failed: authentication failed.",
    )
    assert lines["delivery.refused"][0] == "problem" and "550 5.1.1 no such user" in lines["delivery.refused"][1]
    assert lines["pixel.undelivered"][0] == "problem"


def test_a_bounce_tied_to_no_recipient_from_the_store(rt_at: tuple[Runtime, FakeClock]) -> None:
    rt, clock = rt_at
    _account(rt)
    two = ["bob@client.example", "carol@client.example"]
    result = instrument(rt, _html_message("<p>x</p>"), sender="alice@acme.test", recipients=two)
    bounce = Reply(result.message_id, None, "<dsn-1@mx.test>", ReplyKind.BOUNCE, "mailer-daemon@mx.test", clock.now)
    assert Pipeline(rt).record_replies([bounce])
    message = rt.store.message(result.message_id)
    for address in two:
        lines = _lines(_why(rt, message, rt.store.recipient_of(message.id, address)))
        assert lines["delivery.unattributed"][0] == "unknown"


# -- mailbeacon why ---------------------------------------------------------------------------------


@pytest.fixture
def seeded_cli(cli: Run, sqlite_url: str, tmp_path: Path) -> tuple[Run, Message]:
    case = PROBLEMS["9 bounced after a gateway scanned it"]
    clock = FakeClock(case.sc.message.sent_at)
    rt = Runtime.open(make_settings(tmp_path, sqlite_url), clock=clock)
    try:
        message, _ = replay(rt, clock, case.sc)
        other = SCENARIO_ROWS["images blocked, a click"].sc
        clock.set(other.message.sent_at)
        replay(rt, clock, other)
        two = ["bob@client.example", "carol@client.example"]
        instrument(
            rt, _html_message("<p>Hi <a href='https://shop.test/'>x</a></p>"), sender=message.sender, recipients=two
        )
    finally:
        rt.close()
    return cli, message


def test_why_prints_every_line_with_its_mark(seeded_cli: tuple[Run, Message]) -> None:
    cli, message = seeded_cli
    code, out, err = cli("why", str(message.id))
    assert code == 0 and err == ""
    assert out.startswith("nobody@enterprise-x.example - bounced-but-scanned-125 (message 1)\n")
    golden = GOLDEN_PROBLEMS["9 bounced after a gateway scanned it"].splitlines()[1:]
    for g in golden:  # every line but item 10's (the mailbox's last check depends on the real clock)
        status, item, rest = g.split(" ", 2)
        if g[0] != " " and item != "10":
            number = "" if item == "-" else f"{item}. "
            assert f"[{status}] {number}{rest.split(': ', 1)[1]}\n" in out, g
    assert out.count("\n[") == sum(1 for g in golden if g[0] != " ")


def test_why_answers_for_every_recipient_when_none_is_named(seeded_cli: tuple[Run, Message]) -> None:
    cli, _ = seeded_cli
    code, out, _ = cli("why", "3")
    assert code == 0
    titles = [line for line in out.splitlines() if " - Our offer (message 3)" in line]
    assert titles == ["bob@client.example - Our offer (message 3)", "carol@client.example - Our offer (message 3)"]
    assert out.count("[problem] 5. The tracking pixel has not loaded at all.") == 2


def test_why_json_by_message_id_and_recipient(seeded_cli: tuple[Run, Message]) -> None:
    cli, message = seeded_cli
    code, out, _ = cli("why", message.rfc_message_id.strip("<>"), "NOBODY@enterprise-x.example", "--json")
    assert code == 0
    (answer,) = json.loads(out)
    assert answer["recipient"] == "nobody@enterprise-x.example" and answer["message_id"] == message.id
    got = [(c["status"], str(c["item"] or "-"), c["code"]) for c in answer["notes"] + answer["checklist"]]
    want = [
        (line.split(" ")[0], line.split(" ")[1], line.split(" ")[2].rstrip(":"))
        for line in GOLDEN_PROBLEMS["9 bounced after a gateway scanned it"].splitlines()[1:]
        if not line.startswith(" ")
    ]
    # item 10 depends on when it is asked (the mailbox's last check): the command reads the real clock
    assert [g for g in got if g[1] != "10"] == [w for w in want if w[1] != "10"]
    assert [g[1] for g in got if g[1] == "10"] == ["10", "10"]
    assert all("_" not in c["text"] for c in answer["checklist"])  # codes stay in the JSON
    bounce = next(c for c in answer["checklist"] if c["code"] == "delivery.bounced")
    assert bounce["facts"]["bounces"][0]["at"].endswith("Z")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("why", "999"), "no tracked message 999"),
        (("why", "<nope@x.test>"), "no tracked message with Message-ID <nope@x.test>"),
        (("why", "1", "someone@else.example"), "someone@else.example is not a recipient of message 1"),
    ],
)
def test_why_says_in_one_sentence_what_it_cannot_find(
    seeded_cli: tuple[Run, Message], args: tuple[str, ...], words: str
) -> None:
    cli, _ = seeded_cli
    code, out, err = cli(*args)
    assert code != 0 and out == ""
    assert words in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_why_reads_at_80_columns_on_a_terminal(
    seeded_cli: tuple[Run, Message], monkeypatch: pytest.MonkeyPatch
) -> None:
    cli, message = seeded_cli
    buffer = io.StringIO()
    monkeypatch.setattr(
        "mailbeacon.cli.why.console", Console(file=buffer, force_terminal=True, width=80, color_system=None)
    )
    code, _, _ = cli("why", str(message.id))
    assert code == 0
    text = buffer.getvalue()
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    golden = GOLDEN_PROBLEMS["9 bounced after a gateway scanned it"].splitlines()[1:]
    assert sum(1 for line in lines if line.startswith(("✓", "✗", "?"))) == sum(1 for g in golden if g[0] != " ")
    assert "→ Check the address and send it again." in text


# -- the API ----------------------------------------------------------------------------------------


def _basic(email: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{email}:x".encode()).decode()}


async def test_the_api_answers_for_the_senders_workspace_only(rt_at: tuple[Runtime, FakeClock], tmp_path: Path) -> None:
    rt, clock = rt_at
    case = SCENARIO_ROWS["images blocked, a click"]
    clock.set(case.sc.message.sent_at)
    message, recipient = replay(rt, clock, case.sc)
    outsider_ws = rt.store.create_workspace("other", ["other.test"], clock.now)
    rt.store.create_user(outsider_ws.id, "eve@other.test", hash_password("x"), clock.now)
    intake = Intake(rt.store, tmp_path / "journal", interval=0.01)
    intake.start(asyncio.get_running_loop())
    transport = httpx.ASGITransport(app=create_app(rt, intake, Pipeline(rt)), client=("192.0.2.1", 1234))
    path = f"/api/v1/messages/{message.id}/recipients/{recipient.address.replace('@', '%40')}/why"
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t.acme.test") as client:
            r = await client.get(path, headers=_basic(message.sender))
            assert r.status_code == 200, r.text
            assert r.json() == _why(rt, message, recipient).as_json()
            assert r.json()["checklist"][7]["code"] == "inferred.click"
            assert (await client.get(path)).status_code == 401
            assert (await client.get(path, headers=_basic("eve@other.test"))).status_code == 404
            nobody = f"/api/v1/messages/{message.id}/recipients/nobody@x.test/why"
            r = await client.get(nobody, headers=_basic(message.sender))
            assert r.status_code == 404 and "not a recipient" in r.json()["error"]
            r = await client.get(
                f"/api/v1/messages/99999/recipients/{recipient.address}/why", headers=_basic(message.sender)
            )
            assert r.status_code == 404
    finally:
        await intake.stop()


def test_the_replayable_cases_cover_every_scenario_row() -> None:
    assert {k for g, k in REPLAYABLE if g == "row"} == set(SCENARIO_ROWS)
    assert all(isinstance(c, Case) for c, _ in REPLAYABLE.values())


# -- through the submission proxy (real SMTP, swaks) ---------------------------------------------


@pytest.mark.swaks
async def test_junk_through_the_proxy_is_relayed_and_explained(
    proxy: tuple[SmtpProxy, Runtime],  # noqa: F811  (the fixtures of test_smtp_proxy.py)
    sink: tuple[Sink, int],  # noqa: F811
    tmp_path: Path,
) -> None:
    p, rt = proxy
    path = tmp_path / "junk.eml"
    # a From: of the user's: the proxy refuses mail without exactly one (docs/security.md)
    path.write_bytes(b"From: alice@acme.test\r\n\x00\x01\x02 binary junk written by a broken script\r\n")
    rc, out = await swaks(p.port, "--from", "alice@acme.test", "--to", "bob@client.example", "--data", f"@{path}")
    assert rc == 0, out
    [delivered] = sink[0].received
    assert b"\x00\x01\x02 binary junk written by a broken script\r\n" in delivered.data
    [message] = rt.store.messages()
    answer = await asyncio.to_thread(_why, rt, message, rt.store.recipient_of(message.id, "bob@client.example"))
    assert _lines(answer)["injection.failed.binary"][0] == "problem"


@pytest.mark.swaks
async def test_a_refusal_at_the_upstream_is_explained(
    proxy: tuple[SmtpProxy, Runtime],  # noqa: F811  (the fixtures of test_smtp_proxy.py)
    sink: tuple[Sink, int],  # noqa: F811
    tmp_path: Path,
) -> None:
    p, rt = proxy
    sink[0].data_replies["bob@client.example"] = ["550 5.1.1 <bob@client.example>: Recipient address rejected"]
    path = write_message(tmp_path, "<p>Hi <a href='https://shop.test/'>shop</a></p>", To="bob@client.example")
    rc, _ = await swaks(p.port, "--from", "alice@acme.test", "--to", "bob@client.example", "--data", f"@{path}")
    assert rc != 0
    await p.idle()  # the proxy records the relay result just after answering
    [message] = rt.store.messages()
    answer = await asyncio.to_thread(_why, rt, message, rt.store.recipient_of(message.id, "bob@client.example"))
    status, text = _lines(answer)["delivery.refused"]
    assert status == "problem" and "550 5.1.1" in text and "Recipient address rejected" in text


def test_stats_says_which_emails_went_out_untracked_and_why(cli: Run, sqlite_url: str, tmp_path: Path) -> None:
    rt = Runtime.open(make_settings(tmp_path, sqlite_url), clock=FakeClock())
    try:
        _account(rt)
        instrument(rt, b"\x00\x01 junk\r\n", sender="alice@acme.test", recipients=["bob@client.example"])
        signed = (CORPUS / "eml/malformed/flanker-signed.eml").read_bytes()
        instrument(rt, signed, sender="alice@acme.test", recipients=["bob@client.example"])
        instrument(rt, _html_message("<p>x</p>"), sender="alice@acme.test", recipients=["bob@client.example"])
    finally:
        rt.close()
    code, out, _ = cli("stats")
    assert code == 0
    assert out.count("Sent as written, nothing tracked:") == 2
    assert "Sent as written, nothing tracked: it holds binary data, not the text of an email.\n" in out
    assert "nothing tracked: it is signed, and changing it would break the signature.\n" in out
    code, out, _ = cli("stats", "--json")
    untracked = [m["untracked"] for m in json.loads(out)]
    assert untracked[0] is None and all(untracked[1:])  # newest first: the HTML email was tracked


async def test_a_workspace_with_its_own_tracking_domain_is_judged_by_that_one(
    cli: Run, sqlite_url: str, tmp_path: Path
) -> None:
    """The message did not record its tracking address: the workspace's `tracking_url` is it, not the
    server's public_url (http://t.example.test here, a local name over plain http)."""
    rt = Runtime.open(make_settings(tmp_path, sqlite_url), clock=FakeClock())
    seeded = seed_message(rt)
    ws = seeded.workspace
    rt.store.add_api_token(seeded.user.id, "mbt_why", "t", rt.clock())
    path = f"/api/v1/messages/{seeded.message.id}/recipients/bob%40client.example/why"
    transport = httpx.ASGITransport(app=create_app(rt, Intake(rt.store, tmp_path / "j"), Pipeline(rt)))

    async def both() -> list[dict[str, object]]:
        code, out, err = cli("why", str(seeded.message.id), "bob@client.example", "--json")
        assert code == 0, err
        async with httpx.AsyncClient(transport=transport, base_url="http://t.example.test") as client:
            r = await client.get(path, headers={"Authorization": "Bearer mbt_why"})
        assert r.status_code == 200, r.text
        (by_cli,) = json.loads(out)
        lines = [line for line in by_cli["notes"] if str(line["code"]).startswith("address.")]
        assert lines == [line for line in r.json()["notes"] if str(line["code"]).startswith("address.")]
        return lines

    try:
        assert [line["code"] for line in await both()] == ["address.local_name"]  # the server's
        rt.store.update_workspace(ws.id, settings={**ws.settings, "tracking_url": "https://t.acme.com"})
        assert await both() == []
        rt.store.update_workspace(ws.id, settings={**ws.settings, "tracking_url": "http://t.acme.com"})
        (line,) = await both()
        assert line["code"] == "address.plain_http" and "http://t.acme.com uses plain http" in str(line["text"])
        assert "tracking_url in the workspace's settings" in str(line["todo"])
    finally:
        rt.close()
