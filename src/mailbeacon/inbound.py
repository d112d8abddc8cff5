"""Taking in one inbound message: recognise it among the tracked mail, record it through the pipeline.

    raw message ──replies.analyse (pure, over a StoreView)──▶ replies ──Pipeline.record_replies──▶ store + counters

The glue between the pure recognition in `replies/` and the store: the IMAP watcher and
`POST /api/v1/inbound` both call `take_in`, so a reply takes one path whichever way it came.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from .errors import NotFound
from .model import Message, Reply
from .pipeline import Pipeline
from .replies import Analysis, SentMessage, SentRecipient, analyse, id_variants
from .store import Store


class StoreView:
    """A `SentView` over the store, limited to one user's (or one workspace's) tracked mail."""

    def __init__(self, store: Store, *, user_id: int | None = None, workspace_id: int | None = None) -> None:
        self.store = store
        self.user_id = user_id
        self.workspace_id = workspace_id
        self._cache: dict[int, SentMessage] = {}

    def _visible(self, m: Message) -> bool:
        return (self.user_id is None or m.user_id == self.user_id) and (
            self.workspace_id is None or m.workspace_id == self.workspace_id
        )

    def _sent(self, m: Message) -> SentMessage:
        cached = self._cache.get(m.id)
        if cached is None:
            info = self.store.message_info(m.id)
            cached = SentMessage(
                id=m.id,
                workspace_id=m.workspace_id,
                rfc_message_id=m.rfc_message_id,
                sender=m.sender,
                recipients=tuple(SentRecipient(r.id, r.address, r.relation) for r in self.store.recipients(m.id)),
                sender_addresses=info.sender_addresses | {m.sender.lower()},
                workspace_domains=info.workspace_domains,
                workspace_members=info.workspace_members,
                subject=m.subject,
            )
            self._cache[m.id] = cached
        return cached

    def by_rfc_ids(self, rfc_ids: Sequence[str]) -> Mapping[str, SentMessage]:
        variants = {v: ident for ident in rfc_ids for v in id_variants(ident)}
        found: dict[str, SentMessage] = {}
        for m in self.store.messages_by_rfc_ids(list(variants)):
            if self._visible(m):
                ident = variants.get(m.rfc_message_id)
                if ident is not None and ident not in found:
                    found[ident] = self._sent(m)
        return found

    def by_id(self, message_id: int) -> SentMessage | None:
        try:
            m = self.store.message(message_id)
        except NotFound:
            return None
        return self._sent(m) if self._visible(m) else None

    def knows_address(self, address: str) -> bool:
        return self.store.sent_to_address(address, user_id=self.user_id, workspace_id=self.workspace_id)


@dataclass(frozen=True, slots=True)
class Outcome:
    analysis: Analysis
    #: the replies stored now (already known ones are left out: nothing is counted twice)
    recorded: tuple[Reply, ...]


def take_in(
    pipeline: Pipeline,
    raw: bytes,
    *,
    user_id: int | None = None,
    workspace_id: int | None = None,
    source: str = "imap",
    mailbox_id: int | None = None,
    received_at: datetime | None = None,
) -> Outcome:
    """Recognise `raw` among the tracked mail of `user_id` (or `workspace_id`) and record it."""
    runtime = pipeline.rt
    view = StoreView(runtime.store, user_id=user_id, workspace_id=workspace_id)
    analysis = analyse(
        raw,
        view,
        received_at=received_at or runtime.clock(),
        keyring=runtime.keyring,
        public_url=runtime.public_url,
        source=source,
        mailbox_id=mailbox_id,
    )
    recorded = pipeline.record_replies(analysis.replies) if analysis.replies else []
    return Outcome(analysis, tuple(recorded))
