"""Whole messages: every corpus .eml, MIME structure and bytes kept, headers edited as promised."""

from __future__ import annotations

import email
import re
from email.message import EmailMessage, Message
from email.policy import compat32
from functools import partial
from pathlib import Path

import pytest

from conftest import CORPUS
from mailbeacon.rewrite import NEUTRAL_IMAGE, Options, OwnUrl, Prepared, pixel_markup, prepare, render, untouched
from test_rewrite_html import DECOY, MARKUP, PIXEL, PUBLIC, TRACKED, live_links, undo

EML_FILES = sorted((CORPUS / "eml").rglob("*.eml"))
NEW_ID = "<new-id@acme.test>"
SIGNATURE = re.compile(rb"^(?:DKIM-Signature|ARC-[A-Za-z-]+):.*(?:\r?\n[ \t].*)*\r?\n", re.I | re.M)


class FakeUrls:
    def click(self, index: int) -> str:
        return f"{PUBLIC}/c/L{index}x"

    def pixel(self) -> str:
        return PIXEL

    def decoy(self) -> str:
        return DECOY


def run(raw: bytes, **kw: object) -> tuple[Prepared, bytes]:
    opts = Options(public_url=PUBLIC, message_id=NEW_ID, **kw)  # type: ignore[arg-type]
    p = prepare(raw, opts)
    return p, render(p, FakeUrls())


def parse(data: bytes) -> Message:
    return email.message_from_bytes(data, policy=compat32)


def text_of(part: Message) -> str:
    data = part.get_payload(decode=True)
    assert isinstance(data, bytes)
    charset = part.get_content_charset() or "utf-8"
    try:
        return data.decode(charset, "surrogateescape")
    except LookupError:
        return data.decode("latin-1")


def is_body_html(part: Message) -> bool:
    disposition = str(part.get("content-disposition", "")).split(";")[0].strip().lower()
    return part.get_content_type() == "text/html" and disposition != "attachment"


def _relative_link(m: re.Match[str], base: int) -> str:
    """A tracked link renumbered from the part's first link (links are numbered per message)."""
    return f"{PUBLIC}/c/L{int(m.group(1)) - base}x"


def attached(msg: Message) -> set[int]:
    """Parts inside attached messages (message/rfc822): not the body of this message."""
    inside: set[int] = set()
    for part in msg.walk():
        if part.get_content_maintype() == "message" and part.is_multipart():
            inside.update(id(x) for x in part.walk() if x is not part)
    return inside


def signed(raw: bytes) -> bool:
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    return bool(SIGNATURE.search(head)) or parse(raw).get_content_type() in ("multipart/signed", "multipart/encrypted")


def check_message(raw: bytes, p: Prepared, out: bytes, *, clicks: bool = True) -> None:
    """The invariants of every instrumented message."""
    before, after = parse(raw), parse(out)
    assert after.get_all("bcc") is None and after.get_all("x-mailbeacon-track") is None
    assert len(after.get_all("message-id", [])) == 1
    assert p.message_id in str(after["message-id"])
    assert [m.get_content_type() for m in before.walk()] == [m.get_content_type() for m in after.walk()]
    inside_message = attached(before)
    links_seen = 0
    for b, a in zip(before.walk(), after.walk(), strict=True):
        if b.is_multipart():
            continue
        if is_body_html(b) and id(b) not in inside_message and p.failure is None and text_of(b) != text_of(a):
            html_in, html_out = text_of(b), text_of(a)
            part_links = [int(i) for i in TRACKED.findall(html_out)]
            if part_links:
                base = part_links[0]
                links = list(p.links[base : base + len(part_links)])
                html_out = TRACKED.sub(partial(_relative_link, base=base), html_out)
            else:
                links = []
            undo(html_in, html_out, links, pixel_markup(PIXEL if p.pixel else None, DECOY if p.decoy else None))
            links_seen += len(links)
            if clicks:
                assert [h for h in live_links(text_of(a)) if not h.startswith(PUBLIC + "/c/")] == []
        else:
            assert b.get_payload(decode=True) == a.get_payload(decode=True)
    assert links_seen == len(p.links)
    old_lines = set(re.split(rb"\r\n|\n", raw))
    assert all(len(line) <= 998 or line in old_lines for line in re.split(rb"\r\n|\n", out))


