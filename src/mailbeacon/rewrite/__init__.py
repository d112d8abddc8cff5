"""Byte-faithful instrumentation of outgoing mail, per recipient. Pure: no I/O, no store.

    prepared = prepare(raw_message, Options(public_url=..., resolve=...))   # once per message
    copy = render(prepared, urls)                                            # once per recipient

`prepared.links` lists the original URL of every tracked link occurrence (index = link index in
the click tokens); `urls` gives one recipient's click, pixel and decoy URLs. See
`docs/outgoing-mail.md` for what is rewritten and what is left alone.
"""

from __future__ import annotations

from .html import NEUTRAL_IMAGE, HtmlOptions, scan_html
from .message import Options, Prepared, Urls, prepare, render, root_headers, untouched
from .optout import LINK_MARKER, SUBJECT_MARKER, strip_subject_marker, subject_has_marker
from .plan import HtmlPlan, pixel_markup, render_html
from .size import GMAIL_CLIP_BYTES, clipped_by_gmail, html_bytes
from .urls import OwnUrl, Resolver, unescape_attr

__all__ = [
    "GMAIL_CLIP_BYTES",
    "LINK_MARKER",
    "NEUTRAL_IMAGE",
    "SUBJECT_MARKER",
    "HtmlOptions",
    "HtmlPlan",
    "Options",
    "OwnUrl",
    "Prepared",
    "Resolver",
    "Urls",
    "clipped_by_gmail",
    "html_bytes",
    "pixel_markup",
    "prepare",
    "render",
    "render_html",
    "root_headers",
    "scan_html",
    "strip_subject_marker",
    "subject_has_marker",
    "unescape_attr",
    "untouched",
]
