"""What recognition needs to know about sent mail, as plain data and a small protocol.

The store-backed implementation lives in `replies/intake.py`; `SentIndex` keeps everything in
memory (tests, one-off checks).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..addresses import try_normalise
from ..model import Relation
from .parse import id_variants


@dataclass(frozen=True, slots=True)
class SentRecipient:
    id: int
    address: str
    relation: Relation = Relation.EXTERNAL


@dataclass(frozen=True, slots=True)
class SentMessage:
    """A tracked email as recognition sees it."""

    id: int
    workspace_id: int
    rfc_message_id: str
    sender: str
    recipients: tuple[SentRecipient, ...]
    sender_addresses: frozenset[str] = frozenset()
    workspace_domains: frozenset[str] = frozenset()
    workspace_members: frozenset[str] = frozenset()
    subject: str = ""

    def recipient(self, recipient_id: int) -> SentRecipient | None:
        return next((r for r in self.recipients if r.id == recipient_id), None)

    def recipient_by_address(self, address: str) -> SentRecipient | None:
        a = address.lower()
        return next((r for r in self.recipients if r.address.lower() == a), None)


class SentView(Protocol):
    """Lookups into the sent mail that inbound mail may refer to (already scoped to one mailbox
    owner or workspace by whoever builds the view)."""

    def by_rfc_ids(self, rfc_ids: Sequence[str]) -> Mapping[str, SentMessage]:
        """Tracked messages among `rfc_ids` (each `<id>`); keyed by the id as asked."""
        ...

    def by_id(self, message_id: int) -> SentMessage | None:
        """A tracked message by its database id (for ids found in tracking tokens)."""
        ...

    def knows_address(self, address: str) -> bool:
        """Was tracked mail ever sent to this address? (Decides whether a body is worth fetching.)"""
        ...


class SentIndex:
    """A `SentView` over messages held in memory."""

    def __init__(self, messages: Iterable[SentMessage] = ()) -> None:
        self._by_id: dict[int, SentMessage] = {}
        self._by_rfc: dict[str, SentMessage] = {}
        self._addresses: set[str] = set()
        for m in messages:
            self.add(m)

    def add(self, message: SentMessage) -> None:
        self._by_id[message.id] = message
        for variant in id_variants(message.rfc_message_id):
            self._by_rfc[variant] = message
        for r in message.recipients:
            self._addresses.add(r.address.lower())

    def by_rfc_ids(self, rfc_ids: Sequence[str]) -> Mapping[str, SentMessage]:
        out: dict[str, SentMessage] = {}
        for ident in rfc_ids:
            for variant in id_variants(ident):
                found = self._by_rfc.get(variant)
                if found is not None:
                    out[ident] = found
                    break
        return out

    def by_id(self, message_id: int) -> SentMessage | None:
        return self._by_id.get(message_id)

    def knows_address(self, address: str) -> bool:
        norm = try_normalise(address)
        return bool(norm) and norm in self._addresses
