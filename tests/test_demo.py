"""`mailbeacon demo`: the day it plays comes out as PRODUCT.md's scenario table says, the check
fails when a scenario is mis-played, and the served demo answers with the sign-in it printed."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import functools
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from importlib.resources import files

import httpx
import pytest

from conftest import Run
from mailbeacon.demo import check
from mailbeacon.demo.actors import Actor, chromium_major
from mailbeacon.demo.everyday import everyday_sends
from mailbeacon.demo.play import DemoClock
from mailbeacon.demo.script import EXPECTED, MAYA, MAYA_BROWSER, SCENARIO_SENDS, Expected, Send
from mailbeacon.demo.session import Demo, free_port
from mailbeacon.stats import Counts

SENDS = (*SCENARIO_SENDS, *everyday_sends())


def test_demo_check_plays_the_day_and_every_scenario_comes_out_right() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILBEACON_")}
    proc = subprocess.run(
        [sys.executable, "-m", "mailbeacon", "demo", "--check"],
        capture_output=True,
        text=True,
        timeout=240,
        env={**env, "COLUMNS": "80"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    start = lines.index(next(x for x in lines if x.startswith("scenario")))
    table = lines[start : start + 3 + len(check.rows(EXPECTED, {}, sent=0, relayed=0))]
    assert max(len(x) for x in proc.stdout.splitlines()) <= 80
    for e in EXPECTED:
        want = f"{e.opens} / {e.clicks} / {e.replies}"
        row = next(x for x in table if x.startswith(e.label))
        assert row.split()[-1] == "ok" and row.count(want) == 2, row
        for label, _, value in e.also:
            sub = next(x for x in table if x.startswith("  " + label))
            assert sub.split()[-3:] == [str(value), str(value), "ok"], sub
    assert table[-1].split()[-3:] == [str(len(SENDS)), str(len(SENDS)), "ok"]
    assert (
        "NO" not in proc.stdout
        and lines[-1] == f"All {len(table) - 3} checks came out as PRODUCT.md's scenario table says."
    )


def _misplayed() -> tuple[Send, ...]:
    """Maya re-reads her Sent folder in a browser that is not paired (no cookie): counted as the client's."""
    unpaired = dataclasses.replace(MAYA_BROWSER, paired=False)
    out = []
    for s in SENDS:
        if s.scenario == "sent-folder":
            steps = tuple(
                dataclasses.replace(st, actor=unpaired) if st.actor is not None and st.actor.paired else st
                for st in s.steps
            )
            s = dataclasses.replace(s, steps=steps)
        out.append(s)
    return tuple(out)


def test_the_check_fails_when_a_scenario_is_misplayed(cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("mailbeacon.cli.demo.Demo", functools.partial(Demo, sends=_misplayed()))
    code, out, err = cli("demo", "--check", "--port", str(free_port()))
    assert code == 1
    row = next(x for x in out.splitlines() if x.startswith("your Sent folder, paired browser"))
    assert row.endswith("0 / 1 / 0    1 / 1 / 0    NO"), row  # the unpaired browser's open is counted
    assert sum(1 for x in out.splitlines() if x.endswith("NO")) == 1
    assert "1 of 21 checks differ" in out
    assert "Error: the demo's counts differ from PRODUCT.md's scenario table" in err and "Traceback" not in err


async def test_the_served_demo_answers_with_the_sign_in_it_printed() -> None:
    said: list[str] = []
    seen: dict[str, object] = {}
    demo = Demo(say=said.append)

    async def probe() -> None:
        """What a user does with what the demo printed: the server answers, the sign-in works."""
        text = "\n".join(said)
        url = next(x for x in text.split() if x.startswith("http://") and x.endswith("/app")).removesuffix("/app")
        password = next(x.split()[-1] for x in text.splitlines() if x.strip().startswith("password"))
        auth = base64.b64encode(f"{MAYA.email}:{password}".encode()).decode()
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            health = (await http.get("/healthz")).json()
            seen["health"] = health["ok"] or health
            r = await http.get("/api/v1/messages", params={"limit": 100}, headers={"Authorization": f"Basic {auth}"})
            seen["messages"] = (r.status_code, len(r.json()["items"]))

    demo.serve = lambda: asyncio.ensure_future(probe())
    assert await demo.run()
    text = "\n".join(said)
    assert f"  as            {MAYA.email}" in text and "/signin" in text and "Press Ctrl-C to stop." in text
    assert max(len(line) for said_text in said for line in said_text.splitlines()) <= 80
    assert seen == {"health": True, "messages": (200, 50)}  # Maya is the admin: the workspace's 50


# -- the script and the table, without running anything ----------------------------------------


def test_the_script_is_fifty_sends_to_distinct_recipients_with_one_send_per_scenario() -> None:
    assert len(SENDS) == 50
    assert len({s.to for s in SENDS}) == len(SENDS)
    keys = [s.scenario for s in SENDS if s.scenario]
    assert sorted(keys) == sorted(e.key for e in EXPECTED)
    templates = files("mailbeacon.demo") / "templates"
    assert all((templates / s.template).is_file() for s in SENDS)
    manifest = (templates / "MANIFEST.md").read_text()
    assert all(f"`{s.template}`" in manifest for s in SENDS)
    assert all(step.actor is not None for s in SENDS for step in s.steps if step.do in ("open", "click", "scan"))


def test_the_table_fits_80_columns_and_marks_what_differs() -> None:
    expected = [Expected("a", "x" * 60, 1, 2, 3, (("more", "bounces", 1),)), Expected("b", "b", 0, 0, 0)]
    rows = check.rows(expected, {"a": Counts(opens_human=1, clicks_human=2, replies=3)}, sent=2, relayed=1)
    lines = check.table(rows)
    assert max(len(x) for x in lines) <= 80
    assert [r.ok for r in rows] == [True, False, True, False]
    assert lines[3].endswith("1 / 2 / 3    1 / 2 / 3    ok") and lines[4].startswith("  more")
    assert check.summary(rows) == "2 of 4 checks differ from PRODUCT.md's scenario table (marked NO)."


def test_the_demo_clock_stands_until_it_runs() -> None:
    t0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
    clock = DemoClock(t0)
    clock.set(t0 + timedelta(hours=1))
    clock.set(t0)  # never backwards
    assert clock() == clock() == t0 + timedelta(hours=1)
    clock.run()
    assert clock() >= t0 + timedelta(hours=1)
    with pytest.raises(RuntimeError):
        clock.set(t0 + timedelta(hours=2))


def test_browsers_are_the_version_of_the_day() -> None:
    assert chromium_major(date(2023, 12, 5)) == 120
    assert chromium_major(date(2026, 12, 3)) == 154
    a = Actor("Chrome", "Chrome/{chrome}.0.0.0", "192.0.2.1").at(date(2024, 12, 5))
    assert a.user_agent == f"Chrome/{chromium_major(date(2024, 12, 5))}.0.0.0"
