"""Replies: recognise replies, auto-replies, bounces and reports to tracked emails.

The pure part (`recognise`, `analyse`, `needs_body`) takes raw bytes and a `SentView` and returns
`model.Reply` values; `intake` connects it to the store and the pipeline.
"""

from __future__ import annotations

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
    "needs_body",
    "recognise",
]
