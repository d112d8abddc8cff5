"""The scoped store's reading for the dashboard, on both databases: search (`q`), "only machines",
and the follow-up candidates; each a constant number of queries."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event

from mailbeacon.runtime import Runtime
from mailbeacon.stats import Counts
from mailbeacon.store import MessageFilter, WorkspaceView
from seeding import Seeded, seed_account, seed_message


def _counts(rt: Runtime, *rows: tuple[Seeded, Counts]) -> None:
    with rt.store.tx() as c:  # counters as the pipeline leaves them (its one writer, store-private)
        rt.store._apply_deltas(c, [(s.recipients[0].id, s.message.id, cnt) for s, cnt in rows])


def _subject(rt: Runtime, s: Seeded, subject: str) -> None:
    from mailbeacon.store import schema as t

    with rt.store.tx() as c:
        c.execute(t.messages.update().where(t.messages.c.id == s.message.id).values(subject=subject))


def test_search_and_only_machines_on_both_databases(any_runtime: Runtime) -> None:
    rt = any_runtime
    alice = seed_account(rt)
    carol = seed_account(rt, "carol@acme.test")
    scanned = seed_message(rt, ("it-desk@tailspin.example",), user=alice)
    read = seed_message(rt, ("Dana@Northwind.example", "lee@fabrikam.example"), user=alice)
    percent = seed_message(rt, ("ops@client.example",), user=carol)
    _subject(rt, scanned, "Security review")
    _subject(rt, read, "Q1 Proposal for Northwind")
    _subject(rt, percent, "Save 100% on_fees")
    _counts(
        rt,
        (scanned, Counts(opens_scanner=1, clicks_scanner=2, hits_scanner=3)),
        (read, Counts(opens_human=1, hits_human=1, hits_machine_open=1, opens_machine=1)),
    )
    admin = rt.store.scoped(alice.workspace_id, alice.id, whole_workspace=True)
    member = rt.store.scoped(carol.workspace_id, carol.id, whole_workspace=False)

    def ids(view: WorkspaceView, **f: Any) -> list[int]:
        return [m.id for m in view.message_page(MessageFilter(**f), before_id=None, limit=10).messages]

    s, r, p = scanned.message.id, read.message.id, percent.message.id
    assert ids(admin, q="northwind") == [r]  # the subject and an address, any case
    assert ids(admin, q="FABRIKAM") == [r]  # another recipient's address
    assert ids(admin, q="  review ") == [s]
    assert ids(admin, q="100%") == [p] and ids(admin, q="%") == [p] and ids(admin, q="n_f") == [p]  # literal
    assert ids(admin, q="e_") == []  # "_" is not a wildcard
    assert ids(admin, q="\x00") == ids(admin)  # nothing left to search for: everything
    assert ids(member, q="northwind") == [] and ids(member, q="fees") == [p]  # a member's own mail only
    assert ids(admin, machines=True) == [s]  # a person read the other one; the third was not touched
    assert ids(admin, machines=False) == [p, r]
    assert ids(admin, q="review", machines=False) == []


def test_follow_up_candidates_are_unanswered_and_touched(any_runtime: Runtime) -> None:
    rt = any_runtime
    alice = seed_account(rt)
    carol = seed_account(rt, "carol@acme.test")
    opened = seed_message(rt, user=alice)
    answered = seed_message(rt, user=alice)
    bounced = seed_message(rt, user=alice)
    untouched = seed_message(rt, user=alice)
    scanned = seed_message(rt, user=carol)
    _counts(
        rt,
        (opened, Counts(opens_human=2, hits_human=2, last_open_at=rt.clock())),
        (answered, Counts(opens_human=2, hits_human=2, replies=1)),
        (bounced, Counts(hits_scanner=1, bounces=1)),
        (scanned, Counts(hits_scanner=1, opens_scanner=1)),
    )
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    admin = rt.store.scoped(alice.workspace_id, alice.id, whole_workspace=True)
    event.listen(rt.store.engine, "before_cursor_execute", count)
    try:
        got = admin.unanswered(limit=100)
    finally:
        event.remove(rt.store.engine, "before_cursor_execute", count)
    assert [(m.id, r.id) for m, r, _ in got] == [
        (scanned.message.id, scanned.recipients[0].id),
        (opened.message.id, opened.recipients[0].id),
    ]
    assert got[1][2].opens_human == 2 and got[1][2].last_open_at is not None
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 3, statements
    assert untouched.message.id not in {m.id for m, _, _ in got}
    member = rt.store.scoped(carol.workspace_id, carol.id, whole_workspace=False)
    assert [m.id for m, _, _ in member.unanswered(limit=100)] == [scanned.message.id]
    assert admin.unanswered(limit=1) == got[:1]


@pytest.mark.parametrize("n", [2, 12])
def test_unanswered_is_three_queries_however_many(runtime: Runtime, n: int) -> None:
    alice = seed_account(runtime)
    seeded = [seed_message(runtime, ("a@x.example", "b@x.example"), user=alice) for _ in range(n)]
    _counts(runtime, *((s, Counts(hits_scanner=1)) for s in seeded))
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    view = runtime.store.scoped(alice.workspace_id, alice.id, whole_workspace=True)
    event.listen(runtime.store.engine, "before_cursor_execute", count)
    try:
        assert len(view.unanswered(limit=100)) == n
    finally:
        event.remove(runtime.store.engine, "before_cursor_execute", count)
    assert len([s for s in statements if "SELECT" in s.upper()]) == 3, statements
