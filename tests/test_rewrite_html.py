"""The HTML span scanner: every corpus template, byte fidelity, and the cases the issue names.

The oracle for "which links are there" is the standard library's html.parser (an independent
tokenizer); the fidelity check undoes the rewrite from the output alone and compares bytes.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import CORPUS
from mailbeacon.rewrite import (
    NEUTRAL_IMAGE,
    HtmlOptions,
    OwnUrl,
    pixel_markup,
    render_html,
    scan_html,
    unescape_attr,
)

PUBLIC = "http://t.example.test"
PIXEL = f"{PUBLIC}/o/PIXELTOKEN.gif"
DECOY = f"{PUBLIC}/c/DECOYTOKEN"
TRACKED = re.compile(re.escape(PUBLIC) + r"/c/L(\d+)x")
MARKUP = pixel_markup(PIXEL, DECOY)
HTML_FILES = sorted((CORPUS / "html").glob("*.html"))


def rewrite(text: str, **kw: object) -> tuple[str, list[str]]:
    plan = scan_html(text, HtmlOptions(public_url=PUBLIC, **kw))  # type: ignore[arg-type]
    return render_html(plan, lambda i: f"{PUBLIC}/c/L{i}x", MARKUP), plan.links


class Links(HTMLParser):
    """http(s) link targets as a browser (and Outlook, for conditional comments) would see them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("a", "area") or tag.startswith("v:"):
            href = next((v for k, v in attrs if k == "href"), None)  # the first one counts (HTML5)
            if href is not None:
                self.hrefs.append(href.strip())

    handle_startendtag = handle_starttag

    def handle_comment(self, data: str) -> None:
        m = re.match(r"\[if[^\]]*\]>(.*?)(?:<!\[endif\])?$", data, re.S | re.I)
        if m:
            self.hrefs.extend(_hrefs(m.group(1)))


def _hrefs(text: str) -> list[str]:
    p = Links()
    p.feed(text)
    p.close()
    return p.hrefs


def live_links(text: str) -> list[str]:
    return [h for h in _hrefs(text) if re.match(r"https?:", h, re.I) and not re.search(r"\{\{|\*\||%%", h)]


def undo(original: str, output: str, links: list[str], markup: str = MARKUP) -> None:
    """Remove the pixel block, put every original value back, and demand the input, byte for byte."""
    if markup:
        assert output.count(markup) == 1
    out = output.replace(markup, "") if markup else output
    pieces = TRACKED.split(out)
    literals, indexes = pieces[0::2], [int(i) for i in pieces[1::2]]
    assert indexes == list(range(len(links))), "links are numbered in document order"
    assert original.startswith(literals[0])
    pos = len(literals[0])
    for n, idx in enumerate(indexes):
        nxt = literals[n + 1]
        end = original.find(nxt, pos) if n + 1 < len(indexes) else len(original) - len(nxt)
        assert end >= pos and original[end : end + len(nxt)] == nxt
        raw_value = original[pos:end]
        assert re.sub(r"[\t\n\r]", "", html.unescape(raw_value).strip()) == links[idx]
        pos = end + len(nxt)
    assert pos == len(original)


@pytest.mark.parametrize("path", HTML_FILES, ids=lambda p: p.name)
def test_corpus_template(path: Path) -> None:
    text = path.read_bytes().decode("utf-8", "surrogateescape")
    out, links = rewrite(text)
    expected = live_links(text)
    assert len(links) == len(expected)
    assert [u.rstrip("/") for u in links] == [u.rstrip("/") for u in expected] or sorted(links) == sorted(expected)
    assert [h for h in live_links(out) if not h.startswith(PUBLIC + "/c/")] == []
    undo(text, out, links)
    # the pixel sits right after the <body> start tag (where Gmail's clipping cannot hide it)
    start = re.search(r"<body\b[^>]*>", text, re.IGNORECASE)
    if start is not None:
        assert out[start.end() :].startswith(MARKUP)
        assert out.index(MARKUP) < 102_000
    assert out.encode("utf-8", "surrogateescape").replace(MARKUP.encode(), b"").count(b"\n") == text.count("\n")


def test_corpus_has_links_to_check() -> None:
    total = sum(len(rewrite(p.read_text("utf-8", "surrogateescape"))[1]) for p in HTML_FILES)
    assert total >= 30


@pytest.mark.parametrize(
    ("snippet", "url"),
    [
        ('<a href="https://x.test/a?b=1&amp;c=2">', "https://x.test/a?b=1&c=2"),
        ('<a href="https://x.test/?a=1&copy=2">', "https://x.test/?a=1&copy=2"),
        ('<a href="https://x.test/?a=1&copy;2">', "https://x.test/?a=1©2"),
        ('<a href="https://x.test/&#x41;&#66;">', "https://x.test/AB"),
        ("<A HREF='HTTP://X.test/up'>", "HTTP://X.test/up"),
        ("<a href=https://x.test/unq>", "https://x.test/unq"),
        ('<a title="Prices > 50% off" href="https://x.test/gt">', "https://x.test/gt"),
        ('<a\n  class="btn"\n  href="\n  https://x.test/multi\nline"\n>', "https://x.test/multiline"),
        ('<a href=" https://x.test/a b ">', "https://x.test/a b"),
        ('<area shape="rect" coords="0,0,1,1" href="https://x.test/map">', "https://x.test/map"),
        ('<a href="https://x.test/1" href="https://x.test/2">', "https://x.test/1"),
    ],
)
def test_link_forms(snippet: str, url: str) -> None:
    text = f"<html><body>{snippet}x</a></body></html>"
    out, links = rewrite(text)
    assert links == [url]
    assert f"{PUBLIC}/c/L0x" in out


