"""MIME by byte spans: find the parts of a raw message without re-serialising it. Pure.

The message is split into a tree of nodes that each know where their header block and body lie
in the raw bytes (boundaries found with the same line rules as Python's feedparser). A rewritten
message is then the raw bytes with a few spans replaced: edited top-level header fields and the
bodies of rewritten text parts. Attachments, images, signed parts and every header not edited
keep their bytes.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32

_LINE = re.compile(rb"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
_HEADER_START = re.compile(rb"[\x21-\x39\x3b-\x7e]*:")
_EOL = re.compile(rb"\r\n|\r|\n")
_META_CHARSET = re.compile(rb"<meta[^>]{0,200}?charset\s*=\s*[\"']?\s*([A-Za-z0-9_:.+\-]{1,40})", re.IGNORECASE)
#: codecs whose bytes for ASCII markup are not plain ASCII, or that shift state
_NOT_ASCII_SAFE = ("utf_16", "utf_32", "utf_7", "iso2022", "hz", "utf_16_be", "utf_16_le", "utf_32_be", "utf_32_le")
MAX_LINE = 998
_DELIMITER_TAIL = re.compile(rb"(--)?[ \t]*(?:\r\n|\r|\n|$)")
_BASE64 = re.compile(rb"[A-Za-z0-9+/]*={0,2}")
_LONG_LINE = re.compile(rb"[^\r\n]{%d,}" % (MAX_LINE + 1))


@dataclass(slots=True)
class Field:
    """One header field: lower-case name and its raw span (all its lines, with line ends)."""

    name: str
    start: int
    end: int


@dataclass(slots=True)
class Node:
    """A MIME entity located in the raw bytes.

    `start`..`body_start` is the header block including the blank line after it; `fields_end`
    is where the blank line (if any) begins. `end` is where the entity ends: for a part of a
    multipart, the start of the next boundary line (so the body keeps the line end that belongs
    to the boundary).
    """

    start: int
    fields: list[Field]
    fields_end: int
    body_start: int
    end: int
    headers: Message
    children: list[Node] = field(default_factory=list)
    #: the entity ends where a boundary line starts (its body's last line end belongs to it)
    in_multipart: bool = False

    @property
    def content_type(self) -> str:
        return self.headers.get_content_type()

    @property
    def is_multipart(self) -> bool:
        return bool(self.children) or self.headers.get_content_maintype() == "multipart"


def lines(raw: bytes, start: int, end: int) -> Iterator[tuple[int, int]]:
    """(start, end) of each line in raw[start:end], line ends included; lazily."""
    for m in _LINE.finditer(raw, start, end):
        if m.end() > m.start():
            yield m.start(), m.end()


def parse_node(
    raw: bytes,
    start: int,
    end: int,
    *,
    digest: bool = False,
    depth: int = 0,
    recurse: bool = True,
    at_delimiter: bool = False,
) -> Node:
    """Split raw[start:end] into header fields and body; recurse into multiparts."""
    fields: list[Field] = []
    pos = start
    body_start = end
    fields_end = end
    first = True
    for ls, le in lines(raw, start, end):
        line = raw[ls:le]
        if line in (b"\r\n", b"\n", b"\r"):
            fields_end, body_start = ls, le
            break
        if first and line.startswith(b"From "):
            first = False
            pos = le
            continue
        if line[:1] in (b" ", b"\t"):
            if fields:
                fields[-1].end = le
            pos = le
            first = False
            continue
        if _HEADER_START.match(line):
            name = line.split(b":", 1)[0].strip().decode("ascii", "replace").lower()
            fields.append(Field(name, ls, le))
            pos = le
            first = False
            continue
        # not a header line: the body starts here, without a blank line
        fields_end, body_start = ls, ls
        break
    else:
        fields_end = body_start = pos  # only header lines, no body
    headers = BytesHeaderParser(policy=compat32).parsebytes(raw[start:fields_end] + b"\n")
    if digest:
        headers.set_default_type("message/rfc822")
    node = Node(start, fields, fields_end, body_start, end, headers, in_multipart=at_delimiter)
    if recurse and headers.get_content_maintype() == "multipart" and depth < 50:
        boundary = headers.get_param("boundary")
        if isinstance(boundary, str) and boundary:
            _split_multipart(raw, node, boundary, depth)
    return node


def _split_multipart(raw: bytes, node: Node, boundary: str, depth: int) -> None:
    try:
        sep = b"--" + boundary.encode("ascii")
    except UnicodeEncodeError:
        return
    starts: list[tuple[int, int, bool]] = []  # (line start, line end, is close delimiter)
    pos = node.body_start
    while True:
        i = raw.find(sep, pos, node.end)
        if i < 0:
            break
        pos = i + 1
        if i != node.body_start and raw[i - 1] not in b"\r\n":
            continue  # a boundary line starts a line
        m = _DELIMITER_TAIL.match(raw, i + len(sep), node.end)
        if m is None:
            continue
        starts.append((i, m.end(), m.group(1) is not None))
        if m.group(1) is not None:
            break
        pos = m.end()
    if not starts or starts[0][2]:
        return
    digest = node.headers.get_content_subtype() == "digest"
    for i, (_, le, close) in enumerate(starts):
        if close:
            break
        part_end = starts[i + 1][0] if i + 1 < len(starts) else node.end
        # the line end before a boundary belongs to it: here, or the enclosing multipart's
        at_delimiter = i + 1 < len(starts) or node.in_multipart
        node.children.append(parse_node(raw, le, part_end, digest=digest, depth=depth + 1, at_delimiter=at_delimiter))


def walk(node: Node) -> list[Node]:
    out = [node]
    for c in node.children:
        out.extend(walk(c))
    return out


def eol_of(raw: bytes) -> bytes:
    m = _EOL.search(raw, 0, 4096)
    return m.group(0) if m else b"\r\n"


def split_body_eol(body: bytes, in_multipart: bool) -> tuple[bytes, bytes]:
    """Separate the line end that belongs to the next boundary from a part's body."""
    if not in_multipart:
        return body, b""
    for e in (b"\r\n", b"\n", b"\r"):
        if body.endswith(e):
            return body[: -len(e)], e
    return body, b""


