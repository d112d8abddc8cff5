"""The dashboard's pages over real HTTP (a running `mailbeacon serve`): sign-in, the sent list."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from api_world import World, start_world
from seeding import PASSWORD


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from start_world(tmp_path_factory.mktemp("dashboard"))


@contextmanager
def signed_in(w: World, email: str, next_path: str = "") -> Iterator[httpx.Client]:
    """A browser-like client signed in to the dashboard as `email` (the form, its CSRF value, the password)."""
    with httpx.Client(base_url=w.url, timeout=30) as browser:
        yield _sign_in(browser, email, next_path)


def _sign_in(browser: httpx.Client, email: str, next_path: str) -> httpx.Client:
    form = browser.get("/signin" + (f"?next={next_path}" if next_path else ""))
    token = re.search(r'name=csrf value="([^"]+)"', form.text)
    assert token, form.text
    ok = browser.post(
        "/signin", data={"csrf": token.group(1), "email": email, "password": PASSWORD, "next": next_path or "/app"}
    )
    assert ok.status_code == 303, ok.text
    assert ok.headers["location"] == (next_path or "/app")
    return browser


def test_pages_need_a_session_and_come_back_after_signing_in(world: World) -> None:
    anonymous = httpx.get(f"{world.url}/app?before=9")
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/signin?next=/app%3Fbefore%3D9"
    with httpx.Client(base_url=world.url, headers=world.auth("alice")) as api_key:  # an API key opens no page
        assert api_key.get("/app").status_code == 303
    form = httpx.get(f"{world.url}/signin?next=/app/messages/1")
    assert 'name=next value="/app/messages/1"' in form.text
    with signed_in(world, "alice@acme.test", "/app/messages/1") as browser:
        assert browser.cookies.get("mb_session")
    for hostile in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "/app\r\nSet-Cookie:x"):
        form = httpx.get(f"{world.url}/signin", params={"next": hostile})
        assert 'name=next value="/app"' in form.text, hostile


def test_the_sent_list_shows_each_recipients_state_with_a_strict_policy(world: World) -> None:
    with signed_in(world, "alice@acme.test") as browser:
        page = browser.get("/app")
        assert page.status_code == 200
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert page.headers["cache-control"] == "no-store"
        assert "<h1>Sent</h1>" in page.text and "Proposal" in page.text
        assert 'class="state state-sent">Sent<' in page.text
        assert "<script>" not in page.text and " on" + "click=" not in page.text  # no inline script
        static = browser.get("/app/static/vendor/htmx-2.0.11.min.js")
        assert static.status_code == 200 and "htmx" in static.text
    with signed_in(world, "carol@acme.test") as member:  # a member sees their own mail only
        mine = member.get("/app").text
        assert mine.count('href="/app/messages/') == 1
        assert "dan@client.example" in mine and "bob@client.example" not in mine