@pytest.mark.parametrize("path", EML_FILES, ids=lambda p: str(p.relative_to(CORPUS / "eml")))
def test_corpus_message(path: Path) -> None:
    raw = path.read_bytes()
    p, out = run(raw)
    if signed(raw):
        assert p.failure is not None and p.failure.startswith("signed")
        assert out == untouched(raw, NEW_ID)
        raw = SIGNATURE.sub(b"", raw, count=0)  # and without the signature, it must instrument
        if parse(raw).get_content_type() in ("multipart/signed", "multipart/encrypted"):
            return
        p, out = run(raw)
    assert p.failure is None, p.failure
    check_message(raw, p, out)
    msg = parse(raw)
    has_html = any(is_body_html(m) and id(m) not in attached(msg) for m in msg.walk())
    assert p.html == has_html
    if not has_html:
        assert "no-html-part" in p.notes and not p.instrumented


def test_corpus_has_html_messages_and_links() -> None:
    results = [run(SIGNATURE.sub(b"", path.read_bytes()))[0] for path in EML_FILES]
    assert sum(p.instrumented for p in results) >= 20
    assert sum(len(p.links) for p in results) >= 5


def message(html: str = '<html><body><a href="https://x.test/a">a</a></body></html>', **headers: str) -> bytes:
    m = EmailMessage()
    m["From"] = "Alice <alice@acme.test>"
    m["To"] = "bob@client.test"
    for k, v in headers.items():
        m[k.replace("_", "-")] = v
    m.set_content("plain text https://x.test/plain")
    m.add_alternative(html, subtype="html")
    return m.as_bytes(policy=m.policy.clone(linesep="\r\n"))


def test_header_edits() -> None:
    raw = message(Bcc="secret@x.test", X_Mailbeacon_Track="clicks", Subject="Hi")
    raw = raw.replace(b"Subject: Hi\r\n", b"Subject: Hi\r\nBCC: another@x.test,\r\n third@x.test\r\n")
    p, out = run(raw)
    assert b"secret@x.test" not in out and b"third@x.test" not in out and b"X-Mailbeacon" not in out
    assert out.count(b"Message-ID: " + NEW_ID.encode() + b"\r\n") == 1
    assert p.message_id == NEW_ID
    # an existing Message-ID is kept as it is
    p2, out2 = run(message(Message_ID="<kept@acme.test>"))
    assert p2.message_id == "<kept@acme.test>" and NEW_ID.encode() not in out2
    # one that is not a msg-id is replaced
    p3, out3 = run(message(Message_ID="garbage"))
    assert p3.message_id == NEW_ID and b"garbage" not in out3


def test_no_html_part_goes_untouched() -> None:
    m = EmailMessage()
    m["To"] = "bob@client.test"
    m["Bcc"] = "hidden@x.test"
    m.set_content("just text https://x.test/")
    raw = m.as_bytes()
    p, out = run(raw)
    assert p.failure is None and not p.instrumented and p.notes[0] == "no-html-part"
    assert out == raw.replace(b"Bcc: hidden@x.test\n", b"").replace(
        b"\n\n", b"\nMessage-ID: " + NEW_ID.encode() + b"\n\n", 1
    )


def test_text_parts_rewritten_only_when_asked() -> None:
    raw = message()
    p, out = run(raw, rewrite_text=True)
    assert p.links == ("https://x.test/plain", "https://x.test/a")
    plain = next(m for m in parse(out).walk() if m.get_content_type() == "text/plain")
    assert f"{PUBLIC}/c/L0x" in text_of(plain)
    p, _ = run(raw)
    assert p.links == ("https://x.test/a",)
    pgp = message().replace(b"plain text", b"-----BEGIN PGP SIGNED MESSAGE-----\r\nplain text")
    p, _ = run(pgp, rewrite_text=True)
    assert p.links == ("https://x.test/a",) and "signed-part-left: inline PGP" in p.notes


def test_signed_part_inside_mixed_is_left_alone() -> None:
    signed_part = (
        b'Content-Type: multipart/signed; protocol="application/pgp-signature"; boundary="s"\r\n\r\n'
        b'--s\r\nContent-Type: text/html\r\n\r\n<a href="https://x.test/signed">s</a>\r\n'
        b"--s\r\nContent-Type: application/pgp-signature\r\n\r\nSIG\r\n--s--\r\n"
    )
    raw = (
        b'From: a@acme.test\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="m"\r\n\r\n'
        b'--m\r\nContent-Type: text/html\r\n\r\n<a href="https://x.test/free">f</a>\r\n--m\r\n'
        + signed_part
        + b"--m--\r\n"
    )
    p, out = run(raw)
    assert p.failure is None and p.links == ("https://x.test/free",)
    assert signed_part in out
    assert any(n.startswith("signed-part-left") for n in p.notes)


