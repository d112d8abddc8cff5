"""Dashboard sessions expire on the server: after `session_idle` unused, and `session_lifetime`
after signing in however much they are used; a session in use is stamped again (a new cookie,
no database write) at most every few minutes; an expired one is no session."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from conftest import FakeClock
from mailbeacon.devices import SESSION_RESTAMP
from mailbeacon.intake import Intake
from mailbeacon.pipeline import Pipeline
from mailbeacon.runtime import Runtime
from mailbeacon.web.app import create_app
from seeding import PASSWORD, seed_account

IDLE = 12 * 3600
LIFETIME = 14 * 86400


@pytest.fixture
async def browser(runtime: Runtime, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    seed_account(runtime)
    intake = Intake(runtime.store, tmp_path / "journal", interval=0.01)
    transport = httpx.ASGITransport(app=create_app(runtime, intake, Pipeline(runtime)))
    async with httpx.AsyncClient(transport=transport, base_url="http://t.example.test") as client:
        yield client


async def sign_in(browser: httpx.AsyncClient) -> None:
    form = await browser.get("/signin")
    found = re.search(r'name=csrf value="([^"]+)"', form.text)
    assert found, form.text
    r = await browser.post("/signin", data={"csrf": found.group(1), "email": "alice@acme.test", "password": PASSWORD})
    assert r.status_code == 303


def session_cookie(r: httpx.Response) -> str | None:
    return next((c for c in r.headers.get_list("set-cookie") if c.startswith("mb_session=")), None)


async def test_the_defaults_are_12_hours_idle_and_14_days_in_all(runtime: Runtime) -> None:
    assert (runtime.settings.session_idle, runtime.settings.session_lifetime) == (IDLE, LIFETIME)


async def test_an_unused_session_expires_and_the_sign_in_page_says_so(
    runtime: Runtime, browser: httpx.AsyncClient, clock: FakeClock
) -> None:
    await sign_in(browser)
    clock.advance(IDLE - 1)
    assert (await browser.get("/api/v1/me")).status_code == 200  # used just in time: stamped again
    clock.advance(IDLE - 1)
    assert (await browser.get("/api/v1/me")).status_code == 200
    clock.advance(IDLE + 1)
    r = await browser.get("/api/v1/me")
    assert r.status_code == 401 and "session expired" in r.json()["detail"]
    page = await browser.get("/signin")
    assert "Your session expired: sign in again." in page.text and "Signed in as" not in page.text
    assert session_cookie(page) is not None and "mb_session" not in browser.cookies  # the browser forgets it
    await sign_in(browser)
    assert (await browser.get("/api/v1/me")).json()["via"] == "session"


async def test_a_session_in_use_still_ends_after_its_lifetime(
    runtime: Runtime, browser: httpx.AsyncClient, clock: FakeClock
) -> None:
    await sign_in(browser)
    used = 0
    while used + IDLE // 2 < LIFETIME:
        clock.advance(IDLE // 2)
        used += IDLE // 2
        assert (await browser.get("/api/v1/me")).status_code == 200, used
    clock.advance(LIFETIME - used + 1)
    r = await browser.get("/api/v1/me")
    assert r.status_code == 401 and "session expired" in r.json()["detail"]


async def test_a_session_is_stamped_again_every_few_minutes_without_a_write(
    runtime: Runtime, browser: httpx.AsyncClient, clock: FakeClock
) -> None:
    await sign_in(browser)
    token = (await browser.get("/api/v1/me")).json()["csrf_token"]
    writes: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith(("UPDATE", "INSERT", "DELETE")):
            writes.append(statement)

    event.listen(runtime.store.engine, "before_cursor_execute", count)
    try:
        fresh = []
        stamped = ""
        for _ in range(12):  # a request a minute for 12 minutes
            clock.advance(60)
            r = await browser.get("/api/v1/me")
            assert r.status_code == 200
            fresh.append(session_cookie(r) is not None)
            stamped = session_cookie(r) or stamped
            assert r.json()["csrf_token"] == token  # the CSRF token outlives the stamp
    finally:
        event.remove(runtime.store.engine, "before_cursor_execute", count)
    assert writes == []
    every = int(SESSION_RESTAMP.total_seconds() // 60)
    assert fresh == [i % every == every - 1 for i in range(12)]  # minutes 5 and 10
    assert "HttpOnly" in stamped and "SameSite=lax" in stamped
    # a change with the token still works after the stamps
    r = await browser.post("/api/v1/keys", json={"name": "k"}, headers={"X-CSRF-Token": token})
    assert r.status_code == 201


async def test_signing_out_revokes_the_device_and_is_not_stamped_back(
    runtime: Runtime, browser: httpx.AsyncClient, clock: FakeClock
) -> None:
    await sign_in(browser)
    old = browser.cookies["mb_session"]
    clock.advance(SESSION_RESTAMP.total_seconds() + 1)  # the next answer would stamp it again
    page = await browser.get("/signin")
    token = re.search(r'name=csrf value="([^"]+)"', page.text)
    assert token
    r = await browser.post("/signout", data={"csrf": token.group(1)})
    assert r.status_code == 303
    assert [c for c in r.headers.get_list("set-cookie") if c.startswith("mb_session=")] == [
        c for c in r.headers.get_list("set-cookie") if c.startswith('mb_session=""')
    ]
    (dev,) = [d for d in runtime.store.devices(runtime.store.user("alice@acme.test").id, include_revoked=True)]
    assert dev.revoked_at is not None
    browser.cookies.clear()
    assert (await browser.get("/api/v1/me", headers={"Cookie": f"mb_session={old}"})).status_code == 401
