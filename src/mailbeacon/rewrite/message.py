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

import binascii
import email
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import Message
from email.policy import compat32
from typing import Protocol

from .html import HtmlOptions, HtmlPlan, Piece, Resolver, pixel_markup, render_html, scan_html
from .mime import (
    Node,
    TextCodec,
    ascii_safe,
    decode_body,
    decode_text,
    encode_body,
    eol_of,
    parse_node,
    split_body_eol,
    transfer_encoding,
    uniform_line_ends,
)
from .text import scan_text, signed_text

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
_CHARSET_PARAM = re.compile(r"charset\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^;\s]*)", re.IGNORECASE)


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


@dataclass(slots=True)
class _Slot:
    """A rewritten part: renders its header block and body for one recipient."""

    plan: HtmlPlan
    is_html: bool
    offset: int
    codec: TextCodec
    cte: str
    eol: bytes
    trailing: bytes
    header_for: Callable[[str], bytes]
    #: quoted-printable body with the lines that hold no slot encoded once (see `_qp_segments`)
    qp: list[bytes | HtmlPlan] | None = None

    def render(self, click: Callable[[int], str], markup: str, *, check: bool = False) -> tuple[bytes, bytes]:
        """(header block + body, the decoded body bytes when `check`, else b"")."""
        off = self.offset
        fn = (lambda i: click(off + i)) if off else click
        codec, errors = self.codec.codec, self.codec.errors
        if self.qp is not None and not check:
            out = [
                seg if isinstance(seg, bytes) else _qp(render_html(seg, fn, markup).encode(codec, errors), self.eol)
                for seg in self.qp
            ]
            return self.header_for("quoted-printable") + b"".join(out) + self.trailing, b""
        data = render_html(self.plan, fn, markup).encode(codec, errors)
        body, cte = encode_body(data, self.cte, self.eol)
        return self.header_for(cte) + body + self.trailing, data


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
    chunks: tuple[bytes | _Slot, ...]
    edited: bool = False

    @property
    def instrumented(self) -> bool:
        """Something was injected or rewritten."""
        return self.failure is None and (self.pixel or self.decoy or bool(self.links))

    @property
    def changed(self) -> bool:
        return any(type(c) is _Slot for c in self.chunks)


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
            assert isinstance(c, _Slot)
            part, data = c.render(urls.click, markup if c.is_html else "", check=check)
            out.append(part)
            texts.append(data)
    return b"".join(out), texts


def untouched(raw: bytes, message_id: str | None = None, remove: frozenset[str] = REMOVED_FIELDS) -> bytes:
    """The message with only the header edits every copy gets (Bcc and our header removed,
    Message-ID added when missing). Falls back to the raw bytes if even that is impossible."""
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
    slots: list[tuple[Node, _Slot]] = []
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
    chunks: list[bytes | _Slot] = []
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
) -> _Slot | None:
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

    slot = _Slot(plan, is_html, offset, codec, cte, eol, trailing, header_for)
    if cte == "quoted-printable" and ascii_safe(codec.codec) and "sig" not in codec.codec:
        slot.qp = _qp_segments(plan, codec, eol)
    return slot


def _qp(data: bytes, eol: bytes) -> bytes:
    return binascii.b2a_qp(data, quotetabs=False, istext=True, header=False).replace(b"\r\n", b"\n").replace(b"\n", eol)