@pytest.mark.parametrize(
    "snippet",
    [
        '<a href="mailto:a@x.test?subject=hi">',
        '<a href="tel:+3212345">',
        '<a href="#top">',
        '<a href="javascript:void(0)">',
        '<a href="data:text/html,hi">',
        '<a href="sms:123">',
        '<a href="{{action_url}}">',
        '<a href="https://x.test/{{id}}">',
        '<a href="*|UNSUB|*">',
        '<a href="https://x.test/?u=*|EMAIL|*">',
        '<a href="%%unsubscribe%%">',
        '<a href="https://x.test/%7B%7Bname%7D%7D">',
        '<a href="/relative/without/base">',
        '<a href="http://t.example.test/dashboard">',
        "<!-- <a href='https://x.test/commented'> -->",
        "<style>a[href='https://x.test/css'] {}</style>",
        "<script>var s = '<a href=\"https://x.test/js\">';</script>",
        "<textarea><a href='https://x.test/ta'></textarea>",
        '<link href="https://x.test/style.css" rel="stylesheet">',
        '<a name="nohref">',
    ],
)
def test_left_alone(snippet: str) -> None:
    text = f"<html><body>{snippet}x</a></body></html>"
    out, links = rewrite(text)
    assert links == []
    assert out == text.replace("<body>", "<body>" + MARKUP)


def test_outlook_conditional_comments_and_vml() -> None:
    text = (
        "<html><body>"
        '<!--[if mso]><v:roundrect xmlns:v="urn:schemas-microsoft-com:vml" href="https://x.test/vml" '
        'style="height:40px" arcsize="10%"><w:anchorlock/><center>Go</center></v:roundrect><![endif]-->'
        '<!--[if !mso]><!--><a href="https://x.test/web">Go</a><!--<![endif]-->'
        '<!--[if mso | IE]><table><tr><td><a href="https://x.test/ghost">g</a></td></tr></table><![endif]-->'
        "<!-- a plain comment <a href='https://x.test/no'> -->"
        "</body></html>"
    )
    out, links = rewrite(text)
    assert links == ["https://x.test/vml", "https://x.test/web", "https://x.test/ghost"]
    assert f'v:roundrect xmlns:v="urn:schemas-microsoft-com:vml" href="{PUBLIC}/c/L0x"' in out
    assert "https://x.test/no" in out
    undo(text, out, links)


def test_base_href_resolves_relative_links() -> None:
    text = (
        '<html><head><base href="https://shop.test/en/"></head><body>'
        '<a href="sale">s</a><a href="/about">a</a><a href="//cdn.test/x">c</a><a href="#frag">f</a>'
        '<a href="https://other.test/">o</a></body></html>'
    )
    _, links = rewrite(text)
    assert links == [
        "https://shop.test/en/sale",
        "https://shop.test/about",
        "https://cdn.test/x",
        "https://other.test/",
    ]


def test_only_the_first_base_counts() -> None:
    text = '<base href="https://a.test/"><base href="https://b.test/"><a href="x">x</a>'
    assert rewrite(text)[1] == ["https://a.test/x"]


def test_marked_off_links_are_left_and_the_marker_removed() -> None:
    text = (
        '<html><body><a href="https://x.test/keep" data-mailbeacon="off">k</a>'
        "<a data-mailbeacon=OFF href='https://x.test/keep2'>k</a>"
        '<a href="https://x.test/track" data-mailbeacon="on">t</a></body></html>'
    )
    out, links = rewrite(text)
    assert links == ["https://x.test/track"]
    assert "data-mailbeacon" not in out
    assert '<a href="https://x.test/keep">k</a>' in out
    assert "<a href='https://x.test/keep2'>k</a>" in out


def test_pixel_placement_without_body() -> None:
    out, _ = rewrite("<p>hello</p>\n")
    assert out == "<p>hello</p>\n" + MARKUP
    out, _ = rewrite("<html><p>hello</p></html>")
    assert out == "<html><p>hello</p>" + MARKUP + "</html>"
    # a <body> inside a comment, a script or an Outlook conditional comment is not the body's start
    out, _ = rewrite(
        "<html><!-- <body> --><script>x='<body>'</script><!--[if mso]><body x><![endif]--><p>hi</p></html>"
    )
    assert out.endswith("<p>hi</p>" + MARKUP + "</html>")