def test_attachments_and_forwarded_messages_are_not_rewritten() -> None:
    m = EmailMessage()
    m["From"] = "a@acme.test"
    m.set_content("<html><body><a href='https://x.test/body'>b</a></body></html>", subtype="html")
    m.add_attachment("<a href='https://x.test/attached'>a</a>", subtype="html", filename="page.html")
    inner = EmailMessage()
    inner["Subject"] = "fwd"
    inner.set_content("<a href='https://x.test/forwarded'>f</a>", subtype="html")
    m.add_attachment(inner)
    raw = m.as_bytes(policy=m.policy.clone(linesep="\r\n"))
    p, out = run(raw)
    assert p.links == ("https://x.test/body",)
    check_message(raw, p, out)


def test_long_7bit_lines_become_quoted_printable() -> None:
    links = "".join(f'<a href="http://a.co/{i}">{i}</a>' for i in range(40))
    raw = (
        b"From: a@acme.test\r\nContent-Type: text/html; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
        + f"<html><body>{links}</body></html>\r\n".encode()
    )
    p, out = run(raw)
    assert p.failure is None and len(p.links) == 40
    assert b"Content-Transfer-Encoding: quoted-printable\r\n" in out and b"7bit" not in out
    assert max(len(line) for line in out.split(b"\r\n")) <= 998
    check_message(raw, p, out)


def test_charset_fallback_to_utf8_when_a_restored_url_does_not_fit() -> None:
    html = f'<html><body>café <a href="{PUBLIC}/c/OLD">old</a></body></html>'
    raw = (
        b"From: a@acme.test\r\nContent-Type: text/html; charset=iso-8859-1\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n" + html.encode("latin-1")
    )
    p, out = run(raw, resolve=lambda url: OwnUrl("click", "https://例え.test/パス") if "/c/OLD" in url else None)
    assert p.failure is None
    assert any(n.startswith("charset-fallback: iso-8859-1 -> utf-8") for n in p.notes)
    part = parse(out)
    assert part.get_content_charset() == "utf-8"
    assert 'café <a href="https://例え.test/パス">old</a>' in text_of(part)


def test_lf_only_messages_keep_lf() -> None:
    raw = message().replace(b"\r\n", b"\n")
    p, out = run(raw)
    assert p.failure is None and b"\r" not in out
    check_message(raw, p, out)


def test_parts_that_cannot_be_decoded_are_left() -> None:
    raw = (
        b'From: a@acme.test\r\nContent-Type: multipart/alternative; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 x\r\n`\r\nend\r\n"
        b'--b\r\nContent-Type: text/html\r\n\r\n<a href="https://x.test/ok">o</a>\r\n--b--\r\n'
    )
    p, out = run(raw)
    assert p.links == ("https://x.test/ok",)
    assert any("x-uuencode" in n for n in p.notes)
    assert b"begin 644 x\r\n`\r\nend\r\n--b" in out


def test_quoted_pixels_neutralised_even_with_tracking_off() -> None:
    html = f'<html><body>hi<blockquote><img src="{PUBLIC}/o/OLDPIXEL.gif"></blockquote></body></html>'
    p, out = run(message(html), opens=False, clicks=False, resolve=lambda u: OwnUrl("open") if "/o/" in u else None)
    assert not p.pixel and not p.decoy and p.links == ()
    assert p.edited and NEUTRAL_IMAGE.encode() in out.replace(b"=\r\n", b"")
    assert PIXEL.encode() not in out


def test_switches_decide_what_is_injected() -> None:
    raw = message()
    p, out = run(raw, opens=False)
    assert not p.pixel and p.decoy and p.links
    p, out = run(raw, clicks=False)
    assert p.pixel and not p.decoy and not p.links
    p, out = run(raw, decoy=False)
    assert p.pixel and not p.decoy
    p, out = run(raw, opens=False, clicks=False)
    assert not p.instrumented and out == untouched(raw, NEW_ID)
    p, out = run(raw)
    assert MARKUP.encode() in b"".join(out.split(b"=\r\n")).replace(b"=3D", b"=")


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"no headers at all\r\n",
        b"Content-Type: multipart/mixed\r\n\r\nno boundary",
        b'Content-Type: multipart/mixed; boundary="x"\r\n\r\n--x--\r\n',
        b'Content-Type: multipart/mixed; boundary="x"\r\n\r\n--x\r\nContent-Type: text/html\r\n\r\n<a href="https://x.test/">',
        b"Content-Type: text/html; charset=utf-16\r\n\r\n" + '<a href="https://x.test/">x</a>'.encode("utf-16"),
        b"Content-Type: text/html; charset=x-nonsense\r\n\r\n<a href='https://x.test/'>\xff</a>",
        b"Content-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!notbase64",
        b"\r\n\r\n\r\n",
    ],
)
def test_odd_messages_never_raise(raw: bytes) -> None:
    p, out = run(raw)
    assert isinstance(out, bytes)
    if p.failure is None and p.instrumented:
        check_message(raw, p, out)
