"""instrument(): per-recipient copies with real tokens, recorded in the store (SQLite and PostgreSQL)."""

from __future__ import annotations

import email
import re
from email.message import EmailMessage, Message
from email.policy import compat32
from pathlib import Path

import pytest

import mailbeacon
from conftest import CORPUS, wait_stored
from mailbeacon.errors import AuthError, InvalidInput
from mailbeacon.instrumentation import Instrumented, instrument
from mailbeacon.model import HitKind, RecipientField, Relation, TrackMode
from mailbeacon.passwords import hash_password
from mailbeacon.rewrite import NEUTRAL_IMAGE
from mailbeacon.runtime import Runtime
from mailbeacon.switches import choose_tracking

PUBLIC = "http://t.example.test"
URL = re.compile(re.escape(PUBLIC) + r"/([oc])/([A-Za-z0-9_-]+)(\.gif)?")
HTML = (
    "<html><body><p>Hi <a href='https://shop.test/a?x=1&amp;y=2'>shop</a>, "
    '<a href="mailto:alice@acme.test">mail me</a>, <a href="https://shop.test/b">b</a></p></body></html>'
)


def setup_accounts(rt: Runtime) -> None:
    now = rt.clock()
    ws = rt.store.create_workspace("acme", ["acme.test"], now)
    alice = rt.store.create_user(ws.id, "alice@acme.test", hash_password("pw"), now)
    rt.store.add_address(alice.id, "alice@personal.test")
    carol = rt.store.create_user(ws.id, "carol@partner.test", hash_password("pw"), now)
    assert carol.workspace_id == ws.id


def make_message(html: str = HTML, **headers: str) -> EmailMessage:
    m = EmailMessage()
    m["From"] = "Alice <alice@acme.test>"
    m["Subject"] = "Our offer"
    for name, value in headers.items():
        m[name.replace("_", "-")] = value
    m.set_content("Hi, see https://shop.test/a")
    m.add_alternative(html, subtype="html")
    return m


def parse(data: bytes) -> Message:
    return email.message_from_bytes(data, policy=compat32)


def html_of(data: bytes) -> str:
    for part in parse(data).walk():
        if part.get_content_type() == "text/html":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(part.get_content_charset() or "utf-8", "surrogateescape")
    return ""


def check_tokens(rt: Runtime, result: Instrumented) -> None:
    """Every tracking URL in every copy verifies, names that copy's recipient, and maps to its URL."""
    for copy in result.copies:
        html = html_of(copy.data)
        kinds: list[HitKind] = []
        clicks: list[int] = []
        for kind, token, _gif in URL.findall(html):
            claims = rt.keyring.verify(token)
            assert (claims.workspace_id, claims.message_id, claims.recipient_id) == (
                result.workspace_id,
                result.message_id,
                copy.recipient_id,
            )
            kinds.append(claims.kind)
            if claims.kind is HitKind.CLICK:
                assert claims.link is not None
                clicks.append(claims.link)
                assert rt.store.link_url(result.message_id, claims.link) == result.links[claims.link]
            assert kind == ("o" if claims.kind is HitKind.OPEN else "c")
        assert sorted(clicks) == list(range(len(result.links)))
        assert kinds.count(HitKind.OPEN) == (1 if result.tracking.opens and html else 0)
        for addr in (copy.address, "alice@acme.test"):
            assert addr not in " ".join(m.group(0) for m in URL.finditer(html))


