"""How big a copy's HTML is, as sent: Gmail clips a message whose HTML is over about 102 KB and
hides the rest behind "View entire message". Pure."""

from __future__ import annotations

from .mime import Node, parse_node

#: where Gmail cuts (its help and every measurement since: 102 KB of HTML)
GMAIL_CLIP_BYTES = 102 * 1024


def html_bytes(raw: bytes) -> int:
    """Bytes of the text/html bodies of a message as they go out (transfer-encoded); attachments
    and attached messages do not count. 0 when there is none or the message cannot be read."""
    try:
        root = parse_node(raw, 0, len(raw))
    except Exception:
        return 0
    return _html(root)


def _html(node: Node) -> int:
    if node.children:
        return sum(_html(c) for c in node.children)
    if node.content_type != "text/html":
        return 0
    disposition = str(node.headers.get("content-disposition", "")).strip().lower()
    if disposition.startswith("attachment"):
        return 0
    return node.end - node.body_start


def clipped_by_gmail(size: int) -> bool:
    return size > GMAIL_CLIP_BYTES
