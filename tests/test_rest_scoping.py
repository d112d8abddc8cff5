"""The REST routes see only the workspace-bound store view, and a page of messages costs a constant
number of queries."""

from __future__ import annotations

import ast
import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from mailbeacon.errors import NotFound
from mailbeacon.intake import Intake
from mailbeacon.model import Hit, HitKind, Reason, Reply, ReplyKind, Verdict, VerdictClass
from mailbeacon.pipeline import Pipeline
from mailbeacon.runtime import Runtime
from mailbeacon.stats import Counts
from mailbeacon.store import MessageFilter, WorkspaceView
from mailbeacon.web.app import create_app
from seeding import seed_account, seed_message

REST = Path(__file__).parent.parent / "src" / "mailbeacon" / "web" / "rest"


def test_route_modules_cannot_reach_the_unscoped_store() -> None:
    """Only deps.py (the edge of the routes) touches the Runtime; no route module names the Store."""
    for path in REST.glob("*.py"):
        tree = ast.parse(path.read_text())
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) for alias in node.names}
        attrs = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
        if path.name in ("deps.py", "__init__.py"):
            continue
        assert "Store" not in imported and "Runtime" not in imported, path.name
        assert "store" not in attrs and "runtime" not in attrs, f"{path.name} reaches past the scoped view"


@pytest.fixture
async def client(runtime: Runtime, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    intake = Intake(runtime.store, tmp_path / "journal", interval=0.01)
    intake.start(asyncio.get_running_loop())
    transport = httpx.ASGITransport(app=create_app(runtime, intake, Pipeline(runtime)))
    async with httpx.AsyncClient(transport=transport, base_url="http://t.example.test") as c:
        yield c
    await intake.stop()


async def test_a_page_of_messages_costs_the_same_queries_for_3_or_30(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    user = seed_account(runtime)
    runtime.store.add_api_token(user.id, "mbt_count", "t", runtime.clock())
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    # the key's first use writes its last-used time (then at most once a minute): not part of a page
    assert (await client.get("/api/v1/me", headers={"Authorization": "Bearer mbt_count"})).status_code == 200
    event.listen(runtime.store.engine, "before_cursor_execute", count)
    per_page = []
    for n in (3, 30):
        while len(runtime.store.messages(limit=1000)) < n:
            seed_message(runtime, ("bob@client.example", "carol@client.example"), user=user)
        statements.clear()
        r = await client.get("/api/v1/messages?limit=100", headers={"Authorization": "Bearer mbt_count"})
        assert r.status_code == 200 and len(r.json()["items"]) == n
        per_page.append(len(statements))
    event.remove(runtime.store.engine, "before_cursor_execute", count)
    assert per_page[0] == per_page[1], per_page
    assert per_page[1] <= 9, statements  # the key's look-up, its user (2), the page (3), the transactions


def test_the_scoped_view_filters_and_sums_on_both_databases(any_runtime: Runtime) -> None:
    rt = any_runtime
    alice = seed_account(rt)
    carol = seed_account(rt, "carol@acme.test")
    opened = seed_message(rt, user=alice)
    bounced = seed_message(rt, user=alice)
    theirs = seed_message(rt, user=carol)
    with rt.store.tx() as c:  # counters as the pipeline leaves them (its one writer, store-private)
        rt.store._apply_deltas(
            c,
            [
                (
                    opened.recipients[0].id,
                    opened.message.id,
                    Counts(opens_human=2, first_open_at=rt.clock(), last_open_at=rt.clock()),
                ),
                (bounced.recipients[0].id, bounced.message.id, Counts(bounces=1, opens_machine=1)),
            ],
        )
    admin = rt.store.scoped(alice.workspace_id, alice.id, whole_workspace=True)
    member = rt.store.scoped(carol.workspace_id, carol.id, whole_workspace=False)

    def ids(view: WorkspaceView, **f: Any) -> list[int]:
        return [m.id for m in view.message_page(MessageFilter(**f), before_id=None, limit=10).messages]

    assert ids(admin) == [theirs.message.id, bounced.message.id, opened.message.id]
    assert ids(member) == [theirs.message.id]
    assert ids(admin, opened=True) == [opened.message.id]
    assert ids(admin, opened=False) == [theirs.message.id, bounced.message.id]
    assert ids(admin, bounced=True) == [bounced.message.id]
    assert ids(admin, sender="carol@acme.test") == [theirs.message.id]
    (day,) = admin.daily(since=None, until=None, user_id=None)
    assert day.day == rt.clock().strftime("%Y-%m-%d") and day.messages == 3
    assert (day.counts.opens_human, day.counts.bounces, day.counts.opens_machine) == (2, 1, 1)
    with pytest.raises(NotFound):
        member.message(opened.message.id)
    other_ws = rt.store.create_workspace("other", ["other.test"], rt.clock())
    stranger = rt.store.scoped(other_ws.id, carol.id, whole_workspace=True)
    assert ids(stranger) == [] and stranger.daily(since=None, until=None, user_id=None) == []
    with pytest.raises(NotFound):
        stranger.member(alice.id)


async def test_a_recipients_timeline_has_every_hit_with_its_verdict_and_every_reply(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    rt = runtime
    user = seed_account(rt)
    rt.store.add_api_token(user.id, "mbt_timeline", "t", rt.clock())
    s = seed_message(rt, user=user)
    bob = s.recipients[0]
    hit = Hit(uid="h1", kind=HitKind.OPEN, workspace_id=s.workspace.id, message_id=s.message.id,
              recipient_id=bob.id, at=rt.clock(), ip="66.249.84.1", user_agent="GoogleImageProxy")  # fmt: skip
    rt.store.insert_hits([hit])
    (stored,) = [sv.hit for sv in rt.store.hits_with_verdicts(message_id=s.message.id)]
    verdict = Verdict(
        VerdictClass.HUMAN, (Reason("gmail-proxy", "Gmail's image proxy fetched it for a reader"),), "gmail_proxy"
    )
    rt.store.record_verdicts([(stored, verdict, None)], rt.clock(), [])
    reply = Reply(message_id=s.message.id, recipient_id=bob.id, rfc_message_id="<r1@client.example>",
                  kind=ReplyKind.AUTO_REPLY, from_address=bob.address, at=rt.clock(), source="api")  # fmt: skip
    rt.store.add_replies([reply], rt.clock(), lambda _r: None)
    r = await client.get(
        f"/api/v1/messages/{s.message.id}/recipients/{bob.id}", headers={"Authorization": "Bearer mbt_timeline"}
    )
    assert r.status_code == 200, r.text
    t = r.json()
    (h,) = t["hits"]
    assert (h["kind"], h["verdict"], h["subtype"], h["settled"]) == ("open", "human", "gmail_proxy", True)
    assert h["reasons"] == [{"code": "gmail-proxy", "text": "Gmail's image proxy fetched it for a reader"}]
    assert [x["kind"] for x in t["replies"]] == ["auto_reply"] and t["recipient"]["address"] == bob.address
    other = seed_message(rt, ("zed@client.example",), user=user)
    r = await client.get(
        f"/api/v1/messages/{s.message.id}/recipients/{other.recipients[0].id}",
        headers={"Authorization": "Bearer mbt_timeline"},
    )
    assert r.status_code == 404  # a recipient of another message
