"""The dashboard in a real browser on the demo's data (`mailbeacon demo`, served): sign in with the
sign-in it printed, walk every page — the sent list, a message with its Why? panel, follow up,
settings, charts — with axe-core's check (no serious or critical violation) on each."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from axe import violations
from conftest import need_binary
from mailbeacon.demo.script import MAYA
from mailbeacon.demo.session import Demo

pytestmark = pytest.mark.chromium

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
#: every page of the dashboard's navigation (a page missing from the app fails the walk)
PAGES = ("/app", "/app/follow-up", "/app/settings", "/app/charts")


def _walk(url: str, password: str) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    seen: dict[str, Any] = {"problems": {}}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True).new_page()
            page.goto(f"{url}/app")
            page.get_by_label("Email").fill(MAYA.email)
            page.get_by_label("Password").fill(password)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"{url}/app")
            for path in PAGES:
                answer = page.goto(f"{url}{path}")
                seen[path] = answer.status if answer else None
                seen["problems"][path] = violations(page)
            answer = page.goto(f"{url}/app/no-such-page")
            seen["unknown page"] = answer.status if answer else None
            seen["problems"]["unknown page"] = violations(page)
            page.goto(f"{url}/app")
            seen["messages on the first page"] = page.locator('a[href^="/app/messages/"]').count()
            page.locator('a[href^="/app/messages/"]').first.click()
            page.wait_for_url(f"{url}/app/messages/*")
            page.locator("summary").first.click()  # the first recipient's Why?
            seen["why"] = page.locator("details[open]").first.inner_text()
            seen["problems"]["message"] = violations(page)
        finally:
            browser.close()
    return seen


async def test_every_page_on_the_demo_data_in_a_real_browser() -> None:
    need_binary("chromium", "chromium")
    said: list[str] = []
    seen: dict[str, Any] = {}
    demo = Demo(say=said.append)

    async def browse() -> None:
        text = "\n".join(said)
        url = next(x for x in text.split() if x.startswith("http://") and x.endswith("/app")).removesuffix("/app")
        password = next(x.split()[-1] for x in text.splitlines() if x.strip().startswith("password"))
        seen.update(await asyncio.to_thread(_walk, url, password))

    demo.serve = lambda: asyncio.ensure_future(browse())
    assert await demo.run()
    assert all(seen[path] == 200 for path in PAGES), seen
    assert seen["messages on the first page"] >= 20  # the day's 50 emails, a page at a time
    assert "Checklist" in seen["why"]
    assert seen["unknown page"] == 404  # the dashboard's own page, with its navigation
    assert seen["problems"] == {where: [] for where in (*PAGES, "unknown page", "message")}
