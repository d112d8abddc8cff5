"""The intake keeps every acknowledged hit: graceful stops, outages, overflow, crashes."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from mailbeacon.intake import Intake
from mailbeacon.journal import Journal, encode
from mailbeacon.model import Hit, HitKind
from mailbeacon.runtime import Runtime
from mailbeacon.store import open_store
from netproxy import TcpProxy
from seeding import seed_message


def _store_down(intake: Intake) -> bool:
    """Read afresh (the writer thread changes it while the test awaits)."""
    return intake.state.store_down


def _hits(rt: Runtime, n: int, **kw: object) -> list[Hit]:
    s = seed_message(rt)
    r = s.recipients[0]
    return [
        Hit(
            uid=f"t{i}",
            kind=HitKind.OPEN,
            workspace_id=s.workspace.id,
            message_id=s.message.id,
            recipient_id=r.id,
            at=rt.clock() + timedelta(milliseconds=i),
            ip="198.51.100.7",
            user_agent="Mozilla/5.0",
            headers={"accept": "image/*"},
            **kw,  # type: ignore[arg-type]
        )
        for i in range(n)
    ]


async def test_graceful_stop_stores_everything(any_runtime: Runtime, tmp_path: Path) -> None:
    intake = Intake(any_runtime.store, tmp_path / "journal", batch_size=64, interval=0.01)
    intake.start(asyncio.get_running_loop())
    hits = _hits(any_runtime, 1500)
    for h in hits:
        intake.record(h)
    await intake.stop()
    assert any_runtime.store.count_hits() == 1500
    assert intake.state.stored == 1500 and intake.pending == 0
    assert list((tmp_path / "journal").iterdir()) == []  # nothing left to replay
    stored = any_runtime.store.pending_hits(1)[0]
    assert stored.headers == {"accept": "image/*"} and stored.at == hits[0].at


async def test_hits_written_to_the_journal_survive_a_crash(runtime: Runtime, tmp_path: Path) -> None:
    """A process that dies leaves its journal; the next start stores it (kill -9 loses nothing written)."""
    hits = _hits(runtime, 300)
    crashed = Journal(tmp_path / "journal", "1x00dead")
    for i, h in enumerate(hits, 1):
        crashed.buffer(i, encode(i, h))
    crashed.flush()
    # the process dies: its file descriptors (and flocks) go away, the files stay
    for seg in crashed._segments:
        import os

        os.close(seg.fd)
    seg_path = next((tmp_path / "journal").iterdir())
    with open(seg_path, "ab") as f:
        f.write(b'[301,"torn')  # a line the crash cut in half
    assert runtime.store.count_hits() == 0
    intake = Intake(runtime.store, tmp_path / "journal", interval=0.01)
    intake.start(asyncio.get_running_loop())
    for _ in range(500):
        if intake.state.replayed == 300:
            break
        await asyncio.sleep(0.01)
    await intake.stop()
    assert runtime.store.count_hits() == 300
    assert not seg_path.exists()


def test_journal_lines_round_trip(runtime: Runtime) -> None:
    from mailbeacon.journal import decode

    h = _hits(runtime, 1, device_id="dv_1")[0]
    seq, back = decode(encode(7, h).rstrip(b"\n"))
    assert seq == 7 and back == h
    assert json.loads(encode(1, h))[1] == h.uid


@pytest.mark.postgres
async def test_database_outage_spools_and_replays(pg_url: str, tmp_path: Path, runtime: Runtime) -> None:
    """The database goes away mid-stream; the queue overflows; everything is stored once it returns."""
    proxy = TcpProxy("127.0.0.1", 5432)
    store = open_store(proxy.url(pg_url))
    seeded_rt = Runtime(runtime.settings, store, runtime.keyring, runtime.clock)
    hits = _hits(seeded_rt, 600)
    before = store.count_hits()
    intake = Intake(store, tmp_path / "journal", batch_size=50, interval=0.01, queue_size=100)
    intake.start(asyncio.get_running_loop())
    for h in hits[:100]:
        intake.record(h)
    for _ in range(300):
        if intake.state.stored == 100:
            break
        await asyncio.sleep(0.01)
    assert intake.state.stored == 100
    proxy.down()
    for h in hits[100:]:
        intake.record(h)
    for _ in range(300):
        if intake.state.store_down:
            break
        await asyncio.sleep(0.01)
    assert intake.state.store_down
    assert intake.state.overflowed > 0  # some hits exist only in the journal now
    await asyncio.sleep(0.3)
    proxy.up()
    for _ in range(1000):
        if intake.pending == 0 and not _store_down(intake):
            break
        await asyncio.sleep(0.01)
    await intake.stop()
    assert store.count_hits() - before == 600
    assert {h.uid for h in hits} <= {sv.hit.uid for sv in store.hits_with_verdicts(limit=100_000)}
    store.close()
    proxy.down()


@pytest.mark.postgres
async def test_a_row_the_database_refuses_is_kept_aside(pg_url: str, tmp_path: Path, runtime: Runtime) -> None:
    store = open_store(pg_url)
    rt = Runtime(runtime.settings, store, runtime.keyring, runtime.clock)
    good = _hits(rt, 5)
    bad = replace(good[0], uid="bad", method="X" * 50)  # longer than the column allows
    intake = Intake(store, tmp_path / "journal", interval=0.01)
    intake.start(asyncio.get_running_loop())
    for h in [*good[:2], bad, *good[2:]]:
        intake.record(h)
    await intake.stop()
    assert intake.state.rejected == 1
    rejected = list((tmp_path / "journal").glob("rejected-*.jsonl"))
    assert len(rejected) == 1 and b'"bad"' in rejected[0].read_bytes()
    uids = {sv.hit.uid for sv in store.hits_with_verdicts(limit=100_000)}
    assert {h.uid for h in good} <= uids and "bad" not in uids
    store.close()
