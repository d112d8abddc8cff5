"""The sender's own off switches any mail client can write: `[notrack]` in the Subject (the whole
email) and `#notrack` at the end of a link (that link). Both are removed, nothing else changes."""

from __future__ import annotations

import pytest

from mailbeacon.instrumentation import instrument
from mailbeacon.rewrite import strip_subject_marker, subject_has_marker
from mailbeacon.runtime import Runtime
from mailbeacon.switches import REASONS
from test_instrument import html_of, setup_accounts
from test_rewrite_html import MARKUP, PUBLIC, rewrite, undo

RAW = (
    b"From: Alice <alice@acme.test>\r\n"
    b"To: bob@client.example\r\n"
    b"Subject: %s\r\n"
    b"Message-ID: <fixed-1@acme.test>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n"
    b"\r\n"
    b"<html><body><p>Hi <a href='https://shop.test/a'>shop</a></p></body></html>\r\n"
)


@pytest.mark.parametrize(
    ("subject", "seen"),
    [
        (b"[notrack] Our offer", b"Our offer"),
        (b"Our offer [notrack]", b"Our offer"),
        (b"Our [NoTrack] offer", b"Our offer"),
        (b"Our offer[notrack]", b"Our offer"),
        (b"[notrack]", b""),
    ],
)
def test_subject_marker_is_removed_and_nothing_else(subject: bytes, seen: bytes) -> None:
    raw = RAW % subject
    out, marked = strip_subject_marker(raw)
    assert marked
    assert out == RAW % seen if seen else out == raw.replace(b"Subject: [notrack]", b"Subject:")


def test_no_marker_no_change() -> None:
    for raw in (RAW % b"Our offer", RAW % b"notrack", b"no headers at all", b""):
        assert strip_subject_marker(raw) == (raw, False)
    # the marker in the body is not the switch
    body = (RAW % b"Hi").replace(b"<p>Hi", b"<p>[notrack] Hi")
    assert strip_subject_marker(body) == (body, False)
    assert subject_has_marker("Re: [NOTRACK] x") and not subject_has_marker("no track")


def test_notrack_subject_sends_the_email_untracked_byte_for_byte(runtime: Runtime) -> None:
    setup_accounts(runtime)
    raw = RAW % b"[notrack] Our offer"
    result = instrument(runtime, raw, sender="alice@acme.test")
    (copy,) = result.copies
    assert copy.data == RAW % b"Our offer"  # only the marker is gone: no pixel, no rewritten link
    assert not result.tracking.opens and not result.tracking.clicks and not result.tracking.replies
    assert "notrack-subject" in result.notes
    msg = runtime.store.message(result.message_id)
    assert msg.subject == "Our offer"
    assert REASONS["opens-off-email"] in [REASONS[c] for c in msg.tracking["reasons"]]  # type: ignore[attr-defined]
    assert "[notrack]" in REASONS["opens-off-email"]


def test_an_encoded_subject_still_switches_tracking_off(runtime: Runtime) -> None:
    setup_accounts(runtime)
    raw = RAW % b"=?utf-8?b?W25vdHJhY2tdIE9mZmVy?="  # "[notrack] Offer" in base64
    result = instrument(runtime, raw, sender="alice@acme.test")
    assert not result.tracking.opens and "/o/" not in html_of(result.copies[0].data)
    assert any(n.startswith("notrack-marker-left") for n in result.notes)


@pytest.mark.parametrize(
    "href",
    [
        "https://x.test/private#notrack",
        "https://x.test/private?a=1&amp;b=2#NoTrack",
        "https://x.test/private#notrack ",
        "https://x.test/page#section#notrack",
    ],
)
def test_link_marker_leaves_that_link_and_goes(href: str) -> None:
    text = f'<html><body><a href="{href}">private</a> <a href="https://x.test/tracked">t</a></body></html>'
    out, links = rewrite(text)
    assert links == ["https://x.test/tracked"]
    marker = href[href.lower().index("#notrack") :][: len("#notrack")]
    undo(text.replace(marker, "", 1), out, links)  # byte for byte, apart from the marker
    assert "notrack" not in out.lower()


def test_link_marker_written_with_character_references() -> None:
    text = '<body><a href="https://x.test/p&#35;notrack">p</a></body>'
    out, links = rewrite(text)
    assert links == [] and out == "<body>" + MARKUP + '<a href="https://x.test/p">p</a></body>'


def test_link_marker_is_removed_when_click_tracking_is_off_too() -> None:
    text = '<body><a href="https://x.test/p#notrack">p</a></body>'
    out, links = rewrite(text, clicks=False)
    assert links == [] and out == "<body>" + MARKUP + '<a href="https://x.test/p">p</a></body>'
    bare = '<body><a href="#notrack">fragment</a></body>'
    assert rewrite(bare)[0] == bare.replace("<body>", "<body>" + MARKUP)  # a bare fragment stays


def test_link_marker_through_instrument(runtime: Runtime) -> None:
    setup_accounts(runtime)
    raw = RAW.replace(b"https://shop.test/a'", b"https://shop.test/a#notrack'") % b"Offer"
    result = instrument(runtime, raw, sender="alice@acme.test")
    html = html_of(result.copies[0].data)
    assert "href='https://shop.test/a'" in html and "notrack" not in html
    assert html.count(f"{PUBLIC}/c/") == 1  # the decoy only: the marked link is not tracked
    assert result.links == () and result.tracking.opens


def test_html_size_counts_html_bodies_only() -> None:
    from mailbeacon.rewrite import GMAIL_CLIP_BYTES, clipped_by_gmail, html_bytes

    raw = RAW % b"x"
    body = raw.split(b"\r\n\r\n", 1)[1]
    assert html_bytes(raw) == len(body)
    assert html_bytes(b"To: x\r\n\r\nplain") == 0 and html_bytes(b"") == 0
    assert not clipped_by_gmail(GMAIL_CLIP_BYTES) and clipped_by_gmail(GMAIL_CLIP_BYTES + 1)


def test_stats_say_which_emails_gmail_clips(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    cli("workspace", "add", "acme", "--domain", "acme.test")
    cli("user", "add", "alice@acme.test", "--workspace", "acme")
    for name, size in (("small", 1_000), ("big", 120_000)):
        raw = RAW.replace(b"<p>Hi", b"<p>" + b"words " * (size // 6) + b"Hi") % name.encode()
        (tmp_path / f"{name}.eml").write_bytes(raw)
        assert cli("send", str(tmp_path / f"{name}.eml"), "--from", "alice@acme.test", "--dry-run")[0] == 0
    code, out, _ = cli("stats", "--json")
    by_subject = {r["subject"]: r for r in json.loads(out)}
    assert by_subject["big"]["clipped_by_gmail"] and by_subject["big"]["html_bytes"] > 120_000
    assert not by_subject["small"]["clipped_by_gmail"]
    code, out, _ = cli("stats")
    assert out.count("Gmail clips it at 102 KB") == 1
    (copy,) = tmp_path.glob("big.*.eml")
    assert copy.read_bytes().index(b"/o/") < 1_000  # the pixel is before the cut
