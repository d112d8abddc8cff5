"""Gmail's clipping limit, and how a sent message is measured against it. Pure.

Gmail shows only the start of an email whose HTML is larger than about 102 KB, with a
"[Message clipped] View entire message" link; what comes after the cut - often the tracking
pixel - is not loaded until the reader clicks that link. Gmail does not publish how it counts;
the common guidance (and measurements, which land between 102 and 105 KB) is the size of the HTML
as written, after transfer decoding, without images or attachments. `measure` counts that, on the
copy that was actually sent (tracking links and pixel included), and the whole message too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .rewrite.mime import decode_body, parse_node, split_body_eol, transfer_encoding, walk

#: the size above which Gmail clips an email's HTML (102 KB, as Gmail's help and senders quote it)
GMAIL_CLIP_BYTES = 102 * 1024


@dataclass(frozen=True, slots=True)
class MessageSize:
    """`message`: bytes of the whole message as sent; `html`: bytes of its HTML parts, decoded."""

    message: int
    html: int

    @property
    def clipped_by_gmail(self) -> bool:
        return self.html > GMAIL_CLIP_BYTES

    def as_json(self) -> dict[str, int]:
        return {"message": self.message, "html": self.html}

    @classmethod
    def from_outcome(cls, outcome: Mapping[str, object]) -> MessageSize | None:
        """The size stored in a message's `outcome` (None for messages recorded before it was)."""
        size = outcome.get("size")
        if not isinstance(size, Mapping):
            return None
        message, html = size.get("message"), size.get("html")
        if not isinstance(message, int) or not isinstance(html, int):
            return None
        return cls(message, html)


def measure(data: bytes) -> MessageSize:
    """The size of one copy of a message, as sent. Never raises (a part it cannot decode counts raw)."""
    html = 0
    try:
        root = parse_node(data, 0, len(data))
        for node in walk(root):
            if node.children or node.content_type != "text/html":
                continue
            disposition = str(node.headers.get("content-disposition", "")).split(";", 1)[0].strip().lower()
            if disposition == "attachment":
                continue
            body, _ = split_body_eol(data[node.body_start : node.end], node.in_multipart)
            decoded = decode_body(body, transfer_encoding(node.headers))
            html += len(decoded if decoded is not None else body)
    except Exception:
        html = 0
    return MessageSize(len(data), html)
