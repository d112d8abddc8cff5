"""URLs in text/plain parts (optional, setting `rewrite_text`, default off). Pure.

A tracked URL replaces the visible URL in plain text, which readers see; that is why this is off by
default. Our own tracking URLs and template placeholders are left as they are.
"""

from __future__ import annotations

import re

from .plan import HtmlPlan, LinkSlot, Piece
from .urls import is_placeholder

_URL = re.compile(r"https?://[^\s<>\"'`\x00-\x1f\x7f]+", re.IGNORECASE)
_TRAILING = ".,;:!?'\"*_~"
_CLOSERS = {")": "(", "]": "[", "}": "{"}
_PGP = ("-----BEGIN PGP SIGNED MESSAGE-----", "-----BEGIN PGP MESSAGE-----")


def _trim(url: str) -> str:
    """Drop punctuation that ends a sentence rather than the URL, and unbalanced closers."""
    while url:
        last = url[-1]
        unbalanced = last in _CLOSERS and url.count(last) > url.count(_CLOSERS[last])
        if last not in _TRAILING and not unbalanced:
            break
        url = url[:-1]
    return url


def signed_text(text: str) -> bool:
    return any(marker in text for marker in _PGP)


def scan_text(text: str, public_url: str) -> HtmlPlan:
    """Find the http(s) URLs of a plain-text body (each occurrence is its own link)."""
    own = public_url.rstrip("/").lower() + "/"
    pieces: list[Piece] = []
    links: list[str] = []
    pos = 0
    for m in _URL.finditer(text):
        url = _trim(m.group(0))
        if len(url) <= len("https://") or url.lower().startswith(own) or is_placeholder(url):
            continue
        if any(0xD800 <= ord(c) <= 0xDFFF for c in url):
            continue
        if m.start() > pos:
            pieces.append(text[pos : m.start()])
        pieces.append(LinkSlot(len(links), "raw"))
        links.append(url)
        pos = m.start() + len(url)
    pieces.append(text[pos:])
    return HtmlPlan(pieces=pieces, links=links)