def test_one_copy_per_recipient_with_its_own_tokens(any_runtime: Runtime) -> None:
    rt = any_runtime
    setup_accounts(rt)
    msg = make_message(
        To="Bob <bob@client.test>, carol@partner.test", Cc="dan@acme.test", Bcc="alice@personal.test, eve@x.test"
    )
    result = mailbeacon.instrument(rt, msg, sender="Alice <ALICE@acme.test>")
    assert result.sender == "alice@acme.test" and result.failure is None and result.instrumented
    assert result.links == ("https://shop.test/a?x=1&y=2", "https://shop.test/b")
    got = {(c.address, c.field, c.relation) for c in result.copies}
    assert got == {
        ("bob@client.test", RecipientField.TO, Relation.EXTERNAL),
        ("carol@partner.test", RecipientField.TO, Relation.COLLEAGUE),  # a workspace member
        ("dan@acme.test", RecipientField.CC, Relation.COLLEAGUE),  # a workspace domain
        ("alice@personal.test", RecipientField.BCC, Relation.SENDER),
        ("eve@x.test", RecipientField.BCC, Relation.EXTERNAL),
    }
    visible = [[(k, v) for k, v in parse(c.data).items()] for c in result.copies]
    assert all(v == visible[0] for v in visible)
    assert all(k.lower() != "bcc" for k, _ in visible[0])
    assert dict(visible[0])["Message-ID"] == result.rfc_message_id
    assert len({html_of(c.data) for c in result.copies}) == len(result.copies)
    check_tokens(rt, result)
    stored = rt.store.message(result.message_id)
    assert stored.rfc_message_id == result.rfc_message_id and stored.subject == "Our offer"
    assert stored.links == 2 and stored.decoy_link == 2 and stored.source == "python"
    assert stored.tracking == {"opens": True, "clicks": True, "replies": True, "reasons": []}
    assert stored.outcome["html"] is True and stored.outcome["instrumented"] is True
    assert stored.outcome["failure"] is None
    assert stored.sent_at == rt.clock()
    assert [r.address for r in rt.store.recipients(result.message_id)] == [c.address for c in result.copies]
    decoys = [rt.keyring.verify(t) for c in result.copies for k, t, _ in URL.findall(html_of(c.data))]
    assert sum(cl.kind is HitKind.DECOY for cl in decoys) == len(result.copies)


def test_encoded_display_names_do_not_confuse_addresses(runtime: Runtime) -> None:
    setup_accounts(runtime)
    raw = (
        b"From: =?utf-8?q?Alice_=40_Acme?= <alice@acme.test>\r\n"
        b"To: =?utf-8?q?Doe=2C_John?= <john@client.test>, =?utf-8?q?eve=40evil.test?= <bob@client.test>\r\n"
        b"Subject: =?utf-8?q?Caf=C3=A9?=\r\nContent-Type: text/html\r\n\r\n<a href='https://x.test/'>x</a>\r\n"
    )
    result = instrument(runtime, raw, sender="alice@acme.test")
    assert [c.address for c in result.copies] == ["john@client.test", "bob@client.test"]
    assert runtime.store.message(result.message_id).subject == "Café"


def test_explicit_envelope_and_raw_bytes(runtime: Runtime) -> None:
    setup_accounts(runtime)
    msg = make_message(To="bob@client.test", Message_ID="<fixed@acme.test>")
    raw = msg.as_bytes()
    result = instrument(runtime, raw, sender="alice@acme.test", recipients=["bob@client.test", "Zed@Other.test"])
    assert [(c.address, c.field) for c in result.copies] == [
        ("bob@client.test", RecipientField.TO),
        ("zed@other.test", RecipientField.BCC),
    ]
    assert result.rfc_message_id == "<fixed@acme.test>"
    assert result.copy_for("ZED@other.test").message()["Message-ID"] == "<fixed@acme.test>"
    check_tokens(runtime, result)


@pytest.mark.parametrize(
    ("server", "workspace", "user", "override", "expected", "reasons"),
    [
        ({}, {}, {}, None, (True, True, True), ()),
        ({"track_opens": False}, {}, {}, None, (False, True, True), ("opens-off-server",)),
        ({}, {"track_opens": False}, {}, None, (False, True, True), ("opens-off-workspace",)),
        ({}, {"track_opens": False}, {"track_opens": True}, None, (False, True, True), ("opens-off-workspace",)),
        ({"track_opens": False}, {"track_opens": True}, {}, None, (True, True, True), ()),
        (
            {},
            {},
            {"track_clicks": False, "track_replies": "off"},
            None,
            (True, False, False),
            ("clicks-off-user", "replies-off-user"),
        ),
        (
            {},
            {},
            {},
            TrackMode.OFF,
            (False, False, False),
            ("opens-off-email", "clicks-off-email", "replies-off-email"),
        ),
        ({}, {}, {}, TrackMode.OPENS, (True, False, True), ("clicks-off-email",)),
        ({}, {}, {}, TrackMode.CLICKS, (False, True, True), ("opens-off-email",)),
        (
            {},
            {"track_opens": False, "track_clicks": False},
            {},
            TrackMode.ALL,
            (False, False, True),
            ("opens-off-workspace", "clicks-off-workspace"),
        ),
        (
            {},
            {},
            {"track_clicks": False},
            TrackMode.CLICKS,
            (False, False, True),
            ("opens-off-email", "clicks-off-user"),
        ),
        ({}, {"track_opens": "nonsense"}, {}, None, (True, True, True), ()),
    ],
)
def test_switches(
    server: dict[str, object],
    workspace: dict[str, object],
    user: dict[str, object],
    override: TrackMode | None,
    expected: tuple[bool, bool, bool],
    reasons: tuple[str, ...],
) -> None:
    choice = choose_tracking(server, workspace, user, override)
    assert (choice.opens, choice.clicks, choice.replies) == expected
    assert choice.reasons == reasons