# -- transfer encodings ------------------------------------------------------------------------


def transfer_encoding(headers: Message) -> str:
    value = headers.get("content-transfer-encoding")
    return str(value).strip().lower() if value is not None else ""


def decode_body(body: bytes, cte: str) -> bytes | None:
    """The decoded payload, or None when the encoding is unknown or the data is broken."""
    if cte in ("", "7bit", "8bit", "binary"):
        return body
    if cte == "quoted-printable":
        return binascii.a2b_qp(body)
    if cte == "base64":
        compact = re.sub(rb"[\t\n\r ]", b"", body)
        if not _BASE64.fullmatch(compact) or len(compact.rstrip(b"=")) % 4 == 1:
            return None  # not base64: what a reader sees is a decoder's guess; leave it as it is
        try:
            return base64.b64decode(compact.rstrip(b"=") + b"=" * (-len(compact.rstrip(b"=")) % 4), validate=True)
        except (binascii.Error, ValueError):
            return None
    return None


def encode_body(data: bytes, cte: str, eol: bytes) -> tuple[bytes, str]:
    """Encode a payload for a part; returns (the body bytes, the encoding used).

    The body ends with a line end exactly when the data does (base64 always ends with one, which
    decoders ignore), so the line end before a following boundary is not doubled.

    7bit/8bit/binary bodies stay as they are unless a line would exceed 998 octets (or 7bit data
    became 8-bit), in which case they become quoted-printable.
    """
    if cte == "base64":
        enc = base64.encodebytes(data).replace(b"\n", eol)
        return enc, "base64"
    if cte in ("", "7bit", "8bit", "binary"):
        long_line = _LONG_LINE.search(data) is not None
        eight_bit = cte in ("", "7bit") and not data.isascii()
        if not long_line and not eight_bit:
            return data, cte
    if not uniform_line_ends(data, eol):
        # bare CRs or line ends other than the message's: only base64 keeps such bytes exact
        return base64.encodebytes(data).replace(b"\n", eol), "base64"
    qp = binascii.b2a_qp(data, quotetabs=False, istext=True, header=False)
    return qp.replace(b"\r\n", b"\n").replace(b"\n", eol), "quoted-printable"


def uniform_line_ends(data: bytes, eol: bytes) -> bool:
    if eol == b"\r\n":
        return data.count(b"\r") == data.count(b"\n") == data.count(b"\r\n")
    return eol not in (b"\r",) and b"\r" not in data


# -- charsets ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TextCodec:
    """How a part's bytes became text, so the rewritten text goes back to the same bytes."""

    charset: str  # the label to keep in the header (as found), or the sniffed one
    codec: str  # Python codec name
    errors: str  # "strict" or "surrogateescape"
    note: str | None = None


def _codec_name(label: str) -> str | None:
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def ascii_safe(codec: str) -> bool:
    n = codec.replace("-", "_")
    return not any(n.startswith(p) for p in _NOT_ASCII_SAFE)


def sniff_charset(data: bytes) -> str | None:
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    m = _META_CHARSET.search(data, 0, 2048)
    return m.group(1).decode("ascii") if m else None


def decode_text(data: bytes, label: str | None, *, html: bool) -> tuple[str, TextCodec] | None:
    """Decode a part's payload losslessly, or None when that is impossible without altering bytes."""
    declared = label
    if label is None and html:
        label = sniff_charset(data)
    codec = _codec_name(label) if label else "ascii"
    note = None
    if label and codec is None:
        note = f"unknown-charset: {label[:40]}"
        codec = "latin-1"
    assert codec is not None
    if codec == "ascii" and not data.isascii():
        # mislabelled (or unlabelled) 8-bit text: UTF-8 keeps ASCII bytes identical
        codec = "utf-8"
    for errors in ("strict", "surrogateescape"):
        try:
            text = data.decode(codec, errors)
            if text.encode(codec, errors) == data:
                if errors != "strict":
                    note = note or f"undecodable-bytes-kept: {label or 'no charset'}"
                return text, TextCodec(declared or "", codec, errors, note)
        except (UnicodeError, LookupError):
            continue
    if ascii_safe(codec):
        text = data.decode("latin-1")
        return text, TextCodec(declared or "", "latin-1", "strict", f"charset-unreliable: {label or 'none'}")
    return None
