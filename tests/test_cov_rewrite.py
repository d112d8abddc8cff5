"""The rewriter's self-check, size measure, off switches and plain-text scanner on their edge cases."""

from __future__ import annotations

from mailbeacon.rewrite import mime, optout, size
from mailbeacon.rewrite.check import compare
from mailbeacon.rewrite.mime import parse_node
from mailbeacon.rewrite.text import scan_text, signed_text

PLAIN = b"From: a@example.com\r\nSubject: hi\r\nMessage-ID: <m1@example.com>\r\n\r\nhello\r\n"
MULTI = (
    b"From: a@example.com\r\nSubject: hi\r\nMessage-ID: <m2@example.com>\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: multipart/alternative; boundary=BB\r\n\r\n"
    b"--BB\r\nContent-Type: text/plain\r\n\r\nplain\r\n"
    b"--BB\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n--BB--\r\n"
)


def _check(
    raw: bytes, out: bytes, texts: list[bytes] | None = None, *, mid: str = "", rewritten: int = -1
) -> str | None:
    root = parse_node(raw, 0, len(raw))
    nodes = [root, *root.children]
    ids = {id(nodes[rewritten])} if rewritten >= 0 else set()
    return compare(raw, root, out, texts or [], message_id=mid, remove_fields=frozenset(), rewritten=ids)


def test_an_identical_copy_passes() -> None:
    assert _check(PLAIN, PLAIN, mid="<m1@example.com>") is None
    assert _check(MULTI, MULTI, mid="<m2@example.com>") is None


def test_every_kind_of_difference_is_named() -> None:
    assert _check(PLAIN, PLAIN.replace(b"Subject: hi", b"Subject: ho")) == "top-level header fields changed"
    assert _check(PLAIN, PLAIN.replace(b"<m1@", b"<m9@"), mid="<m1@example.com>") == "Message-ID not kept"
    assert _check(MULTI, MULTI.replace(b"text/html", b"text/enriched")) == "MIME structure changed"
    assert (
        _check(MULTI, MULTI.replace(b"\r\n\r\nplain\r\n", b"\r\n\r\nplane\r\n"))
        == "a part that was not rewritten changed"
    )
    assert _check(PLAIN, PLAIN, [b"extra"]) == "a rewritten part was not found where expected"
    assert _check(MULTI, MULTI, [b"not it"], rewritten=2) == "a rewritten part does not decode to the intended text"
    assert _check(MULTI, MULTI, [b"<p>html</p>"], rewritten=2) is None


def test_subject_marker_edge_cases() -> None:
    assert optout.strip_subject_marker(b"From: a@example.com\r\n\r\nx\r\n") == (
        b"From: a@example.com\r\n\r\nx\r\n",
        False,
    )
    no_marker = b"Subject: plain\r\n\r\nx\r\n"
    assert optout.strip_subject_marker(no_marker) == (no_marker, False)
    assert optout.strip_subject_marker(b"Subject: a [NoTrack] b\r\n\r\nx\r\n") == (b"Subject: a b\r\n\r\nx\r\n", True)
    assert optout.strip_subject_marker(b"Subject: [notrack]hi\r\n\r\nx\r\n") == (b"Subject:hi\r\n\r\nx\r\n", True)
    assert optout.subject_has_marker("Re: [NOTRACK] x")
    assert not optout.subject_has_marker("notrack")


def test_link_marker() -> None:
    assert optout.strip_link_marker("https://example.com/a#NoTrack") == "https://example.com/a"
    assert optout.strip_link_marker("https://example.com/a#top") is None


def test_html_bytes_counts_inline_html_only() -> None:
    html = b"<p>" + b"x" * 200 + b"</p>\r\n"
    msg = (
        b"Content-Type: multipart/mixed; boundary=BB\r\n\r\n"
        b"--BB\r\nContent-Type: text/html\r\n\r\n" + html + b"--BB\r\n"
        b"Content-Type: text/html\r\nContent-Disposition: attachment; filename=a.html\r\n\r\n" + html + b"--BB\r\n"
        b"Content-Type: text/plain\r\n\r\nplain\r\n--BB--\r\n"
    )
    counted = size.html_bytes(msg)
    assert len(html) - 2 <= counted <= len(html)
    assert size.html_bytes(PLAIN) == 0
    assert not size.clipped_by_gmail(size.GMAIL_CLIP_BYTES)
    assert size.clipped_by_gmail(size.GMAIL_CLIP_BYTES + 1)


def test_scan_text_skips_own_short_and_surrogate_urls_and_trims_punctuation() -> None:
    text = (
        "See https://example.com/a). and (https://example.com/b) "
        "and https:// and https://t.example.com/x and https://example.com/\udcff!"
    )
    plan = scan_text(text, "https://t.example.com/")
    assert plan.links == ["https://example.com/a", "https://example.com/b"]


def test_signed_text() -> None:
    assert signed_text("x\n-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n")
    assert not signed_text("-----BEGIN CERTIFICATE-----")


def test_mime_tree_of_a_digest_with_a_fake_boundary_and_an_empty_multipart() -> None:
    raw = (
        b"Content-Type: multipart/digest; boundary=DD\r\n\r\n"
        b"--DDnot-a-boundary\r\n"
        b"--DD\r\n\r\nFrom: x@example.com\r\nSubject: one\r\n\r\nfirst\r\n"
        b"--DD\r\nContent-Type: multipart/mixed; boundary=EE\r\n\r\nno parts here\r\n"
        b"--DD--\r\n"
    )
    root = parse_node(raw, 0, len(raw))
    nodes = mime.walk(root)
    assert [n.content_type for n in nodes] == ["multipart/digest", "message/rfc822", "multipart/mixed"]
    assert root.is_multipart and not nodes[1].is_multipart
    assert nodes[2].is_multipart and not nodes[2].children  # declared multipart, no delimiter inside


def test_a_boundary_that_is_not_ascii_leaves_the_body_whole() -> None:
    raw = 'Content-Type: multipart/mixed; boundary="gré"\r\n\r\n--gré\r\n\r\nx\r\n--gré--\r\n'.encode()
    root = parse_node(raw, 0, len(raw))
    assert root.children == []


def test_bare_carriage_returns_are_kept_exact_by_base64() -> None:
    assert mime.encode_body(b"a\rb\r\n", "7bit", b"\r\n") == (b"a\rb\r\n", "7bit")  # nothing to re-encode
    data = "café\rb\r\n".encode()  # 7bit text that became 8-bit, with a bare CR: not quoted-printable
    body, cte = mime.encode_body(data, "7bit", b"\r\n")
    assert cte == "base64"
    assert mime.decode_body(body, cte) == data


def test_charset_sniffing_and_unlabelled_8bit_text() -> None:
    assert mime.sniff_charset(b"\xef\xbb\xbf<p>x</p>") == "utf-8"
    assert mime.sniff_charset(b"\xff\xfe<\x00p\x00") == "utf-16"
    decoded = mime.decode_text("café".encode(), None, html=False)
    assert decoded is not None
    text, codec = decoded
    assert text == "café" and codec.codec == "utf-8"
