"""URLs in HTML attributes, read and written the way browsers do. Pure.

Reading: character references decoded with the attribute-value rules of the HTML5 tokenizer,
outer whitespace stripped, tabs and newlines removed (the WHATWG URL parser does the same).
Writing: escaped for the attribute's quoting. Also: template placeholders, and our own tracking
URLs as they come back quoted in replies (possibly wrapped by an image proxy or link protection).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from html.entities import html5 as _ENTITIES
from typing import Literal
from urllib.parse import parse_qsl, urlsplit

WS = "\t\n\f\r "
SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_PLACEHOLDER = re.compile(r"\{\{|\{%|\*\||\|\*|%%|\$\{|<%|\[\[|%7[bB]%7[bB]|%7[bB]%25|%recipient\.")
_STRIP = re.compile(r"[\t\n\r]")
UNSTORABLE = re.compile("[\ud800-\udfff\x00]")
_CHARREF = re.compile(r"&(?:#([0-9]+);?|#[xX]([0-9a-fA-F]+);?|([A-Za-z][A-Za-z0-9]*)(;?))")

OwnKind = Literal["open", "click", "decoy"]


@dataclass(frozen=True, slots=True)
class OwnUrl:
    """What one of our own tracking URLs (found in the message being sent) stands for.

    `original` is the URL a click token redirects to (None when unknown: the link is then left).
    """

    kind: OwnKind
    original: str | None = None


#: given an absolute URL under the public URL, say whether it is one of ours (None: it is not)
Resolver = Callable[[str], OwnUrl | None]


def unescape_attr(value: str) -> str:
    """Decode character references as the HTML5 tokenizer does inside an attribute value.

    Unlike `html.unescape`, a named reference without `;` followed by `=` or a letter/digit stays
    literal (`?a=1&copy=2` keeps `&copy`), as browsers do in attributes.
    """
    if "&" not in value:
        return value

    def repl(m: re.Match[str]) -> str:
        if m.group(1) is not None or m.group(2) is not None:
            return html.unescape(m.group(0))
        name, semi = m.group(3), m.group(4)
        if semi and name + ";" in _ENTITIES:
            return _ENTITIES[name + ";"]
        if not semi and name in _ENTITIES:
            nxt = value[m.end() : m.end() + 1]
            if nxt != "=":
                return _ENTITIES[name]
        return m.group(0)

    return _CHARREF.sub(repl, value)


def escape_attr(value: str, quote: str) -> str:
    """Text for an attribute value quoted with `quote` ('"', "'", '' for unquoted, "raw" for none)."""
    if quote == "raw":
        return value
    value = value.replace("&", "&amp;")
    if quote == '"':
        return value.replace('"', "&quot;")
    if quote == "'":
        return value.replace("'", "&#39;")
    return value.replace('"', "&quot;").replace("'", "&#39;").replace("<", "&lt;").replace(">", "&gt;")


def needs_quotes(value: str) -> bool:
    return not value or any(c in value for c in "\t\n\f\r \"'=<>`")


def clean_url(decoded: str) -> str:
    """The URL a browser would use: outer ASCII whitespace stripped, tabs and newlines removed."""
    return _STRIP.sub("", decoded.strip(WS))


def is_placeholder(value: str) -> bool:
    """A template placeholder (`{{x}}`, `*|X|*`, `%%x%%`, `${x}` ...): not a final URL."""
    return _PLACEHOLDER.search(value) is not None


def http_scheme(url: str) -> bool:
    m = SCHEME.match(url)
    return m is not None and m.group(1).lower() in ("http", "https")


def wrapped_urls(url: str) -> list[str]:
    """The URL and URLs carried inside it: after `#` (Gmail's image proxy keeps the original
    there) and in query values (link protection such as Safe Links: `?url=...`)."""
    candidates = [url]
    if "#" in url:
        candidates.append(url.split("#", 1)[1])
    if "?" in url:
        try:
            candidates.extend(v for _, v in parse_qsl(urlsplit(url).query) if http_scheme(v))
        except ValueError:
            pass
    return candidates
