"""A rewritten part: its header block and body rendered for one recipient. Pure."""

from __future__ import annotations

import binascii
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .mime import Node, TextCodec, encode_body, uniform_line_ends
from .plan import HtmlPlan, Piece, render_html

_CHARSET_PARAM = re.compile(r"charset\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^;\s]*)", re.IGNORECASE)


@dataclass(slots=True)
class PartSlot:
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


def _qp(data: bytes, eol: bytes) -> bytes:
    return binascii.b2a_qp(data, quotetabs=False, istext=True, header=False).replace(b"\r\n", b"\n").replace(b"\n", eol)


def qp_segments(plan: HtmlPlan, codec: TextCodec, eol: bytes) -> list[bytes | HtmlPlan] | None:
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