def test_pixel_goes_right_after_the_body_start_tag() -> None:
    """Gmail clips a message over about 102 KB; the pixel before the cut still loads."""
    big = "<p>" + "x" * 200_000 + "</p>"
    text = f'<!DOCTYPE html><html><head><title>t</title></head><BODY class="b" style="margin:0">{big}</body></html>'
    out, _ = rewrite(text)
    assert out == text.replace('style="margin:0">', 'style="margin:0">' + MARKUP, 1)
    assert out.index(MARKUP) < 200
    # only the first body start tag counts
    out, _ = rewrite("<body><p>a</p><body><p>b</p></body>")
    assert out == "<body>" + MARKUP + "<p>a</p><body><p>b</p></body>"


def test_pixel_and_decoy_markup() -> None:
    assert 'width="1" height="1" alt=""' in MARKUP
    decoy = MARKUP[MARKUP.index("<a ") :]
    assert 'aria-hidden="true"' in decoy and 'tabindex="-1"' in decoy and "display:none" in decoy
    assert decoy.endswith("></a>")  # no text for anyone to read
    assert pixel_markup(None, None) == ""


def test_no_injection_or_rewriting_when_off() -> None:
    text = '<body><a href="https://x.test/">x</a></body>'
    plan = scan_html(text, HtmlOptions(public_url=PUBLIC, clicks=False, inject=False))
    assert plan.links == [] and not plan.changed
    assert render_html(plan, lambda i: "never", "never") == text


def test_unterminated_constructs_do_not_raise() -> None:
    for text in ["<a href='https://x.test/", "<!-- <a href='https://x.test/'>", "<", "<a", "<a href=", "<!--"]:
        plan = scan_html(text, HtmlOptions(public_url=PUBLIC))
        assert render_html(plan, lambda i: "U", "") == text
    plan = scan_html("<a href=https://x.test/ok>x<!-- <a href=https://x.test/no>", HtmlOptions(public_url=PUBLIC))
    assert plan.links == ["https://x.test/ok"]


def test_unescape_attr_follows_the_attribute_rules() -> None:
    assert unescape_attr("a&amp;b") == "a&b"
    assert unescape_attr("?x=1&lang=en") == "?x=1&lang=en"
    assert unescape_attr("?x=1&not=2") == "?x=1&not=2"
    assert unescape_attr("&not ") == "¬ "
    assert unescape_attr("&#0;&#x110000;&#128;") == "\ufffd\ufffd€"
    assert unescape_attr("&unknown;") == "&unknown;"


# -- our own old tracking URLs in quoted content -----------------------------------------------


def resolver(url: str) -> OwnUrl | None:
    m = re.match(re.escape(PUBLIC) + r"/([oc])/(\w+)", url)
    if m is None:
        return None
    kind, token = m.groups()
    if kind == "o" and token.startswith("OPEN"):
        return OwnUrl("open")
    if token.startswith("CLICK"):
        return OwnUrl("click", "https://orig.test/page?a=1&b=2")
    if token.startswith("DECOY"):
        return OwnUrl("decoy")
    if token.startswith("LOST"):
        return OwnUrl("click", None)
    return None


def test_quoted_old_pixels_and_links_are_neutralised() -> None:
    quoted = (
        "<blockquote>"
        f'<a href="{PUBLIC}/c/CLICK1">old</a>'
        f'<img src="{PUBLIC}/o/OPEN1.gif" width="1" height="1" alt="">'
        f'<a href="{PUBLIC}/c/DECOY1" tabindex="-1"></a>'
        f'<img src="https://ci3.googleusercontent.com/meips/ADKq=s0-d-e1-ft#{PUBLIC}/o/OPEN2.gif">'
        f'<a href="https://eur01.safelinks.protection.outlook.com/?url=http%3A%2F%2Ft.example.test%2Fc%2FCLICK2&amp;data=x">s</a>'
        f'<a href="{PUBLIC}/c/LOST1">lost</a>'
        f'<a href="{PUBLIC}/c/FORGED">forged</a>'
        "</blockquote>"
    )
    text = f"<html><body><p>new <a href='https://new.test/'>n</a></p>{quoted}</body></html>"
    plan = scan_html(text, HtmlOptions(public_url=PUBLIC, resolve=resolver))
    out = render_html(plan, lambda i: f"{PUBLIC}/c/L{i}x", MARKUP)
    assert plan.links == ["https://new.test/"]
    assert f"{PUBLIC}/o/OPEN" not in out
    assert out.count(NEUTRAL_IMAGE) == 2
    assert out.count('href="https://orig.test/page?a=1&amp;b=2"') == 2
    assert f"{PUBLIC}/c/DECOY1" not in out and '<a href="#" tabindex="-1"></a>' in out
    assert f"{PUBLIC}/c/LOST1" in out and f"{PUBLIC}/c/FORGED" in out  # unknown: left as they were
    assert plan.neutralised == 3 and plan.restored == 2
    assert any(n.startswith("quoted-pixel-neutralised") for n in plan.notes)


def test_quoted_urls_without_a_resolver_are_links_to_the_tracker() -> None:
    text = f'<body><a href="{PUBLIC}/c/CLICK1">old</a><img src="{PUBLIC}/o/OPEN1.gif"></body>'
    out, links = rewrite(text)
    assert links == [] and out == text.replace("<body>", "<body>" + MARKUP)
