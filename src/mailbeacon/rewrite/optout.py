"""The sender's own off switches, written in the message by any mail client. Pure.

- `[notrack]` anywhere in the Subject: nothing in this email is tracked (the per-email switch,
  like the `X-Mailbeacon-Track: off` header that desktop clients cannot set). The marker is
  removed from the Subject that recipients see, with one space next to it; every other byte of
  the message stays as written.
- `#notrack` at the end of a link's URL: that link is not tracked; the marker is removed
  (see `html.py`; the attribute `data-mailbeacon="off"` does the same for HTML authors).

Both are matched without regard to case.
"""

from __future__ import annotations

import re

from .mime import parse_node

SUBJECT_MARKER = "[notrack]"
LINK_MARKER = "#notrack"
_SUBJECT = re.compile(rb"[ \t]?\[notrack\][ \t]?", re.IGNORECASE)


def strip_subject_marker(raw: bytes) -> tuple[bytes, bool]:
    """(the message with `[notrack]` removed from its first Subject field, whether it was there).

    Only a marker written as plain text in the field is removed (a Subject in RFC 2047 encoded
    words that hides it is left as it is); `subject_has_marker` tells the decoded text apart.
    """
    try:
        root = parse_node(raw, 0, len(raw), recurse=False)
    except Exception:
        return raw, False
    field = next((f for f in root.fields if f.name == "subject"), None)
    if field is None:
        return raw, False
    value_start = raw.index(b":", field.start, field.end) + 1
    m = _SUBJECT.search(raw, value_start, field.end)
    if m is None:
        return raw, False
    matched = m.group(0)
    blank = (b" ", b"\t")
    keep = matched[:1] if matched[:1] in blank and matched[-1:] in blank else b""  # "a [notrack] b" -> "a b"
    return raw[: m.start()] + keep + raw[m.end() :], True


def subject_has_marker(subject: str) -> bool:
    return SUBJECT_MARKER in subject.lower()


def strip_link_marker(url: str) -> str | None:
    """The URL without a trailing `#notrack`, or None when it has none."""
    if url.lower().endswith(LINK_MARKER):
        return url[: -len(LINK_MARKER)]
    return None
