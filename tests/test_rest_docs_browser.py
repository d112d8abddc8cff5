"""The API docs page in Chromium: Swagger UI from the vendored files renders the served OpenAPI
document under the strict Content-Security-Policy, with no policy violation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from api_world import World, start_world
from conftest import need_binary

pytestmark = pytest.mark.chromium


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    need_binary("chromium", "chromium")
    yield from start_world(tmp_path_factory.mktemp("docs"))


def test_the_docs_page_renders_under_its_csp(world: World, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-quic"]  # fmt: skip
    console: list[str] = []
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=args)
        page = browser.new_page()
        page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(f"{world.url}/api/v1/docs")
        page.wait_for_selector(".opblock", timeout=20_000)
        assert page.locator(".opblock").count() >= 20  # every operation is listed
        browser.close()
    violations = [c for c in console if "Content Security Policy" in c or "Refused to" in c]
    assert violations == [], violations
    assert all(u.startswith(world.url) for u in requests), [u for u in requests if not u.startswith(world.url)]
