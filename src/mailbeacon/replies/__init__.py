"""Replies: recognise replies, auto-replies, bounces and reports to tracked emails. Pure.

`recognise`, `analyse` and `needs_body` take raw bytes and a `SentView` (lookups into the sent
mail) and return `model.Reply` values; nothing here does I/O. `mailbeacon.inbound` connects it
to the store and the pipeline.
"""

from __future__ import annotations

from .parse import id_variants
from .recognise import Analysis, analyse, find_tokens, needs_body, recognise
from .view import SentIndex, SentMessage, SentRecipient, SentView

__all__ = [
    "Analysis",
    "SentIndex",
    "SentMessage",
    "SentRecipient",
    "SentView",
    "analyse",
    "find_tokens",
    "id_variants",
    "needs_body",
    "recognise",
]
