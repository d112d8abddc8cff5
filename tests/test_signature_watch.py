"""Which signature data decides: a running pipeline picks up `signatures update` without a restart,
every stored verdict names the data, and a node deciding with other data than the one before is
logged and shown in /healthz."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from datetime import date
from pathlib import Path

import httpx
import pytest

from conftest import FakeClock
from mailbeacon.classify import rules_version
from mailbeacon.classify.refresh import update
from mailbeacon.intake import Intake
from mailbeacon.model import Hit, HitKind
from mailbeacon.pipeline import Pipeline
from mailbeacon.runtime import Runtime
from mailbeacon.signature_watch import META_KEY, recorded, status
from mailbeacon.web.app import create_app
from seeding import Seeded, seed_message

TOOL = "acme-sync/0.9 (build 77)"  # a user agent no list knows, from a home address: unknown


def _click(s: Seeded, clock: FakeClock) -> Hit:
    return Hit(
        uid=uuid.uuid4().hex,
        kind=HitKind.CLICK,
        workspace_id=s.workspace.id,
        message_id=s.message.id,
        recipient_id=s.recipients[0].id,
        at=clock(),
        link=0,
        ip="81.2.69.160",
        user_agent=TOOL,
    )


def _add_row(live: Path, tmp_path: Path) -> None:
    """`mailbeacon signatures update` with an edited user-agent table that names the tool."""
    src = tmp_path / "downloads"
    src.mkdir()
    row = "agent\tcontains\tacme-sync/\tany\tscanner\tgateway\tacme_sync\tAcme's link archiver\ttest\n"
    (src / "user-agents.tsv").write_text((live / "user-agents.tsv").read_text() + row)
    update(src, live, today=date(2026, 12, 2))


def test_the_running_pipeline_uses_updated_signatures_without_a_restart(
    runtime: Runtime, clock: FakeClock, live_signatures: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    s = seed_message(runtime)
    clock.advance(7200)
    pipe = Pipeline(runtime)
    runtime.store.insert_hits([_click(s, clock)])
    pipe.drain()
    (first,) = runtime.store.hits_with_verdicts()
    assert first.verdict is not None and first.verdict.codes[0] == "unrecognised_client"
    old = first.verdict.rules_version
    assert recorded(runtime.store) == {"rules_version": old, "owner": pipe.owner, "at": clock().isoformat()}

    _add_row(live_signatures, tmp_path)
    clock.advance(10)  # the pipeline looks at the files every few seconds
    runtime.store.insert_hits([_click(s, clock)])
    with caplog.at_level(logging.WARNING, logger="mailbeacon.signatures"):
        pipe.drain()
    (logged,) = [r.getMessage() for r in caplog.records]  # its own reload: no word about other nodes
    assert logged.startswith("signature files changed: verdicts now use " + rules_version())
    second = runtime.store.hits_with_verdicts()[-1]
    assert second.verdict is not None and second.verdict.codes[0] == "acme_sync"
    assert second.verdict.rules_version == rules_version() != old  # the stored verdict says which data decided
    assert recorded(runtime.store)["rules_version"] == second.verdict.rules_version  # type: ignore[index]


def test_a_node_deciding_with_other_data_than_the_one_before_is_logged_and_shown(
    runtime: Runtime, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    other = {"rules_version": "2026.11-1+2026-11-27.0badf00d", "owner": "node-a:1:abc", "at": clock().isoformat()}
    runtime.store.set_meta(META_KEY, json.dumps(other))
    assert status(runtime.store) == {"rules_version": rules_version(), "deciding": other, "agrees": False}
    with caplog.at_level(logging.WARNING, logger="mailbeacon.signatures"):
        Pipeline(runtime, owner="node-b:2:def").run_once()
    (warning,) = [r.getMessage() for r in caplog.records]
    assert "node-b:2:def" in warning and rules_version() in warning and "node-a:1:abc" in warning
    assert "0badf00d" in warning
    assert status(runtime.store)["agrees"] is True
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mailbeacon.signatures"):
        Pipeline(runtime, owner="node-c:3:abc").run_once()  # same data: nothing to say
    assert not caplog.records


async def test_healthz_shows_the_data_of_this_node_and_of_the_deciding_node(
    runtime: Runtime, clock: FakeClock, tmp_path: Path
) -> None:
    intake = Intake(runtime.store, tmp_path / "journal", interval=0.01)
    intake.start(asyncio.get_running_loop())
    serving = Pipeline(runtime, owner="this-node")
    stop = asyncio.Event()
    serving.start(stop, asyncio.Event(), busy=lambda: True)  # running, but waiting (a burst): no round of its own
    transport = httpx.ASGITransport(app=create_app(runtime, intake, serving), client=("192.0.2.1", 1234))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t.example.test") as client:
            body = (await client.get("/healthz")).json()
            assert body["classifier"] == {"rules_version": rules_version(), "deciding": None, "agrees": True}
            Pipeline(runtime, owner="node-a").run_once()
            body = (await client.get("/healthz")).json()
            assert body["classifier"]["deciding"]["owner"] == "node-a" and body["classifier"]["agrees"] is True
            runtime.store.set_meta(META_KEY, json.dumps({"rules_version": "2026.11-1+x", "owner": "node-z"}))
            r = await client.get("/healthz")
            assert r.status_code == 200 and r.json()["classifier"]["agrees"] is False
    finally:
        stop.set()
        assert serving.task is not None
        await serving.task
        await intake.stop()


def test_files_that_do_not_load_leave_the_pipeline_deciding_with_the_old_data(
    runtime: Runtime, clock: FakeClock, live_signatures: Path, caplog: pytest.LogCaptureFixture
) -> None:
    s = seed_message(runtime)
    pipe = Pipeline(runtime)
    pipe.run_once()
    version = rules_version()
    (live_signatures / "isbot-patterns.json").write_text('["(unclosed"]')
    (live_signatures / "manifest.json").write_text((live_signatures / "manifest.json").read_text() + "\n")
    clock.advance(10)
    runtime.store.insert_hits([_click(s, clock)])
    with caplog.at_level(logging.ERROR, logger="mailbeacon.signatures"):
        pipe.drain()
    assert any("do not load" in r.getMessage() for r in caplog.records)
    (row,) = runtime.store.hits_with_verdicts()
    assert row.verdict is not None and row.verdict.rules_version == version


def test_an_unreadable_record_is_no_record(runtime: Runtime) -> None:
    for raw in ("not json", "[1, 2]", ""):
        runtime.store.set_meta(META_KEY, raw)
        assert recorded(runtime.store) is None
        assert status(runtime.store)["agrees"] is True
