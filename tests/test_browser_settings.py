"""The settings and charts pages in a real browser (Debian Chromium) against a real `mailbeacon
serve` with three weeks of realistic activity: sign in, change a switch, make a pairing code,
the charts drawn under the strict Content-Security-Policy, and the accessibility check (axe-core)
at desktop and phone width. Screenshots go to $DASHBOARD_SCREENSHOTS when it is set (docs/screenshots)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from api_world import World, start_world
from axe import violations
from chart_seeding import realistic
from conftest import need_binary
from mailbeacon.store import schema as t
from seeding import PASSWORD

pytestmark = pytest.mark.chromium

SIZES = {"desktop": (1280, 800), "phone": (390, 844)}


def _seed(w: World) -> None:
    with w.rt.store.tx() as conn:  # the screenshots show a workspace by a real name
        conn.execute(update(t.workspaces).where(t.workspaces.c.name == "a").values(name="Acme"))
    senders = [w.rt.store.user(w.users["alice"]), w.rt.store.user(w.users["carol"])]
    realistic(w.rt, senders, datetime.now(UTC), days=30)
    w.rt.store.add_api_token(w.users["alice"], "mbt_crm_export_key", "CRM export", datetime.now(UTC))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    need_binary("chromium", "chromium")
    yield from start_world(tmp_path_factory.mktemp("browser-settings"), before_serve=_seed)


def _shots(tmp_path: Path) -> Path:
    out = Path(os.environ.get("DASHBOARD_SCREENSHOTS", "") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    return out


def _elsewhere(url: str) -> bool:
    """Requests that are not the settings' or charts' own (the event stream, the browser's icon)."""
    return url.endswith(("/favicon.ico", "/api/v1/events/stream"))


def _sign_in(page: Any, url: str) -> None:
    page.goto(f"{url}/signin?next=/app/settings")
    page.get_by_label("Email").fill("alice@acme.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{url}/app/settings")


def test_settings_and_charts_work_and_pass_the_accessibility_check(world: World, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    shots = _shots(tmp_path)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium")
        strict = browser.new_context(viewport={"width": 1280, "height": 800})  # the page's own policy applies
        page = strict.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" and "404" not in m.text else None)
        page.on("response", lambda r: problems.append(r.url) if r.status >= 400 and not _elsewhere(r.url) else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        _sign_in(page, world.url)

        page.get_by_label("Clicks", exact=True).first.select_option("off")  # my own switch
        page.get_by_role("button", name="Save my switches").click()
        assert page.get_by_role("status").first.inner_text().startswith("Your tracking switches are saved: clicks off")
        with world.client("alice") as api:
            assert api.get("/api/v1/me").json()["user"]["tracking"]["track_clicks"] is False

        page.get_by_label("Device name").fill("Work laptop, Chrome")
        page.get_by_role("button", name="Make a pairing code").click()
        code = page.locator("#pair-code").inner_text()
        assert len(code) >= 6
        paired = httpx.post(f"{world.url}/api/v1/devices/pair", json={"code": code, "name": "Work laptop, Chrome"})
        assert paired.status_code == 201, paired.text
        page.get_by_role("button", name="Make a pairing code").focus()
        with page.expect_navigation():
            page.keyboard.press("Enter")  # the keyboard alone makes another code
        assert page.locator("#pair-code").inner_text() != code

        page.goto(f"{world.url}/app/charts")
        page.wait_for_selector("#chart-opens canvas")
        assert page.locator(".uplot").count() == 3  # opens, clicks, time to first open
        assert problems == []  # no script refused by the policy, no error
        signed_in = strict.storage_state()
        strict.close()

        checked = browser.new_context(
            bypass_csp=True, storage_state=signed_in
        )  # axe is injected: the policy would refuse it
        page = checked.new_page()
        for size, (width, height) in SIZES.items():
            page.set_viewport_size({"width": width, "height": height})
            for name, path in (("settings", "/app/settings"), ("charts", "/app/charts")):
                page.goto(f"{world.url}{path}")
                if name == "charts":
                    page.wait_for_selector("#chart-first-open canvas")
                    page.locator("details").first.evaluate("d => d.open = true")
                else:  # the page as it answers a change: the pairing code at the top
                    page.get_by_label("Device name").fill("Home laptop, Firefox")
                    page.get_by_role("button", name="Make a pairing code").click()
                    page.wait_for_selector("#pair-code")
                assert violations(page) == [], (name, size)
                overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                assert overflow <= 0, f"{name} scrolls sideways at {width}px"
                page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = false; })")
                page.screenshot(path=str(shots / f"dashboard-{name}-{size}.png"), full_page=True)
        checked.close()
        browser.close()
