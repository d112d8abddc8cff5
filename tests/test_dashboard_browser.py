"""The dashboard in a real browser (Debian Chromium, headless) against the real `mailbeacon serve`
with a realistic few days of mail (dashboard_world.py): sign in, the sent list, a message page, its
Why? panel, follow up — by keyboard, with axe-core's check (no serious or critical violation) on
each page at desktop width and at 390 px; a live notification after a person's open; screenshots.

Screenshots: `DASHBOARD_SCREENSHOTS=docs/screenshots CI=true pytest tests/test_dashboard_browser.py`
writes docs/screenshots/dashboard-*.png (without it they go to a temporary directory; conftest
clears MAILBEACON_* variables, hence the name).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from axe import violations
from conftest import need_binary
from dashboard_world import OUTLOOK_UA, Day, start_day
from seeding import PASSWORD

pytestmark = pytest.mark.chromium

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]  # fmt: skip


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Day]:
    need_binary("chromium", "chromium")
    yield from start_day(tmp_path_factory.mktemp("browser-day"))


@pytest.fixture(scope="module")
def browser(day: Day) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        yield b
        b.close()


def _signed_in(browser: Any, day: Day, viewport: dict[str, int], email: str = "alice@acme.test") -> Any:
    """A new page signed in through the form (the context may run axe: `bypass_csp`)."""
    context = browser.new_context(viewport=viewport, bypass_csp=True)
    page = context.new_page()
    page.goto(f"{day.world.url}/app")
    assert "/signin" in page.url  # sent to the form, and back afterwards
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{day.world.url}/app")
    return page


def _axe_clean(page: Any, where: str) -> None:
    found = violations(page)
    assert found == [], f"{where}: {found}"


def _fits(page: Any, where: str) -> None:
    """Nothing wider than the screen: no sideways scrolling."""
    wide = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert wide <= 0, f"{where}: {wide}px wider than the screen"


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_walk_the_reading_pages_by_keyboard_with_no_serious_violation(
    browser: Any, day: Day, viewport: dict[str, int]
) -> None:
    page = _signed_in(browser, day, viewport)
    # the skip link comes first and is visible when focused
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    assert page.locator("a.skip").bounding_box()["x"] >= 0
    _axe_clean(page, "sent list")
    _fits(page, "sent list")
    # search by typing, then a filter, by their labels
    page.get_by_label("Search", exact=True).fill("northwind")
    page.get_by_label("Search", exact=True).press("Enter")
    page.wait_for_url(re.compile(r"q=northwind"))
    assert page.locator("td.subject a").all_inner_texts() == ["Q1 proposal for Northwind"]
    page.get_by_label("Show").select_option("machines")
    page.get_by_label("Search", exact=True).fill("")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"show=machines"))
    assert page.locator("td.subject a").all_inner_texts() == ["Security review follow-up"]
    _axe_clean(page, "sent list, filtered")
    # a message page, its Why? panel opened from the keyboard
    page.goto(f"{day.world.url}/app")
    page.get_by_role("link", name="Q1 proposal for Northwind").click()
    page.wait_for_url(re.compile(r"/app/messages/\d+$"))
    assert page.locator("li.entry.muted").count() == 6  # the gateway (4), Apple's prefetch, the sender's own
    assert page.locator("li.entry:not(.muted)").count() >= 8
    _axe_clean(page, "message")
    _fits(page, "message")
    why = page.locator("details.why summary").first
    why.focus()
    page.keyboard.press("Enter")
    assert page.locator("details.why").first.evaluate("d => d.open")
    assert page.locator("details.why").first.locator("li.line").count() >= 10
    _axe_clean(page, "message with the Why? panel open")
    # follow up, and its form by label
    page.get_by_role("link", name="Follow up").click()
    page.wait_for_url(re.compile(r"/app/follow-up$"))
    assert page.get_by_label("Suggest a follow-up when there is no reply after").input_value() == "3"
    assert "priya@contoso.example" in page.locator("ul.nudges").first.inner_text()
    _axe_clean(page, "follow up")
    _fits(page, "follow up")
    page.context.close()


def _has_stream(day: Day) -> bool:
    """Whether the server has the event stream (it is not in the OpenAPI document: an anonymous
    request is refused by an existing route, and not found otherwise)."""
    return httpx.get(f"{day.world.url}/api/v1/events/stream", timeout=30).status_code != 404


def test_a_persons_open_appears_as_a_toast_without_reloading(browser: Any, day: Day) -> None:
    if not _has_stream(day):
        pytest.skip("needs /api/v1/events/stream (branch events)")
    page = _signed_in(browser, day, DESKTOP)
    with page.expect_response(re.compile(r"/api/v1/events/stream")):
        page.reload()
    rt = day.world.rt
    mid = day.ids["new"]
    msg = rt.store.message(mid)
    rcpt = rt.store.recipient_of(mid, "kim@relecloud.example")
    from mailbeacon.model import HitKind

    token = rt.keyring.sign(HitKind.OPEN, msg.workspace_id, mid, rcpt.id)
    pixel = httpx.get(f"{day.world.url}/o/{token}.gif",
                      headers={"User-Agent": OUTLOOK_UA, "X-Forwarded-For": "81.2.69.161"})  # fmt: skip
    assert pixel.status_code == 200
    toast = page.locator(".toast", has_text="kim@relecloud.example")
    toast.wait_for(timeout=60_000)  # the pipeline decides it, the stream tells the page
    assert toast.locator("a").get_attribute("href") == f"/app/messages/{mid}"
    page.context.close()


SHOTS = (("sent", "/app"), ("message", "/app/messages/{rich}"), ("follow-up", "/app/follow-up"))


def test_screenshots_of_the_reading_pages(browser: Any, day: Day, tmp_path: Path) -> None:
    wanted = os.environ.get("DASHBOARD_SCREENSHOTS")  # relative to the repository
    out = Path(__file__).resolve().parent.parent / wanted if wanted else tmp_path
    out.mkdir(parents=True, exist_ok=True)
    for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page = _signed_in(browser, day, viewport)
        for name, path in SHOTS:
            page.goto(day.world.url + path.format(rich=day.ids["rich"]))
            if name == "message":
                page.locator("details.why").first.evaluate("d => d.open = true")
            target = out / f"dashboard-{name}-{size}.png"
            page.screenshot(path=str(target), full_page=name != "message" or size == "desktop")
            assert target.stat().st_size > 10_000
        page.context.close()
