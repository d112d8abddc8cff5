"""The HTML span scanner: where the links are, where the pixel goes. Pure; no parsing into a tree.

The scanner walks the text once, token by token, following the HTML5 tokenizer's rules for what
matters here (tags with quoted attributes that may contain `>`, comments, raw-text elements such as
`<style>`), and records *edits*: spans of the input to replace. Everything between edits is kept
as written, so the output is byte-identical to the input outside the rewritten attribute values,
the injected pixel and decoy link, and the few documented neutralisations.

What it rewrites (a "link"): the `href` of `<a>`, `<area>` and VML elements (`<v:roundrect>`,
`<v:rect>` ...), also inside Outlook conditional comments (`<!--[if mso]> ... <![endif]-->`),
whose URL - after decoding character references the way a browser does in an attribute, and
resolving against `<base href>` - is http(s). Left alone: other schemes (`mailto:`, `tel:`,
`javascript:`, `data:` ...), `#fragments`, relative URLs without a base, template placeholders,
links to the tracker itself, links marked `data-mailbeacon="off"` (the attribute is removed) or
ending in `#notrack` (the marker is removed).

Our own tracking URLs from an earlier message (quoted in a reply or forward) are recognised through
a resolver given by the caller: old pixels get a harmless `data:` image instead, old tracked links
get their original URL back, old decoy links become `#`.

A plan is computed once per message; `render_html(plan, ...)` makes one recipient's copy by joining
the kept text with that recipient's URLs (the expensive part is done once).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urljoin

from .optout import LINK_MARKER, strip_link_marker
from .plan import PIXEL, HtmlPlan, LinkSlot, Piece
from .urls import (
    SCHEME,
    UNSTORABLE,
    WS,
    OwnUrl,
    Resolver,
    clean_url,
    escape_attr,
    http_scheme,
    is_placeholder,
    needs_quotes,
    unescape_attr,
    wrapped_urls,
)

# -- tokenizer ----------------------------------------------------------------------------------

# An attribute list, exactly as the HTML5 tokenizer splits it. Atomic groups and possessive
# quantifiers keep it linear on malformed input (no backtracking).
_ATTRS = (
    r"(?:[\t\n\f\r /]*+(?>[^\t\n\f\r />][^\t\n\f\r />=]*+)"
    r"(?>[\t\n\f\r ]*+=[\t\n\f\r ]*+(?>\"[^\"]*+\"|'[^']*+'|(?![\"'])[^\t\n\f\r >]*+))?+)*+"
    r"[\t\n\f\r /]*+"
)
_TOKEN = re.compile(
    r"<(?:"
    r"(?P<c>!--)"
    r"|(?P<s>[A-Za-z][^\t\n\f\r />]*+)(?P<sa>" + _ATTRS + r")>"
    r"|/(?P<e>[A-Za-z][^\t\n\f\r />]*+)" + _ATTRS + r">"
    r"|(?P<b>[!?/])[^>]*+>"
    r")"
)
_NAME_END = r"(?=[\t\n\f\r />])"
#: tags the scanner acts on; every other tag is skipped inside one regex match, quotes and all
_INTERESTING = (
    r"!--|(?i:a|area|img|base|body|v:[^\t\n\f\r />]*+|script|style|xmp|iframe|noembed|noframes|textarea|title|plaintext)"
    + _NAME_END
    + r"|/(?i:body|html)"
    + _NAME_END
)
_SKIP = re.compile(
    r"(?:[^<]++|<(?!" + _INTERESTING + r")"
    r"(?:[A-Za-z][^\t\n\f\r />]*+" + _ATTRS + r">|/[A-Za-z][^\t\n\f\r />]*+" + _ATTRS + r">|[!?/][^>]*+>)?+)*+"
)
_ATTR = re.compile(
    r"[\t\n\f\r /]*+(?P<n>[^\t\n\f\r />][^\t\n\f\r />=]*+)"
    r"(?:[\t\n\f\r ]*+=[\t\n\f\r ]*+(?:\"(?P<dq>[^\"]*+)\"|'(?P<sq>[^']*+)'|(?P<uq>(?![\"'])[^\t\n\f\r >]*+)))?+"
)
_COMMENT_END = re.compile(r"--!?>")
_CONDITIONAL = re.compile(r"\[if\b[^\]]*\]>", re.IGNORECASE)
_RAWTEXT = frozenset({"script", "style", "xmp", "iframe", "noembed", "noframes", "textarea", "title"})
_RAWTEXT_END = {name: re.compile(r"</(?i:" + name + r")(?=[\t\n\f\r />])") for name in _RAWTEXT}
_LINK_TAGS = frozenset({"a", "area"})

#: what an old pixel of ours becomes: a transparent 1x1 GIF that loads from nowhere
NEUTRAL_IMAGE = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"
_SKIP_VALUES = frozenset({"off", "false", "no", "skip"})


@dataclass(frozen=True, slots=True)
class HtmlOptions:
    """`clicks`: rewrite links; `inject`: make a slot for the pixel/decoy markup."""

    public_url: str
    clicks: bool = True
    inject: bool = True
    resolve: Resolver | None = None


@dataclass(slots=True)
class _Scan:
    text: str
    opts: HtmlOptions
    own_prefix: str
    edits: list[tuple[int, int, Piece]] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    notes: dict[str, int] = field(default_factory=dict)
    base: str | None = None
    base_seen: bool = False
    body_start: int = -1
    body_end: int = -1
    html_end: int = -1
    stopped: bool = False
    neutralised: int = 0
    restored: int = 0

    def note(self, code: str) -> None:
        self.notes[code] = self.notes.get(code, 0) + 1


def scan_html(text: str, opts: HtmlOptions) -> HtmlPlan:
    """Find what to rewrite in one HTML text. Never raises on any input text."""
    st = _Scan(text=text, opts=opts, own_prefix=opts.public_url.rstrip("/").lower() + "/")
    _scan_range(st, 0, len(text), top=True)
    if opts.inject:
        at = _pixel_place(st)
        st.edits.append((at, at, PIXEL))
    st.edits.sort(key=lambda e: (e[0], e[1]))
    pieces: list[Piece] = []
    pos = 0
    for start, end, rep in st.edits:
        if start < pos:  # overlapping edit: cannot happen with a well-formed scan; keep the text
            continue
        if start > pos:
            pieces.append(text[pos:start])
        pieces.append(rep)
        pos = end
    if pos < len(text) or not pieces:
        pieces.append(text[pos:])
    merged: list[Piece] = []
    for p in pieces:
        if type(p) is str and merged and type(merged[-1]) is str:
            merged[-1] = merged[-1] + p
        else:
            merged.append(p)
    notes = [f"{code} x{n}" if n > 1 else code for code, n in st.notes.items()]
    return HtmlPlan(
        pieces=merged,
        links=st.links,
        notes=notes,
        inject=opts.inject,
        edited=any(type(rep) is str for _, _, rep in st.edits),
        neutralised=st.neutralised,
        restored=st.restored,
    )


def _pixel_place(st: _Scan) -> int:
    """Right after the `<body>` start tag, so that Gmail, which clips messages over about 102 KB and
    hides the rest, still loads it; without one, before `</body>`, before `</html>`, or at the end."""
    if st.body_start >= 0:
        return st.body_start
    return st.body_end if st.body_end >= 0 else st.html_end if st.html_end >= 0 else len(st.text)


def _scan_range(st: _Scan, pos: int, end: int, *, top: bool) -> None:
    text = st.text
    skip, token = _SKIP.match, _TOKEN.match
    while not st.stopped:
        skipped = skip(text, pos, end)  # always matches (possibly the empty string)
        pos = skipped.end() if skipped is not None else pos
        if pos >= end:
            return
        m = token(text, pos, end)
        if m is None:  # a "<" that starts nothing (e.g. a tag cut off by the end)
            pos += 1
            continue
        if m.group("c") is not None:
            pos = _comment(st, pos, end, top=top)
            continue
        pos = m.end()
        name = m.group("s")
        if name is not None:
            lname = name.lower()
            if lname in _LINK_TAGS or lname.startswith("v:"):
                _link_tag(st, m, lname)
            elif lname == "img":
                _img_tag(st, m)
            elif lname == "base":
                _base_tag(st, m)
            elif lname == "body":
                if top and st.body_start < 0:
                    st.body_start = m.end()
            elif lname in _RAWTEXT:
                close = _RAWTEXT_END[lname].search(text, pos, end)
                if close is None:
                    return  # raw text runs to the end
                pos = close.start()
            elif lname == "plaintext":
                return
            continue
        ename = m.group("e")
        if ename is not None and top:
            lname = ename.lower()
            if lname == "body":
                st.body_end = m.start()
            elif lname == "html":
                st.html_end = m.start()


def _comment(st: _Scan, start: int, end: int, *, top: bool) -> int:
    """Skip a comment; scan the inside of an Outlook conditional comment. Returns where to go on."""
    text = st.text
    p = start + 4
    if text.startswith(">", p, end):
        return p + 1
    if text.startswith("->", p, end):
        return p + 2
    m = _COMMENT_END.search(text, p, end)
    if m is None:
        st.stopped = True  # an unterminated comment runs to the end: nothing after it renders
        return end
    close, close_end = m.start(), m.end()
    cond = _CONDITIONAL.match(text, p, close)
    if cond is not None:
        inner_end = text.rfind("<![endif]", cond.end(), close)
        _scan_range(st, cond.end(), inner_end if inner_end >= 0 else close, top=False)
        st.stopped = False
    return close_end


@dataclass(frozen=True, slots=True)
class _Attr:
    name: str  # lower case
    start: int  # where the name starts
    end: int  # where the whole attribute ends (after a closing quote)
    vs: int  # value start
    ve: int  # value end
    quote: str  # '"', "'", "" (unquoted) or "none" (no value)


def _attrs(text: str, start: int, end: int) -> dict[str, _Attr]:
    """The attributes of a tag by lower-case name; the first of a name wins, as in HTML."""
    out: dict[str, _Attr] = {}
    for m in _ATTR.finditer(text, start, end):  # the span is a valid attribute list: no gaps
        name = m.group("n").lower()
        if name in out:
            continue
        for grp, quote in (("dq", '"'), ("sq", "'"), ("uq", "")):
            if m.group(grp) is not None:
                out[name] = _Attr(name, m.start("n"), m.end(), m.start(grp), m.end(grp), quote)
                break
        else:
            out[name] = _Attr(name, m.start("n"), m.end(), m.end(), m.end(), "none")
    return out


def _absolute(st: _Scan, url: str) -> str | None:
    """The absolute http(s) URL a link goes to, or None when it is not one to track."""
    if not url or url.startswith("#"):
        return None
    m = SCHEME.match(url)
    if m is not None:
        return url if m.group(1).lower() in ("http", "https") else None
    if st.base is None:
        st.note("relative-link-left")
        return None
    try:
        joined = urljoin(st.base, url)
    except ValueError:
        return None
    return joined if http_scheme(joined) else None


def _own(st: _Scan, url: str) -> tuple[bool, OwnUrl | None]:
    """Is this URL (or a URL wrapped inside it) ours? Returns (under our public URL, what it is)."""
    for cand in wrapped_urls(url):
        if cand.lower().startswith(st.own_prefix):
            resolve = st.opts.resolve
            return True, resolve(cand) if resolve is not None else None
    return False, None


def _link_tag(st: _Scan, m: re.Match[str], lname: str) -> None:
    text = st.text
    attrs = _attrs(text, m.start("sa"), m.end("sa"))
    href = attrs.get("href")
    marker = attrs.get("data-mailbeacon")
    skip = False
    if marker is not None:
        skip = unescape_attr(text[marker.vs : marker.ve]).strip(WS).lower() in _SKIP_VALUES
        start = marker.start
        while start > m.start("sa") and text[start - 1] in WS:
            start -= 1
        st.edits.append((start, marker.end, ""))  # the attribute and the whitespace before it
        if skip:
            st.note("link-marked-off")
    if href is None or href.quote == "none":
        return
    vs, ve, quote = href.vs, href.ve, href.quote
    raw = text[vs:ve]
    if not raw:
        return
    url = clean_url(unescape_attr(raw))
    unmarked = strip_link_marker(url)
    if unmarked:  # "...#notrack": not tracked, and the marker goes (a bare "#notrack" is a fragment)
        written = raw.rstrip(WS)
        if written.lower().endswith(LINK_MARKER):
            st.edits.append((vs + len(written) - len(LINK_MARKER), vs + len(written), ""))
        else:  # the marker was written with character references: write the URL again without it
            _replace_value(st, vs, ve, quote, unmarked)
        st.note("link-marked-off")
        return
    if is_placeholder(raw) or is_placeholder(url):
        st.note("placeholder-link-left")
        return
    absolute = _absolute(st, url)
    if absolute is None:
        return
    ours, own = _own(st, absolute)
    if ours:
        if own is None:
            return  # a link to the tracker itself (dashboard ...) or a token we cannot verify
        if own.kind == "click" and own.original:
            _replace_value(st, vs, ve, quote, own.original)
            st.restored += 1
            st.note("quoted-link-restored")
        elif own.kind == "decoy":
            _replace_value(st, vs, ve, quote, "#")
            st.neutralised += 1
            st.note("quoted-decoy-neutralised")
        elif own.kind == "click":
            st.note("quoted-link-unknown")
        return
    if skip or not st.opts.clicks:
        return
    if UNSTORABLE.search(absolute):
        st.note("link-with-undecodable-bytes-left")
        return
    st.edits.append((vs, ve, LinkSlot(len(st.links), quote)))
    st.links.append(absolute)


def _img_tag(st: _Scan, m: re.Match[str]) -> None:
    text = st.text
    if "src" not in text[m.start("sa") : m.end("sa")].lower():
        return
    src = _attrs(text, m.start("sa"), m.end("sa")).get("src")
    if src is None or src.quote == "none":
        return
    vs, ve, quote = src.vs, src.ve, src.quote
    url = clean_url(unescape_attr(text[vs:ve]))
    absolute = _absolute(st, url)
    if absolute is None:
        return
    ours, own = _own(st, absolute)
    if ours and own is not None and own.kind == "open":
        _replace_value(st, vs, ve, quote, NEUTRAL_IMAGE)
        st.neutralised += 1
        st.note("quoted-pixel-neutralised")


def _base_tag(st: _Scan, m: re.Match[str]) -> None:
    if st.base_seen:
        return
    text = st.text
    href = _attrs(text, m.start("sa"), m.end("sa")).get("href")
    if href is None or href.quote == "none":
        return
    st.base_seen = True  # the first <base href> is the document's base, even if unusable
    url = clean_url(unescape_attr(text[href.vs : href.ve]))
    if http_scheme(url):
        st.base = url


def _replace_value(st: _Scan, vs: int, ve: int, quote: str, value: str) -> None:
    if quote == "" and needs_quotes(value):
        st.edits.append((vs, ve, '"' + escape_attr(value, '"') + '"'))
    else:
        st.edits.append((vs, ve, escape_attr(value, quote)))