def test_preferences_and_the_header(runtime: Runtime) -> None:
    setup_accounts(runtime)
    ws = runtime.store.workspace("acme")
    runtime.store.update_workspace(ws.id, settings={"track_opens": False})
    result = instrument(runtime, make_message(To="bob@client.test"), sender="alice@acme.test")
    assert not result.tracking.opens and result.tracking.reasons == ("opens-off-workspace",)
    assert "/o/" not in html_of(result.copies[0].data) and result.links
    check_tokens(runtime, result)
    # the email cannot switch on what the workspace switched off
    forced = instrument(runtime, make_message(To="bob@client.test"), sender="alice@acme.test", track="all")
    assert not forced.tracking.opens and forced.tracking.reasons == ("opens-off-workspace",)
    runtime.store.update_workspace(ws.id, settings={})
    # the header turns everything off for this email, and is removed
    off = instrument(runtime, make_message(To="bob@client.test", X_Mailbeacon_Track="off"), sender="alice@acme.test")
    data = off.copies[0].data
    assert b"X-Mailbeacon-Track" not in data and PUBLIC.encode() not in data
    assert not off.instrumented and off.notes[0] == "tracking-off"
    stored = runtime.store.message(off.message_id)
    assert stored.tracking["reasons"] == ["opens-off-email", "clicks-off-email", "replies-off-email"]
    assert stored.decoy_link is None and stored.links == 0
    # the argument wins over the header
    arg = instrument(
        runtime, make_message(To="bob@client.test", X_Mailbeacon_Track="off"), sender="alice@acme.test", track="opens"
    )
    assert arg.tracking.opens and not arg.tracking.clicks and "/o/" in html_of(arg.copies[0].data)
    bad = instrument(runtime, make_message(To="bob@client.test", X_Mailbeacon_Track="maybe"), sender="alice@acme.test")
    assert any(n.startswith("track-header-ignored") for n in bad.notes) and bad.tracking.clicks
    with pytest.raises(InvalidInput):
        instrument(runtime, make_message(To="bob@client.test"), sender="alice@acme.test", track="sometimes")


def test_refusals(runtime: Runtime) -> None:
    setup_accounts(runtime)
    with pytest.raises(AuthError, match="not an address of any mailbeacon user"):
        instrument(runtime, make_message(To="bob@client.test"), sender="mallory@acme.test")
    with pytest.raises(InvalidInput):
        instrument(runtime, make_message(To="bob@client.test"), sender="not an address")
    with pytest.raises(InvalidInput, match="no recipients"):
        instrument(runtime, make_message(), sender="alice@acme.test")
    with pytest.raises(InvalidInput):
        instrument(runtime, make_message(), sender="alice@acme.test", recipients=["nobody"])
    with pytest.raises(InvalidInput):
        instrument(runtime, "a str is not a message", sender="alice@acme.test")  # type: ignore[arg-type]


def test_no_html_part_is_recorded_and_sent_untouched(runtime: Runtime) -> None:
    setup_accounts(runtime)
    m = EmailMessage()
    m["From"] = "alice@acme.test"
    m["To"] = "bob@client.test"
    m["Message-ID"] = "<plain@acme.test>"
    m.set_content("Hello https://shop.test/")
    result = instrument(runtime, m, sender="alice@acme.test")
    assert result.copies[0].data == m.as_bytes(policy=m.policy.clone(linesep="\r\n"))
    stored = runtime.store.message(result.message_id)
    assert stored.outcome["html"] is False and stored.outcome["instrumented"] is False
    assert stored.outcome["notes"] == ["no-html-part"]


def test_signed_mail_goes_out_untouched_with_the_reason(runtime: Runtime) -> None:
    setup_accounts(runtime)
    raw = (CORPUS / "eml/malformed/flanker-signed.eml").read_bytes()
    result = instrument(runtime, raw, sender="alice@acme.test", recipients=["bob@client.test"])
    assert result.failure is not None and result.failure.startswith("signed")
    body = raw.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)[1]
    assert result.copies[0].data.endswith(body)
    assert runtime.store.message(result.message_id).outcome["failure"] == result.failure


