"""The tracking endpoints through real HTTP semantics (in-process ASGI) and the real store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from conftest import make_settings, wait_stored
from mailbeacon.intake import Intake
from mailbeacon.model import HitKind
from mailbeacon.pipeline import Pipeline
from mailbeacon.runtime import Runtime
from mailbeacon.web.app import create_app
from mailbeacon.web.tracking import DEVICE_COOKIE, DEVICE_COOKIE_PURPOSE, GIF
from netproxy import TcpProxy
from seeding import Seeded, click_token, decoy_token, open_token, seed_message

BOB = "bob@client.example"
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"


@dataclass
class Env:
    rt: Runtime
    intake: Intake
    client: httpx.AsyncClient
    seeded: Seeded

    async def stored(self) -> list:  # type: ignore[type-arg]
        assert await asyncio.to_thread(wait_stored, self.intake)
        return [sv.hit for sv in self.rt.store.hits_with_verdicts(limit=1000)]


async def _env(rt: Runtime, tmp_path: Path, client_ip: str = "203.0.113.5") -> AsyncIterator[Env]:
    intake = Intake(rt.store, tmp_path / "journal", interval=0.01)
    intake.start(asyncio.get_running_loop())
    app = create_app(rt, intake, Pipeline(rt))
    transport = httpx.ASGITransport(app=app, client=(client_ip, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://t.example.test") as client:
        yield Env(rt, intake, client, seed_message(rt, [BOB, "carol@client.example"]))
    await intake.stop()


@pytest.fixture
async def env(runtime: Runtime, tmp_path: Path) -> AsyncIterator[Env]:
    async for e in _env(runtime, tmp_path):
        yield e


async def test_pixel_answers_the_gif_and_records_the_hit(env: Env) -> None:
    token = open_token(env.rt, env.seeded, BOB)
    r = await env.client.get(
        f"/o/{token}.gif",
        headers={
            "User-Agent": CHROME,
            "Accept": "image/avif,image/webp,*/*",
            "Sec-Fetch-Dest": "image",
            "Sec-CH-UA": '"Chromium";v="131"',
            "Authorization": "Bearer secret",
            "X-Custom": "dropped",
        },
    )
    assert r.status_code == 200 and r.content == GIF and len(GIF) == 43
    assert r.headers["content-type"] == "image/gif"
    assert r.headers["cache-control"] == "no-store, no-cache, max-age=0, must-revalidate"
    (hit,) = await env.stored()
    assert hit.kind is HitKind.OPEN and hit.recipient_id == env.seeded.rcpt(BOB).id
    assert hit.method == "GET" and hit.ip == "203.0.113.5" and hit.user_agent == CHROME
    assert hit.headers == {
        "accept": "image/avif,image/webp,*/*",
        "sec-fetch-dest": "image",
        "sec-ch-ua": '"Chromium";v="131"',
    }
    assert hit.at == env.rt.clock()


async def test_pixel_without_suffix_and_head(env: Env) -> None:
    token = open_token(env.rt, env.seeded, BOB)
    assert (await env.client.get(f"/o/{token}")).content == GIF
    head = await env.client.head(f"/o/{token}.gif")
    assert head.status_code == 200 and head.content == b"" and head.headers["content-length"] == "43"
    hits = await env.stored()
    assert [h.method for h in hits] == ["GET", "HEAD"]


@pytest.mark.parametrize("bad", ["garbage", "AAAAAAAAAAAAAAAAAAAAAAAAAAAA", "", "x.gif", "%27"])
async def test_forged_pixel_still_gets_the_gif_and_records_nothing(env: Env, bad: str) -> None:
    r = await env.client.get(f"/o/{bad}")
    assert r.status_code == 200 and r.content == GIF
    assert await env.stored() == []


async def test_pixel_with_a_click_token_records_nothing(env: Env) -> None:
    r = await env.client.get(f"/o/{click_token(env.rt, env.seeded, BOB, 0)}.gif")
    assert r.content == GIF
    assert await env.stored() == []


async def test_only_get_and_head(env: Env) -> None:
    token = open_token(env.rt, env.seeded, BOB)
    assert (await env.client.post(f"/o/{token}")).status_code == 405
    assert (await env.client.post(f"/c/{click_token(env.rt, env.seeded, BOB, 0)}")).status_code == 405
    assert await env.stored() == []


async def test_click_redirects_to_the_stored_url_only(env: Env) -> None:
    token = click_token(env.rt, env.seeded, BOB, 1)
    r = await env.client.get(f"/c/{token}?url=https://evil.example/", headers={"User-Agent": CHROME})
    assert r.status_code == 302
    assert r.headers["location"] == "https://example.com/b?x=1&y=2"
    assert "no-store" in r.headers["cache-control"]
    head = await env.client.head(f"/c/{token}")
    assert head.status_code == 302 and head.headers["location"] == "https://example.com/b?x=1&y=2"
    hits = await env.stored()
    assert [(h.kind, h.link, h.method) for h in hits] == [(HitKind.CLICK, 1, "GET"), (HitKind.CLICK, 1, "HEAD")]


@pytest.mark.parametrize("suffix", ["", "%27", "'", "x"])
async def test_bad_click_token_is_a_404_never_a_redirect(env: Env, suffix: str) -> None:
    good = click_token(env.rt, env.seeded, BOB, 0)
    for path in (f"/c/{good[:-2]}{suffix}", f"/c/garbage{suffix}", f"/c/{open_token(env.rt, env.seeded, BOB)}"):
        r = await env.client.get(path)
        assert r.status_code == 404 and "location" not in r.headers
        assert b"not valid" in r.content
    assert await env.stored() == []


async def test_click_on_a_link_that_does_not_exist(env: Env) -> None:
    r = await env.client.get(f"/c/{click_token(env.rt, env.seeded, BOB, 42)}")
    assert r.status_code == 404 and "location" not in r.headers
    assert await env.stored() == []


async def test_decoy_link_answers_a_blank_page_and_records_a_decoy_hit(env: Env) -> None:
    r = await env.client.get(f"/c/{decoy_token(env.rt, env.seeded, BOB)}")
    assert r.status_code == 200 and "location" not in r.headers
    (hit,) = await env.stored()
    assert hit.kind is HitKind.DECOY and hit.link is None


async def test_paired_device_cookie_is_recorded_only_when_valid(env: Env) -> None:
    token = open_token(env.rt, env.seeded, BOB)
    good = env.rt.keyring.sign_value(DEVICE_COOKIE_PURPOSE, "dv_laptop")
    await env.client.get(f"/o/{token}", headers={"Cookie": f"theme=dark; {DEVICE_COOKIE}={good}"})
    await env.client.get(
        f"/o/{token}", headers={"Cookie": f"{DEVICE_COOKIE}={good[:-1]}{'B' if good.endswith('A') else 'A'}"}
    )
    await env.client.get(f"/o/{token}", headers={"Cookie": f"{DEVICE_COOKIE}=dv_laptop"})
    hits = await env.stored()
    assert [h.device_id for h in hits] == ["dv_laptop", None, None]


async def test_headers_are_capped(env: Env) -> None:
    token = open_token(env.rt, env.seeded, BOB)
    await env.client.get(f"/o/{token}", headers={"User-Agent": "U" * 5000, "Accept": "a" * 5000, "Referer": "r" * 9})
    (hit,) = await env.stored()
    assert len(hit.user_agent) == 1024
    assert hit.headers["accept"] == "a" * 512 and hit.headers["referer"] == "r" * 9


@pytest.mark.parametrize(
    ("trusted", "peer", "xff", "expected"),
    [
        ((), "203.0.113.5", "1.2.3.4", "203.0.113.5"),  # no trusted proxies: the header is ignored
        (("10.0.0.0/8",), "203.0.113.5", "1.2.3.4", "203.0.113.5"),  # peer is not a trusted proxy
        (("10.0.0.0/8",), "10.1.1.1", "1.2.3.4", "1.2.3.4"),
        (("10.0.0.0/8",), "10.1.1.1", "6.6.6.6, 1.2.3.4, 10.9.9.9", "1.2.3.4"),  # rightmost untrusted
        (("10.0.0.0/8",), "10.1.1.1", "not-an-ip", "10.1.1.1"),
        (("10.0.0.0/8", "::1/128"), "::1", "2001:db8::7", "2001:db8::7"),
    ],
)
async def test_client_address(
    tmp_path: Path, sqlite_url: str, clock: object, trusted: tuple[str, ...], peer: str, xff: str, expected: str
) -> None:
    settings = make_settings(tmp_path, sqlite_url, trusted_proxies=",".join(trusted))
    rt = Runtime.open(settings, clock=clock, migrate=False)  # type: ignore[arg-type]
    async for e in _env(rt, tmp_path, client_ip=peer):
        await e.client.get(f"/o/{open_token(rt, e.seeded, BOB)}", headers={"X-Forwarded-For": xff})
        (hit,) = await e.stored()
        assert hit.ip == expected
    rt.close()


@pytest.mark.postgres
async def test_database_down_pixel_served_hits_kept_and_stored_later(
    tmp_path: Path, pg_url: str, clock: object
) -> None:
    proxy = TcpProxy("127.0.0.1", 5432)
    rt = Runtime.open(make_settings(tmp_path, proxy.url(pg_url)), clock=clock, migrate=False)  # type: ignore[arg-type]
    async for e in _env(rt, tmp_path):
        cached = click_token(rt, e.seeded, BOB, 0)
        assert (await e.client.get(f"/c/{cached}")).status_code == 302  # now cached
        assert await e.stored()
        proxy.down()
        for _ in range(20):
            r = await e.client.get(f"/o/{open_token(rt, e.seeded, BOB)}.gif")
            assert r.status_code == 200 and r.content == GIF
        assert (await e.client.get(f"/c/{cached}")).headers["location"] == "https://example.com/a"
        uncached = await e.client.get(f"/c/{click_token(rt, e.seeded, BOB, 2)}")  # from the link book
        assert uncached.status_code == 302 and uncached.headers["location"] == "https://example.org/c"
        for _ in range(200):
            if e.intake.state.store_down:
                break
            await asyncio.sleep(0.01)
        assert e.intake.state.store_down
        proxy.up()
        hits = await e.stored()
        assert sum(h.kind is HitKind.OPEN for h in hits) == 20
        assert sum(h.kind is HitKind.CLICK for h in hits) == 3
    rt.close()
    proxy.down()
