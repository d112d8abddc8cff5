"""A plan: one text cut into kept text and per-recipient slots, and how a copy is rendered. Pure."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .urls import escape_attr


@dataclass(frozen=True, slots=True)
class LinkSlot:
    """A tracked link: local index in this part, and how its attribute value is quoted."""

    index: int
    quote: str


class _PixelSlot:
    __slots__ = ()


PIXEL = _PixelSlot()

Piece = str | LinkSlot | _PixelSlot


@dataclass(slots=True)
class HtmlPlan:
    """One HTML text, cut into kept text and per-recipient slots.

    `links` are the original URLs of the link slots, by local index in document order.
    `edited` says whether recipient-independent edits were made (neutralised old tracking URLs,
    removed `data-mailbeacon` attributes); `inject` whether there is a slot for the pixel.
    """

    pieces: list[Piece]
    links: list[str]
    notes: list[str] = field(default_factory=list)
    inject: bool = False
    edited: bool = False
    neutralised: int = 0
    restored: int = 0

    @property
    def changed(self) -> bool:
        return self.edited or self.inject or bool(self.links)


def render_html(plan: HtmlPlan, click: Callable[[int], str], pixel_markup: str) -> str:
    """One recipient's HTML: `click(local index)` gives a tracked URL, `pixel_markup` the pixel."""
    out: list[str] = []
    for p in plan.pieces:
        if type(p) is str:
            out.append(p)
        elif type(p) is LinkSlot:
            out.append(escape_attr(click(p.index), p.quote))
        else:
            out.append(pixel_markup)
    return "".join(out)


def pixel_markup(pixel_url: str | None, decoy_url: str | None) -> str:
    """The injected pixel and the hidden decoy link (either may be absent)."""
    parts = []
    if pixel_url is not None:
        parts.append(
            f'<img src="{escape_attr(pixel_url, chr(34))}" width="1" height="1" alt="" border="0" '
            'style="display:block;width:1px;height:1px;border:0;margin:0;padding:0;overflow:hidden" />'
        )
    if decoy_url is not None:
        # not visible, not focusable, hidden from assistive technology, and no text to read
        parts.append(
            f'<a href="{escape_attr(decoy_url, chr(34))}" tabindex="-1" aria-hidden="true" '
            'style="display:none!important;font-size:0;line-height:0;max-height:0;max-width:0;'
            'overflow:hidden;mso-hide:all"></a>'
        )
    return "".join(parts)