def test_replying_neutralises_our_quoted_pixel_and_links(runtime: Runtime) -> None:
    setup_accounts(runtime)
    first = instrument(runtime, make_message(To="bob@client.test"), sender="alice@acme.test")
    sent_html = html_of(first.copies[0].data)
    body = sent_html.split("<body>", 1)[1].rsplit("</body>", 1)[0]
    reply = make_message(
        html=f"<html><body><p>Following up <a href='https://new.test/'>new</a></p><blockquote>{body}</blockquote></body></html>",
        To="bob@client.test",
    )
    second = instrument(runtime, reply, sender="alice@acme.test")
    html = html_of(second.copies[0].data)
    assert second.links == ("https://new.test/",)
    assert html.count(NEUTRAL_IMAGE) == 1
    assert "href='https://shop.test/a?x=1&amp;y=2'" in html and 'href="https://shop.test/b"' in html
    for _kind, token, _gif in URL.findall(html):
        assert runtime.keyring.verify(token).message_id == second.message_id  # nothing of the old message left
    assert any(n.startswith("quoted-pixel-neutralised") for n in second.notes)
    assert any(n.startswith("quoted-link-restored") for n in second.notes)


def test_every_corpus_message_instruments_or_says_why(runtime: Runtime) -> None:
    setup_accounts(runtime)
    instrumented = 0
    for path in sorted((CORPUS / "eml").rglob("*.eml")):
        result = instrument(runtime, path.read_bytes(), sender="alice@acme.test", recipients=["bob@client.test"])
        assert result.instrumented or result.failure or "no-html-part" in result.notes, path
        assert len(result.copies) == 1
        if result.instrumented:
            instrumented += 1
            check_tokens(runtime, result)
        data = result.copies[0].data
        assert re.split(rb"\r\n|\n", data)[0]  # a message, not nothing
    assert instrumented >= 15


@pytest.mark.parametrize("path", sorted((CORPUS / "html").glob("*.html")), ids=lambda p: p.name)
def test_every_corpus_template_through_instrument(runtime: Runtime, path: Path) -> None:
    setup_accounts(runtime)
    html = path.read_bytes().decode("utf-8", "surrogateescape").encode("utf-8", "replace").decode("utf-8")
    result = instrument(
        runtime, make_message(html=html, To="bob@client.test, carol@partner.test"), sender="alice@acme.test"
    )
    assert result.failure is None and result.instrumented
    check_tokens(runtime, result)
    lines = [len(line) for c in result.copies for line in re.split(rb"\r\n|\n", c.data)]
    assert max(lines) <= 998


async def test_the_copies_urls_work_at_the_tracking_endpoints(runtime: Runtime, tmp_path: Path) -> None:
    import asyncio

    import httpx

    from mailbeacon.intake import Intake
    from mailbeacon.pipeline import Pipeline
    from mailbeacon.web.app import create_app

    setup_accounts(runtime)
    result = instrument(runtime, make_message(To="bob@client.test"), sender="alice@acme.test")
    html = html_of(result.copies[0].data)
    urls = [m.group(0) for m in URL.finditer(html)]
    intake = Intake(runtime.store, tmp_path / "journal", interval=0.01)
    intake.start(asyncio.get_running_loop())
    transport = httpx.ASGITransport(app=create_app(runtime, intake, Pipeline(runtime)), client=("203.0.113.5", 50000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC) as client:
            for url in urls:
                claims = runtime.keyring.verify(URL.match(url).group(2))  # type: ignore[union-attr]
                r = await client.get(url)
                if claims.kind is HitKind.CLICK:
                    assert r.status_code == 302 and r.headers["location"] == result.links[claims.link or 0]
                elif claims.kind is HitKind.OPEN:
                    assert r.status_code == 200 and r.headers["content-type"] == "image/gif"
                else:
                    assert r.status_code == 200 and "location" not in r.headers
        assert await asyncio.to_thread(wait_stored, intake)
    finally:
        await intake.stop()
    hits = [sv.hit for sv in runtime.store.hits_with_verdicts(limit=100)]
    assert sorted(h.kind.value for h in hits) == ["click", "click", "decoy", "open"]
    assert {h.recipient_id for h in hits} == {result.copies[0].recipient_id}
