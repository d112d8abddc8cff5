"""Generated HTML and MIME never make rewriting or instrument() raise: it instruments or says why."""

from __future__ import annotations

import re
from email.message import EmailMessage

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from conftest import CORPUS
from mailbeacon.instrumentation import instrument
from mailbeacon.passwords import hash_password
from mailbeacon.rewrite import HtmlOptions, Options, prepare, render, render_html, scan_html, untouched
from mailbeacon.runtime import Runtime
from test_rewrite_html import MARKUP, PUBLIC, TRACKED, undo
from test_rewrite_mime import FakeUrls, check_message

URLS = [
    "https://x.test/a",
    "http://X.test/b?c=1&amp;d=2",
    "https://x.test/&#38;e&#x26;f",
    " https://x.test/space ",
    "mailto:a@b.test",
    "#top",
    "/relative",
    "{{url}}",
    "*|UNSUB|*",
    "javascript:void(0)",
    f"{PUBLIC}/c/Old",
    "https://x.test/>gt",
    "tel:1",
    "",
]
TAGS = ["a", "A", "area", "img", "v:roundrect", "div", "td", "p", "span", "table"]
ATTRS = ["href", "HREF", "src", "class", "title", "style", "target"]
RAW = ["<style>", "</style>", "<script>", "</script>", "<textarea>", "</textarea>", "<!--", "-->", "<![endif]-->"]
SPECIAL = [
    "<!--[if mso]>",
    "<![endif]-->",
    "<!--[if !mso]><!-->",
    "<!--<![endif]-->",
    "<!DOCTYPE html>",
    "</body>",
    "</html>",
    "<body>",
]


@st.composite
def attribute(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(ATTRS))
    value = draw(st.sampled_from(URLS) | st.text(alphabet="ab &;#<>=/'\"", max_size=6))
    quote = draw(st.sampled_from(['"', "'", ""]))
    if quote and quote in value:
        value = value.replace(quote, "")
    if not quote:
        value = re.sub(r"[\s>\"']", "", value)
    sep = draw(st.sampled_from([" ", "\n  ", " /", "\t"]))
    return f"{sep}{name}={quote}{value}{quote}"


@st.composite
def tag(draw: st.DrawFn, tags: list[str] = TAGS) -> str:
    name = draw(st.sampled_from(tags))
    attrs = "".join(draw(st.lists(attribute(), max_size=3)))
    end = draw(st.sampled_from([">", " />", ">"]))
    return f"<{name}{attrs}{end}"


HTML_PIECES = st.one_of(
    tag(),
    st.sampled_from(RAW + SPECIAL + ["</a>", "</td>", "&amp;", "&nbsp;", "<", ">", "é", "\r\n", "\n"]),
    st.text(max_size=8),
)
HTML = st.lists(HTML_PIECES, max_size=30).map("".join)
# with <base href>, link targets are resolved: the round trip then needs the base, so only here
HTML_ANY = st.lists(st.one_of(HTML_PIECES, tag([*TAGS, "base"])), max_size=30).map("".join)


@given(HTML)
@settings(max_examples=400, deadline=None)
def test_generated_html_round_trips(text: str) -> None:
    assume("data-mailbeacon" not in text)
    plan = scan_html(text, HtmlOptions(public_url=PUBLIC))
    out = render_html(plan, lambda i: f"{PUBLIC}/c/L{i}x", MARKUP)
    assume(not TRACKED.search(text) and MARKUP not in text)
    undo(text, out, plan.links)
    off = scan_html(text, HtmlOptions(public_url=PUBLIC, clicks=False, inject=False))
    assert render_html(off, lambda i: "x", "y") == text


CHARSETS = [
    "utf-8",
    "iso-8859-1",
    "windows-1252",
    "iso-8859-2",
    "shift_jis",
    "euc-kr",
    "gb18030",
    "big5",
    "iso-2022-jp",
    "koi8-r",
    "us-ascii",
]
CTES = ["quoted-printable", "base64", "8bit", "7bit"]


