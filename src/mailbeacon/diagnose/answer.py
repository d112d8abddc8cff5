"""The shape of the "why" answer: lines with a status, a sentence, what to do, and the facts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """How one line of the answer came out."""

    #: nothing wrong here
    OK = "ok"
    #: this explains missing or surprising numbers; the line says what to do
    PROBLEM = "problem"
    #: the stored facts cannot tell (yet)
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Line:
    """One line: `item` is the checklist number (1-10), None for a fact that explains silence.

    `code` is stable (for scripts and tests); `text` and `todo` are sentences for the sender.
    `facts` are the stored facts behind the line (JSON-ready).
    """

    item: int | None
    code: str
    status: Status
    text: str
    todo: str | None = None
    facts: Mapping[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "code": self.code,
            "status": self.status.value,
            "text": self.text,
            "todo": self.todo,
            "facts": dict(self.facts),
        }


@dataclass(frozen=True, slots=True)
class Answer:
    """The answer for one message and recipient: a summary, the silence facts, the checklist."""

    message_id: int
    rfc_message_id: str
    subject: str
    recipient: str
    summary: str
    notes: tuple[Line, ...]
    checklist: tuple[Line, ...]

    @property
    def lines(self) -> tuple[Line, ...]:
        return self.notes + self.checklist

    def as_json(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "rfc_message_id": self.rfc_message_id,
            "subject": self.subject,
            "recipient": self.recipient,
            "summary": self.summary,
            "notes": [n.as_json() for n in self.notes],
            "checklist": [c.as_json() for c in self.checklist],
        }
