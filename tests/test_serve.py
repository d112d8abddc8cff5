"""`mailbeacon serve` as a real process: first start, graceful stop, kill -9 — nothing acknowledged is lost."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import make_settings
from mailbeacon.runtime import Runtime
from mailbeacon.store import open_store
from mailbeacon.web.tracking import GIF
from seeding import click_token, open_token, seed_message
from serving import ServeProcess

BOB = "bob@client.example"


@pytest.fixture
def seeded_db(tmp_path: Path, clock: object) -> Iterator[tuple[str, Runtime]]:
    db = f"sqlite:///{tmp_path / 'serve.db'}"
    rt = Runtime.open(make_settings(tmp_path, db), clock=clock)  # type: ignore[arg-type]
    yield db, rt
    rt.close()


def _blast(base: str, paths: list[str]) -> list[httpx.Response]:
    with httpx.Client(base_url=base, timeout=10) as client:
        return [client.get(p) for p in paths]


@pytest.mark.parametrize("http_server", ["granian", "uvicorn"])
def test_graceful_stop_stores_every_acknowledged_hit(
    tmp_path: Path, seeded_db: tuple[str, Runtime], http_server: str
) -> None:
    db, rt = seeded_db
    s = seed_message(rt)
    server = ServeProcess(tmp_path, db, http_server)
    server.start()
    paths = [f"/o/{open_token(rt, s, BOB)}.gif"] * 400 + [f"/c/{click_token(rt, s, BOB, 1)}"] * 100
    answers = _blast(server.base, paths)
    assert sum(r.status_code == 200 and r.content == GIF for r in answers) == 400
    assert sum(r.status_code == 302 for r in answers) == 100
    assert answers[-1].headers["location"] == "https://example.com/b?x=1&y=2"
    assert server.stop() == 0, server.log.read_text()
    store = open_store(db)
    assert store.count_hits() == 500
    store.close()
    assert not list((tmp_path / "data" / "journal").glob("hits-*"))


def test_kill_9_loses_nothing_answered(tmp_path: Path, seeded_db: tuple[str, Runtime]) -> None:
    db, rt = seeded_db
    s = seed_message(rt)
    server = ServeProcess(tmp_path, db, "granian")
    server.start()
    answers = _blast(server.base, [f"/o/{open_token(rt, s, BOB)}"] * 300)
    assert all(r.status_code == 200 for r in answers)
    server.stop(signal.SIGKILL)
    server.start()  # the next start replays what the killed process left in its journal
    store = open_store(db)
    deadline = time.monotonic() + 20
    while store.count_hits() < 300 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert store.count_hits() == 300
    assert server.stop() == 0
    assert store.count_hits() == 300
    store.close()


def test_first_start_sets_up_once(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'fresh.db'}"
    server = ServeProcess(tmp_path, db, "granian")
    server.start()
    assert server.stop() == 0
    first = server.log.read_text()
    assert "mailbeacon is set up" in first
    assert "admin user    admin@mailbeacon.local" in first
    assert "password" in first and "API token     mbt_" in first
    assert f"127.0.0.1:{server.port}" in first
    # how to set the upstream, exactly; the workspace's domain; where the data is; what goes out
    assert "user set-upstream you@yourdomain smtp+starttls://" in first
    assert "MAILBEACON_UPSTREAM_SMTP=smtp+starttls://" in first and "make run" in first
    assert 'upstream_smtp = "smtp+starttls://' in first and "config.toml" in first
    assert "workspace set default --domain yourdomain.com" in first
    assert f"data          {tmp_path / 'data'}" in first
    assert "created a new, empty database at " + db in first
    assert "WARNING mailbeacon: Tracking links use http://t.example.test" in first and "docs/deploy.md" in first
    # where the API's docs page and the dashboard's sign-in are, on the first start and every other
    assert "API docs      http://t.example.test/api/v1/docs" in first
    assert "dashboard     http://t.example.test/signin" in first
    server.start()
    assert server.stop() == 0
    again = server.log.read_text()[len(first) :]
    assert "mailbeacon is set up" not in again
    assert "API docs http://t.example.test/api/v1/docs, dashboard sign-in http://t.example.test/signin" in again
    server.log.write_text("")
    server.start()
    assert server.stop() == 0
    again = server.log.read_text()
    assert "mailbeacon is set up" not in again and "created a new" not in again
    assert "user set-upstream" in again  # still not set: said at every start
