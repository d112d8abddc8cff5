"""Dashboard sign-in over real HTTP: failed attempts are throttled per address and per client (the
throttle HTTP Basic and SMTP AUTH share), and a throttled attempt costs no password check."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from api_world import World, start_world
from seeding import PASSWORD


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from start_world(tmp_path_factory.mktemp("throttle"), trusted_proxies="127.0.0.1/32")


def _sign_in(w: World, email: str, password: str, client: str) -> httpx.Response:
    with httpx.Client(base_url=w.url, headers={"x-forwarded-for": client}) as browser:
        form = browser.get("/signin")
        token = re.search(r'name=csrf value="([^"]+)"', form.text)
        assert token, form.text
        return browser.post("/signin", data={"csrf": token.group(1), "email": email, "password": password})


def test_sign_in_is_throttled_per_address(world: World) -> None:
    for _ in range(5):
        assert _sign_in(world, "carol@acme.test", "wrong", "198.51.100.1").status_code == 401
    # the right password, from another client: the address is locked for now
    locked = _sign_in(world, "carol@acme.test", PASSWORD, "198.51.100.2")
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
    assert "mb_session" not in locked.headers.get("set-cookie", "")
    assert "Too many failed sign-ins" in locked.text
    # another address from that client is not locked
    assert _sign_in(world, "alice@acme.test", PASSWORD, "198.51.100.2").status_code == 303


def test_sign_in_is_throttled_per_client(world: World) -> None:
    for i in range(20):
        assert _sign_in(world, f"nobody{i}@acme.test", "guess", "203.0.113.9").status_code == 401
    blocked = _sign_in(world, "bert@beta.test", PASSWORD, "203.0.113.9")
    assert blocked.status_code == 429 and "retry-after" in blocked.headers
    assert _sign_in(world, "bert@beta.test", PASSWORD, "203.0.113.10").status_code == 303
