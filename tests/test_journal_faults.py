"""Disk full while journaling, and torn journal records: the pixel answers, nothing is doubled,
a torn record is reported and set aside, never silently skipped, and the rest is replayed."""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from conftest import wait_stored
from mailbeacon.intake import Intake
from mailbeacon.journal import Journal, encode, read_segment
from mailbeacon.model import Hit, HitKind
from mailbeacon.pipeline import Pipeline
from mailbeacon.runtime import Runtime
from mailbeacon.web.app import create_app
from mailbeacon.web.tracking import GIF
from seeding import open_token, seed_message

BOB = "bob@client.example"


class Disk:
    """The journal's write boundary with a disk that can fill up: `room` bytes, then ENOSPC."""

    def __init__(self) -> None:
        self.room: int | None = None  # None: plenty of space
        self.refused = 0

    def write(self, fd: int, data: bytes | memoryview) -> int:
        if self.room is None:
            return os.write(fd, data)
        if self.room == 0:
            self.refused += 1
            raise OSError(errno.ENOSPC, "No space left on device")
        n = os.write(fd, bytes(data[: self.room]))
        self.room -= n
        return n


async def _until(condition: Callable[[], bool], seconds: float = 20.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


async def test_disk_full_the_pixel_answers_and_the_journal_has_each_hit_once(runtime: Runtime, tmp_path: Path) -> None:
    s = seed_message(runtime, [BOB])
    intake = Intake(runtime.store, tmp_path / "journal", interval=0.01)
    disk = Disk()
    intake.journal.write_fd = disk.write
    intake.start(asyncio.get_running_loop())
    app = create_app(runtime, intake, Pipeline(runtime))
    transport = httpx.ASGITransport(app=app, client=("203.0.113.5", 50000))
    token = open_token(runtime, s, BOB)
    async with httpx.AsyncClient(transport=transport, base_url="http://t.example.test") as client:

        async def pixel(n: int) -> None:
            r = await client.get(f"/o/{token}.gif", headers={"User-Agent": f"load/{n}"})
            assert r.status_code == 200 and r.content == GIF

        for n in range(5):
            await pixel(n)
        disk.room = 150  # room for a line and a half, then the disk is full
        for n in range(5, 25):
            await pixel(n)
        assert disk.refused > 0 and intake.state.journal_errors > 0
        disk.room = None  # space again: the retry writes the rest, from where it stopped
        await _until(lambda: not intake.journal.has_buffered)
        (segment,) = (tmp_path / "journal").glob("hits-*.jsonl")
        contents = read_segment(segment)
        assert contents.torn == []  # no half line left in the middle
        assert sorted(h.user_agent for h in contents.hits) == sorted(f"load/{n}" for n in range(25))
        assert await asyncio.to_thread(wait_stored, intake)
    await intake.stop()
    stored = [sv.hit.user_agent for sv in runtime.store.hits_with_verdicts(limit=1000)]
    assert sorted(stored) == sorted(f"load/{n}" for n in range(25))


def _hits(rt: Runtime, n: int) -> list[Hit]:
    s = seed_message(rt, [BOB])
    return [
        Hit(
            uid=f"t{i}",
            kind=HitKind.OPEN,
            workspace_id=s.workspace.id,
            message_id=s.message.id,
            recipient_id=s.recipients[0].id,
            at=rt.clock() + timedelta(milliseconds=i),
            ip="198.51.100.7",
            user_agent=f"load/{i}",
        )
        for i in range(n)
    ]


async def test_torn_records_are_reported_set_aside_and_the_rest_replayed(
    runtime: Runtime, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    hits = _hits(runtime, 50)
    crashed = Journal(tmp_path / "journal", "1x00dead")
    for i, h in enumerate(hits, 1):
        crashed.buffer(i, encode(i, h))
    crashed.flush()
    for seg in crashed._segments:  # the process dies: descriptors and locks go, the file stays
        os.close(seg.fd)
    (path,) = (tmp_path / "journal").glob("hits-*.jsonl")
    lines = path.read_bytes().splitlines(keepends=True)
    lines[19] = lines[19][:30] + lines[19][-20:]  # a record with its middle cut out
    lines[-1] = lines[-1][:25]  # the file cut short in the last record
    path.write_bytes(b"".join(lines))
    caplog.set_level(logging.ERROR, logger="mailbeacon.intake")
    intake = Intake(runtime.store, tmp_path / "journal", interval=0.01)
    intake.start(asyncio.get_running_loop())
    await _until(lambda: intake.state.replayed == 48)
    await intake.stop()
    stored = {sv.hit.user_agent for sv in runtime.store.hits_with_verdicts(limit=1000)}
    assert stored == {f"load/{i}" for i in range(50)} - {"load/19", "load/49"}
    assert intake.state.torn == 2
    (aside,) = (tmp_path / "journal").glob("torn-*.jsonl")
    records = [json.loads(line) for line in aside.read_text().splitlines()]
    assert [r["segment"] for r in records] == [path.name, path.name]
    assert records[0]["offset"] == sum(len(x) for x in lines[:19])
    assert records[1]["bytes"].encode("latin-1") == lines[-1]
    assert any("2 torn record(s)" in r.getMessage() for r in caplog.records)
    assert not path.exists()  # replayed: the segment is gone, the torn records stay visible