def _qp_segments(plan: HtmlPlan, codec: TextCodec, eol: bytes) -> list[bytes | HtmlPlan] | None:
    """Quoted-printable encodes line by line: lines without a slot are the same for every recipient,
    so they are encoded once here; runs of lines with slots stay plans to render per recipient.
    None when the text's line ends are not uniform (then the whole body is encoded each time)."""
    eol_s = eol.decode("ascii")
    fixed = "".join(p for p in plan.pieces if type(p) is str)
    try:
        if not uniform_line_ends(fixed.encode(codec.codec, codec.errors), eol):
            return None
    except UnicodeEncodeError:
        return None
    n = len(eol_s)
    segments: list[bytes | HtmlPlan] = []
    static: list[str] = []  # text since the last segment, no slot in it yet
    dynamic: list[Piece] | None = None  # lines with slots, from a line start
    for piece in plan.pieces:
        if type(piece) is not str:
            if dynamic is None:  # the line this slot is on starts after the last line end
                text = "".join(static)
                cut = text.rfind(eol_s) + n if eol_s in text else 0
                if cut:
                    segments.append(_segment([text[:cut]], True, codec, eol))
                dynamic, static = [text[cut:]], []
            dynamic.append(piece)
            continue
        if dynamic is None:
            static.append(piece)
            continue
        end = piece.find(eol_s)
        if end < 0:
            dynamic.append(piece)
            continue
        last = piece.rfind(eol_s) + n
        dynamic.append(piece[: end + n])
        if last > end + n:  # whole lines without a slot follow: the dynamic run ends here
            segments.append(_segment(dynamic, False, codec, eol))
            dynamic, static = None, [piece[end + n :]]
        else:
            dynamic.append(piece[end + n :])
    if dynamic is not None:
        segments.append(_segment(dynamic, False, codec, eol))
    elif static:
        segments.append(_segment(static, True, codec, eol))
    return segments


def _segment(run: Sequence[Piece], static: bool, codec: TextCodec, eol: bytes) -> bytes | HtmlPlan:
    if static:
        return _qp("".join(p for p in run if type(p) is str).encode(codec.codec, codec.errors), eol)
    return HtmlPlan(pieces=list(run), links=[])


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


def rebuild_headers(
    raw: bytes,
    node: Node,
    *,
    remove: set[str] | frozenset[str] = frozenset(),
    add: bytes = b"",
    cte: str | None = None,
    charset: str | None = None,
    eol: bytes = b"\r\n",
    mime_version: bool = False,
) -> bytes:
    """A node's header block (with its blank line) with fields removed, replaced or added."""
    if not remove and not add and cte is None and charset is None:
        return raw[node.start : node.body_start]
    first = node.fields[0].start if node.fields else node.fields_end
    out = [raw[node.start : first]]
    seen_cte = seen_version = False
    for f in node.fields:
        if f.name in remove:
            continue
        seen_version = seen_version or f.name == "mime-version"
        if f.name == "content-transfer-encoding" and cte is not None:
            seen_cte = True
            out.append(b"Content-Transfer-Encoding: " + cte.encode("ascii") + eol)
        elif f.name == "content-type" and charset is not None:
            out.append(_set_charset(raw[f.start : f.end], charset, eol))
        else:
            out.append(raw[f.start : f.end])
    if node.fields:
        out.append(raw[node.fields[-1].end : node.fields_end])
    if charset is not None and not any(f.name == "content-type" for f in node.fields):
        out.append(b'Content-Type: text/plain; charset="' + charset.encode("ascii") + b'"' + eol)
    if cte is not None and not seen_cte:
        out.append(b"Content-Transfer-Encoding: " + cte.encode("ascii") + eol)
    if cte is not None and mime_version and not seen_version:
        out.append(b"MIME-Version: 1.0" + eol)
    out.append(add)
    out.append(raw[node.fields_end : node.body_start])
    return b"".join(out)


def _set_charset(field_bytes: bytes, charset: str, eol: bytes) -> bytes:
    text = field_bytes.decode("latin-1")
    if _CHARSET_PARAM.search(text):
        text = _CHARSET_PARAM.sub(f'charset="{charset}"', text, count=1)
    else:
        body = text.rstrip("\r\n")
        text = body + f'; charset="{charset}"' + text[len(body) :]
    return text.encode("latin-1")


# -- the self-check ------------------------------------------------------------------------------


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
    after = email.message_from_bytes(out, policy=compat32)
    skip = set(options.remove_fields) | {"message-id", "content-transfer-encoding", "content-type", "mime-version"}
    if [(k.lower(), v) for k, v in root.headers.items() if k.lower() not in skip] != [
        (k.lower(), v) for k, v in after.items() if k.lower() not in skip
    ]:
        return "top-level header fields changed"
    if prepared.message_id and not any(prepared.message_id in str(v) for v in after.get_all("message-id", [])):
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
