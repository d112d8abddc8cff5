"""Instrumenting a whole message: prepare once, render one copy per recipient. Pure.

`prepare(raw, options)` locates the parts (byte spans, see `mime`), scans every HTML body part
(and text/plain parts when asked), decides the top-level header edits (Bcc and
X-Mailbeacon-Track removed, Message-ID added when missing) and checks its own output: a rendered
copy is parsed back with Python's email package and must have the same structure, the same bytes
in every part not rewritten, and exactly the intended text in the rewritten ones. When anything
is off - signed mail, a part that cannot be decoded without altering bytes, a failed check, any
exception - the result is the original message with only the header edits, and says why.

`render(prepared, urls)` then costs one join and one transfer-encoding per rewritten part.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from typing import Protocol

from .check import compare
from .html import HtmlOptions, scan_html
from .mime import (
    Node,
    TextCodec,
    ascii_safe,
    decode_body,
    decode_text,
    eol_of,
    parse_node,
    split_body_eol,
    transfer_encoding,
)
from .optout import strip_subject_marker
from .parts import PartSlot, qp_segments, rebuild_headers
from .plan import pixel_markup
from .text import scan_text, signed_text
from .urls import Resolver

#: content types whose bytes a signature or encryption covers: never altered, never entered
SIGNED_TYPES = frozenset(
    {
        "multipart/signed",
        "multipart/encrypted",
        "application/pkcs7-mime",
        "application/x-pkcs7-mime",
        "application/pgp-encrypted",
    }
)
#: header fields that mean the message is signed as a whole
SIGNATURE_FIELDS = ("dkim-signature", "arc-seal", "arc-message-signature")
REMOVED_FIELDS = frozenset({"bcc", "x-mailbeacon-track"})
_MSGID = re.compile(r"<[^<>\s]+>")


class Urls(Protocol):
    """One recipient's tracking URLs."""

    def click(self, index: int) -> str: ...

    def pixel(self) -> str: ...

    def decoy(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Options:
    """What to do. `resolve` recognises our own tracking URLs in quoted content (None: leave them)."""

    public_url: str
    opens: bool = True
    clicks: bool = True
    decoy: bool = True
    rewrite_text: bool = False
    resolve: Resolver | None = None
    #: the Message-ID to add when the message has none (the caller makes it; this code is pure)
    message_id: str | None = None
    remove_fields: frozenset[str] = REMOVED_FIELDS


@dataclass(frozen=True, slots=True)
class Prepared:
    """A message ready to be rendered per recipient.

    - `links`: original URL of every tracked link occurrence, by index (document order).
    - `html`: the message has an HTML body part. `pixel` / `decoy`: they are injected.
    - `failure`: why the message goes out untouched (None when it did not fail).
    - `notes`: what else happened (charset fallback, placeholders left, old pixels neutralised...).
    """

    message_id: str
    links: tuple[str, ...]
    html: bool
    pixel: bool
    decoy: bool
    failure: str | None
    notes: tuple[str, ...]
    chunks: tuple[bytes | PartSlot, ...]
    edited: bool = False

    @property
    def instrumented(self) -> bool:
        """Something was injected or rewritten."""
        return self.failure is None and (self.pixel or self.decoy or bool(self.links))

    @property
    def changed(self) -> bool:
        return any(type(c) is PartSlot for c in self.chunks)


@dataclass(slots=True)
class _Placeholder:
    public_url: str

    def click(self, index: int) -> str:
        return f"{self.public_url}/c/{'A' * 40}{index}"

    def pixel(self) -> str:
        return f"{self.public_url}/o/{'A' * 40}.gif"

    def decoy(self) -> str:
        return f"{self.public_url}/c/{'D' * 40}"


def render(prepared: Prepared, urls: Urls) -> bytes:
    """One recipient's copy of the message."""
    out, _ = _render(prepared, urls)
    return out


def _render(prepared: Prepared, urls: Urls, *, check: bool = False) -> tuple[bytes, list[bytes]]:
    if len(prepared.chunks) == 1 and type(prepared.chunks[0]) is bytes:
        return prepared.chunks[0], []
    markup = pixel_markup(urls.pixel() if prepared.pixel else None, urls.decoy() if prepared.decoy else None)
    out: list[bytes] = []
    texts: list[bytes] = []
    for c in prepared.chunks:
        if type(c) is bytes:
            out.append(c)
        else:
            assert isinstance(c, PartSlot)
            part, data = c.render(urls.click, markup if c.is_html else "", check=check)
            out.append(part)
            texts.append(data)
    return b"".join(out), texts


def untouched(raw: bytes, message_id: str | None = None, remove: frozenset[str] = REMOVED_FIELDS) -> bytes:
    """The message with only the header edits every copy gets (Bcc and our header removed,
    `[notrack]` removed from the Subject, Message-ID added when missing). Falls back to the raw bytes if even that is impossible."""
    raw, _ = strip_subject_marker(raw)
    try:
        root = parse_node(raw, 0, len(raw), recurse=False)
        eol = eol_of(raw[root.start : root.body_start] or raw)
        _mid, add = _message_id(raw, root, Options(public_url="", message_id=message_id), eol)
        drop = set(remove) | ({"message-id"} if add else set())
        return rebuild_headers(raw, root, remove=drop, add=add, eol=eol) + raw[root.body_start :]
    except Exception:
        return raw


def root_headers(raw: bytes) -> Message:
    """The top-level header fields (compat32: raw values), for reading From/To/Subject..."""
    return parse_node(raw, 0, len(raw), recurse=False).headers


def prepare(raw: bytes, options: Options) -> Prepared:
    """Plan the instrumentation of `raw`. Never raises: on any problem, the message stays as it is."""
    try:
        root = parse_node(raw, 0, len(raw))
    except Exception as exc:  # a header block so broken that no field can be read
        return Prepared(options.message_id or "", (), False, False, False, f"unreadable: {exc}"[:300], (), (raw,))
    eol = eol_of(raw[root.start : root.body_start] or raw)
    message_id, add = _message_id(raw, root, options, eol)
    remove = set(options.remove_fields)
    if add and any(f.name == "message-id" for f in root.fields):
        remove.add("message-id")  # an unusable Message-ID field is replaced

    def untouched(failure: str | None, notes: list[str], html: bool = False) -> Prepared:
        head = rebuild_headers(raw, root, remove=remove, add=add, eol=eol)
        return Prepared(message_id, (), html, False, False, failure, tuple(notes), (head + raw[root.body_start :],))

    try:
        return _prepare(raw, root, options, eol, message_id, remove, add, untouched)
    except Exception as exc:  # never lose or alter mail because of a bug here
        return untouched(f"error: {type(exc).__name__}: {exc}"[:300], [])


def _prepare(
    raw: bytes,
    root: Node,
    options: Options,
    eol: bytes,
    message_id: str,
    remove: set[str],
    add: bytes,
    untouched: Callable[..., Prepared],
) -> Prepared:
    notes: list[str] = []
    signature = next((f.name for f in root.fields if f.name in SIGNATURE_FIELDS), None)
    if signature is not None:
        return untouched(f"signed: the message carries a {signature} header that rewriting would break", notes)
    if root.content_type in SIGNED_TYPES:
        return untouched(f"signed: {root.content_type} must not be altered", notes)
    leaves: list[Node] = []
    _collect(root, leaves, notes)
    inject = options.opens or (options.decoy and options.clicks)
    slots: list[tuple[Node, PartSlot]] = []
    links: list[str] = []
    has_html = False
    for node in leaves:
        is_html = node.content_type == "text/html"
        has_html = has_html or is_html
        slot = _plan_part(raw, node, root, options, eol, links, notes, remove, add, inject=inject)
        if slot is not None:
            slots.append((node, slot))
    if not has_html:
        notes.insert(0, "no-html-part")
    if not slots:
        return untouched(None, notes, has_html)
    chunks: list[bytes | PartSlot] = []
    if slots[0][0] is root:
        chunks.append(slots[0][1])
    else:
        chunks.append(rebuild_headers(raw, root, remove=remove, add=add, eol=eol))
        pos = root.body_start
        for node, slot in slots:
            chunks.append(raw[pos : node.start])
            chunks.append(slot)
            pos = node.end
        chunks.append(raw[pos:])
    html_slots = [s for _, s in slots if s.is_html]
    prepared = Prepared(
        message_id=message_id,
        links=tuple(links),
        html=has_html,
        pixel=options.opens and any(s.plan.inject for s in html_slots),
        decoy=options.decoy and options.clicks and any(s.plan.inject for s in html_slots),
        failure=None,
        notes=tuple(notes),
        chunks=tuple(c for c in chunks if c != b""),
        edited=any(s.plan.edited for _, s in slots),
    )
    problem = self_check(raw, root, prepared, options, {id(node) for node, _ in slots})
    if problem is not None:
        return untouched(f"self-check: {problem}", notes, has_html)
    return prepared


def _collect(node: Node, out: list[Node], notes: list[str]) -> None:
    """Body parts that may be rewritten, in document order; signed subtrees and attachments skipped."""
    ctype = node.content_type
    if ctype in SIGNED_TYPES:
        notes.append(f"signed-part-left: {ctype}")
        return
    if node.children:
        for c in node.children:
            _collect(c, out, notes)
        return
    if node.headers.get_content_maintype() in ("multipart", "message"):
        return
    disposition = str(node.headers.get("content-disposition", "")).split(";", 1)[0].strip().lower()
    if ctype in ("text/html", "text/plain") and disposition != "attachment":
        out.append(node)


def _plan_part(
    raw: bytes,
    node: Node,
    root: Node,
    options: Options,
    eol: bytes,
    links: list[str],
    notes: list[str],
    remove: set[str],
    add: bytes,
    *,
    inject: bool,
) -> PartSlot | None:
    is_html = node.content_type == "text/html"
    if not is_html and not options.rewrite_text:
        return None
    cte = transfer_encoding(node.headers)
    body, trailing = split_body_eol(raw[node.body_start : node.end], node.in_multipart)
    data = decode_body(body, cte)
    if data is None:
        notes.append(f"part-left: cannot decode transfer encoding {cte[:30]!r}")
        return None
    charset = node.headers.get_content_charset()
    decoded = decode_text(data, charset, html=is_html)
    if decoded is None:
        notes.append(f"part-left: charset {charset} cannot be rewritten without altering bytes")
        return None
    text, codec = decoded
    if is_html:
        plan = scan_html(
            text,
            HtmlOptions(public_url=options.public_url, clicks=options.clicks, inject=inject, resolve=options.resolve),
        )
    elif signed_text(text):
        notes.append("signed-part-left: inline PGP")
        return None
    elif options.clicks:
        plan = scan_text(text, options.public_url)
    else:
        return None
    notes.extend(plan.notes)
    if not plan.changed:
        return None
    if codec.note:
        notes.append(codec.note)
    new_charset = None
    fixed = "".join(p for p in plan.pieces if type(p) is str)
    try:
        fixed.encode(codec.codec, codec.errors)
    except UnicodeEncodeError:
        notes.append(f"charset-fallback: {charset or 'none'} -> utf-8 (a restored URL has characters it lacks)")
        codec = TextCodec("utf-8", "utf-8", "surrogateescape", codec.note)
        new_charset = "utf-8"
    offset = len(links)
    links.extend(plan.links)
    is_root = node is root
    cache: dict[str, bytes] = {}

    def header_for(out_cte: str) -> bytes:
        hdr = cache.get(out_cte)
        if hdr is None:
            hdr = rebuild_headers(
                raw,
                node,
                remove=remove if is_root else set(),
                add=add if is_root else b"",
                cte=out_cte if out_cte != cte else None,
                charset=new_charset,
                eol=eol,
                mime_version=is_root,
            )
            cache[out_cte] = hdr
        return hdr

    slot = PartSlot(plan, is_html, offset, codec, cte, eol, trailing, header_for)
    if cte == "quoted-printable" and ascii_safe(codec.codec) and "sig" not in codec.codec:
        slot.qp = qp_segments(plan, codec, eol)
    return slot


def _message_id(raw: bytes, root: Node, options: Options, eol: bytes) -> tuple[str, bytes]:
    """(the Message-ID copies carry, the header line to add or b"")."""
    value = root.headers.get("message-id")
    if value is not None:
        m = _MSGID.search(str(value))
        if m is not None:
            return m.group(0), b""
    new = options.message_id
    if not new:
        return "", b""
    return new, b"Message-ID: " + new.encode("ascii", "replace") + eol


def self_check(raw: bytes, root: Node, prepared: Prepared, options: Options, rewritten: set[int]) -> str | None:
    """Render one copy, parse it with Python's email package and compare with our view of the input.

    Two parsers must agree: the same parts in the same order, every part not rewritten with the
    same body bytes, every rewritten part decoding to exactly the intended text, the same
    top-level header fields apart from the promised edits. None when all is as intended.
    """
    placeholder = _Placeholder(options.public_url.rstrip("/"))
    out, texts = _render(prepared, placeholder, check=True)
    fast, _ = _render(prepared, placeholder)
    if fast != out:
        return "the pre-encoded quoted-printable body differs from encoding the whole"
    return compare(
        raw,
        root,
        out,
        texts,
        message_id=prepared.message_id,
        remove_fields=options.remove_fields,
        rewritten=rewritten,
    )