@st.composite
def leaf(draw: st.DrawFn) -> EmailMessage:
    kind = draw(st.sampled_from(["html", "html", "plain", "image", "attachment"]))
    part = EmailMessage()
    if kind == "image":
        part.set_content(draw(st.binary(max_size=200)), maintype="image", subtype="png", cid="<img@x>")
    elif kind == "attachment":
        part.set_content(draw(st.binary(max_size=200)), maintype="application", subtype="pdf", filename="a.pdf")
    else:
        body = draw(HTML_ANY) if kind == "html" else draw(st.text(max_size=80))
        charset, cte = draw(st.sampled_from(CHARSETS)), draw(st.sampled_from(CTES))
        try:
            body.encode(charset)
            part.set_content(body, subtype=kind, charset=charset, cte=cte)
        except (UnicodeError, ValueError, LookupError):
            assume(False)
    return part


@st.composite
def mime(draw: st.DrawFn, depth: int = 0) -> EmailMessage:
    if depth >= 2 or draw(st.booleans()):
        return draw(leaf())
    container = EmailMessage()
    container.make_mixed()
    container.set_type("multipart/" + draw(st.sampled_from(["mixed", "alternative", "related"])))
    for child in draw(st.lists(mime(depth + 1), min_size=1, max_size=3)):
        container.attach(child)
    return container


def accounts(rt: Runtime) -> None:
    if rt.store.is_empty():
        ws = rt.store.create_workspace("acme", ["acme.test"], rt.clock())
        rt.store.create_user(ws.id, "alice@acme.test", hash_password("pw"), rt.clock())


@given(msg=mime(), bcc=st.booleans(), track=st.sampled_from([None, "off", "opens", "clicks", "all"]))
@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
def test_generated_mime_instruments_or_says_why(
    runtime: Runtime, msg: EmailMessage, bcc: bool, track: str | None
) -> None:
    accounts(runtime)
    msg["From"] = "alice@acme.test"
    msg["To"] = "bob@client.test"
    if bcc:
        msg["Bcc"] = "hidden@x.test"
    try:
        raw = msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))
    except Exception:
        assume(False)
    result = instrument(runtime, raw, sender="alice@acme.test", track=track)
    assert result.failure is None, result.failure  # well-formed mail must never need the fallback
    assert result.instrumented or result.notes, "not instrumented and no reason given"
    for copy in result.copies:
        assert b"hidden@x.test" not in copy.data.split(b"\r\n\r\n", 1)[0]
    p = prepare(
        raw, Options(public_url=PUBLIC, message_id="<n@x>", opens=result.tracking.opens, clicks=result.tracking.clicks)
    )
    if p.instrumented and not p.edited:
        check_message(raw, p, render(p, FakeUrls()), clicks=result.tracking.clicks)


SAMPLES = [p.read_bytes() for p in sorted((CORPUS / "eml").rglob("*.eml"))[:40]]


@given(data=st.data())
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
def test_damaged_mail_never_raises(runtime: Runtime, data: st.DataObject) -> None:
    accounts(runtime)
    raw = bytearray(data.draw(st.sampled_from(SAMPLES)))
    for _ in range(data.draw(st.integers(0, 6))):
        pos = data.draw(st.integers(0, max(0, len(raw) - 1)))
        action = data.draw(st.sampled_from(["cut", "insert", "flip", "truncate"]))
        if action == "cut":
            del raw[pos : pos + data.draw(st.integers(1, 50))]
        elif action == "insert":
            raw[pos:pos] = data.draw(
                st.sampled_from([b"\r\n", b"--", b"\n\n", b"<a href='https://z.test/'>", b"=", b"\xff\xfe", b"\r"])
            )
        elif action == "flip" and raw:
            raw[pos] = data.draw(st.integers(0, 255))
        else:
            del raw[pos:]
    result = instrument(runtime, bytes(raw), sender="alice@acme.test", recipients=["bob@client.test"])
    assert result.instrumented or result.failure or result.notes
    if result.failure is not None:
        assert result.copies[0].data == untouched(bytes(raw), result.rfc_message_id)
