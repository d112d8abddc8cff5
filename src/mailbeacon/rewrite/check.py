"""The self-check: two MIME parsers must agree on a rendered copy before any copy is sent. Pure."""

from __future__ import annotations

import email
from email.message import Message
from email.policy import compat32

from .mime import Node, decode_body, split_body_eol, transfer_encoding


def compare(
    raw: bytes,
    root: Node,
    out: bytes,
    texts: list[bytes],
    *,
    message_id: str,
    remove_fields: frozenset[str],
    rewritten: set[int],
) -> str | None:
    """Parse `out` (a copy of `raw`) with Python's email package and compare it with our tree of `raw`.

    The same parts in the same order, every part not rewritten with the same body, every
    rewritten part (in order) decoding to exactly `texts`, the same top-level header fields apart
    from the promised edits. None when all is as intended, else what differs.
    """
    after = email.message_from_bytes(out, policy=compat32)
    skip = set(remove_fields) | {"message-id", "content-transfer-encoding", "content-type", "mime-version"}
    if [(k.lower(), v) for k, v in root.headers.items() if k.lower() not in skip] != [
        (k.lower(), v) for k, v in after.items() if k.lower() not in skip
    ]:
        return "top-level header fields changed"
    if message_id and not any(message_id in str(v) for v in after.get_all("message-id", [])):
        return "Message-ID not kept"
    mine, theirs = _tree(root), _their_tree(after)
    if [n.content_type for n in mine] != [m.get_content_type() for m in theirs]:
        return "MIME structure changed"
    expected = iter(texts)
    for node, part in zip(mine, theirs, strict=True):
        if node.children or (part.is_multipart() and part.get_content_maintype() != "message"):
            continue
        if id(node) in rewritten:
            if part.get_payload(decode=True) != next(expected, None):
                return "a rewritten part does not decode to the intended text"
            continue
        if part.get_content_maintype() == "message":
            continue  # its bytes are copied as they are; Python parses it as a message
        body, _ = split_body_eol(raw[node.body_start : node.end], node.in_multipart)
        ours = decode_body(body, transfer_encoding(node.headers))
        if ours is not None and part.get_payload(decode=True) != ours:
            return "a part that was not rewritten changed"
    if next(expected, None) is not None:
        return "a rewritten part was not found where expected"
    return None


def _tree(node: Node) -> list[Node]:
    out = [node]
    for c in node.children:
        out.extend(_tree(c))
    return out


def _their_tree(msg: Message) -> list[Message]:
    """Python's parts in order, without entering attached messages (we do not either)."""
    out = [msg]
    if msg.is_multipart() and msg.get_content_maintype() != "message":
        for part in msg.get_payload():
            if isinstance(part, Message):
                out.extend(_their_tree(part))
    return out
