"""The dashboard's pages over real HTTP (a running `mailbeacon serve`): sign-in, the sent list with its
search, filters and pages, a message's page with the Why? answer, follow up."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from api_world import World, start_world
from dashboard_world import Day, start_day
from seeding import PASSWORD, seed_message


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


# -- a realistic few days (dashboard_world.py): search, filters, a message, follow up -------------


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Day]:
    yield from start_day(tmp_path_factory.mktemp("day"))


def subjects(page: httpx.Response) -> list[str]:
    assert page.status_code == 200, page.text
    return [html.unescape(s) for s in re.findall(r'<a href="/app/messages/\d+">([^<]*)</a>', page.text)]


def text_of(page: httpx.Response) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.text)))


def test_search_and_filters_find_the_emails(day: Day) -> None:
    with signed_in(day.world, "alice@acme.test") as b:
        everything = subjects(b.get("/app"))
        assert len(everything) == 7 and everything[0] == "Invoice 2026-118"  # newest first
        for params, want in (
            ({"q": "NORTHWIND"}, ["Q1 proposal for Northwind"]),  # subject, any case
            ({"q": "bouncehammer"}, ["Workshop dates"]),  # a recipient's address
            ({"q": "nobody-has-this"}, []),
            ({"show": "machines"}, ["Security review follow-up"]),
            ({"show": "replied"}, ["Q1 proposal for Northwind"]),
            ({"show": "bounced"}, ["Workshop dates"]),
            ({"show": "clicked"}, ["Your trial workspace", "Q1 proposal for Northwind"]),
            ({"show": "unopened"}, ["Invoice 2026-118", "Workshop dates", "Security review follow-up"]),
            (
                {"show": "opened"},
                ["Onboarding call", "Your trial workspace", "Renewal terms for 2027", "Q1 proposal for Northwind"],
            ),
            ({"sender": "carol@acme.test"}, ["Onboarding call"]),
            ({"q": "proposal", "show": "bounced"}, []),
            ({"show": "nonsense", "since": "2026-13-45", "before": "abc", "until": "x"}, everything),  # ignored
        ):
            assert subjects(b.get("/app", params=params)) == want, params
        sent_at = day.world.rt.store.message(day.ids["silent"]).sent_at
        on_that_day = {m.subject for m in day.world.rt.store.messages(limit=100) if m.sent_at.date() == sent_at.date()}
        got = subjects(b.get("/app", params={"since": sent_at.date().isoformat(), "until": sent_at.date().isoformat()}))
        assert set(got) == on_that_day and "Renewal terms for 2027" in got
        hostile = b.get("/app", params={"q": '<script>alert("x")</script>'})
        assert hostile.status_code == 200 and "<script>alert" not in hostile.text and "&lt;script&gt;" in hostile.text
        assert "No tracked email matches these filters" in hostile.text
    with signed_in(day.world, "carol@acme.test") as member:  # a member: their own mail, no sender filter
        assert subjects(member.get("/app", params={"sender": "alice@acme.test"})) == ["Onboarding call"]
        assert 'id="sender"' not in member.get("/app").text


def test_pages_of_the_sent_list_keep_the_filters(world: World) -> None:
    alice = world.rt.store.user(world.users["alice"])
    for n in range(30):
        seed_message(world.rt, (f"bulk{n}@client.example",), user=alice)
    with signed_in(world, "alice@acme.test") as b:
        first = b.get("/app", params={"q": "bulk", "show": "unopened"})
        assert subjects(first) == ["Proposal"] * 25
        older = re.search(r'<a href="([^"]+)">Older emails</a>', first.text)
        assert older and "Newest emails" not in first.text
        link = html.unescape(older.group(1))
        assert "q=bulk" in link and "show=unopened" in link and "before=" in link
        second = b.get(link)
        assert subjects(second) == ["Proposal"] * 5 and "Older emails" not in second.text
        assert text_of(second).count("bulk") == 5
        newest = re.search(r'<a href="([^"]+)">Newest emails</a>', second.text)
        assert newest and html.unescape(newest.group(1)) == "/app?q=bulk&show=unopened"


def test_a_message_page_shows_every_hit_muted_or_not_and_the_why_answer(day: Day) -> None:
    mid = day.ids["rich"]
    rt = day.world.rt
    alice = rt.store.user("alice@acme.test")
    rt.store.add_api_token(alice.id, "mbt_day_alice", "tests", rt.clock())
    with signed_in(day.world, "alice@acme.test") as b:
        page = b.get(f"/app/messages/{mid}")
        assert page.status_code == 200 and "<h1>Q1 proposal for Northwind</h1>" in page.text
        text = text_of(page)
        for expected in (
            "Microsoft's link scanner",
            "Apple Mail Privacy Protection",
            "Gmail (Google's image proxy)",
            "your paired browser",
            "Microsoft Outlook",
            "Chrome 145 on Windows",
            "a device behind iCloud Private Relay",
            "Requested the hidden check link",
            "Clicked https://acme.test/proposal/q1",
            "from dana@northwind.example",
        ):
            assert expected in text, expected
        entries = re.findall(r'<li class="entry entry-([a-z_-]+)( muted)?">', page.text)
        muted = {cls for cls, m in entries if m}
        assert muted == {"scanner", "self", "machine_open"}  # machines and self: muted, never hidden
        assert {cls for cls, m in entries if not m} == {"human", "reply-reply"}
        assert entries.count(("scanner", " muted")) == 4  # the gateway's pixel load, two links and the decoy
        dana = text[text.index("dana@northwind.example Replied") :]
        assert "Opens 2 by a person" in dana and "Machine hits 4" in dana and "Your own views 1" in dana
        assert re.search(
            r'<td class="url">https://acme.test/pricing</td><td>1</td><td class="muted-num">1</td>', page.text
        )
        # the Why? panel is the API's (and `mailbeacon why`'s) answer, one per recipient
        assert page.text.count('<details class="why">') == 3
        for address in ("dana@northwind.example", "lee@fabrikam.example"):
            answer = httpx.get(
                f"{day.world.url}/api/v1/messages/{mid}/recipients/{address}/why",
                headers={"Authorization": "Bearer mbt_day_alice"},
            ).json()
            assert answer["summary"] in text
            for line in answer["notes"] + answer["checklist"]:
                assert line["text"] in text, line
        assert "Opened twice, 1 click and 1 reply." in text
        assert "Opened (inferred from their click), 1 click and no reply." in text


def test_a_message_of_someone_else_is_not_found(world: World) -> None:
    with signed_in(world, "alice@acme.test") as b:
        assert b.get(f"/app/messages/{world.messages['alice'].message.id}").status_code == 200
        for path in (
            f"/app/messages/{world.messages['bert'].message.id}",
            "/app/messages/abc",
            "/app/messages/99999999999999999999",
            "/app/messages/0",
        ):
            page = b.get(path)
            assert page.status_code == 404 and "<h1>Not found</h1>" in page.text, path
            assert "Proposal" not in page.text
    with signed_in(world, "carol@acme.test") as member:
        assert member.get(f"/app/messages/{world.messages['alice'].message.id}").status_code == 404


def _csrf(page: httpx.Response) -> str:
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token, page.text
    return token.group(1)


def test_follow_up_lists_and_its_delay_setting(day: Day) -> None:
    rt = day.world.rt
    with signed_in(day.world, "alice@acme.test") as b:
        page = b.get("/app/follow-up")
        text = text_of(page)
        engaged, machines = text.split("Only machines so far", 1)
        assert "priya@contoso.example Opened 3×, no reply after 5 days" in engaged
        assert "sam.taylor@gmail.example Opened 3×, no reply after 4 days" in engaged
        assert "lee@fabrikam.example Clicked, no reply after 4 days" in engaged
        for absent in ("dana@northwind.example", "jo@litware.example", "userunknown@", "kim@"):
            assert absent not in text, absent  # replied, too early, bounced, untouched
        assert "it-desk@tailspin.example Touched by a security scanner; no person seen yet" in machines
        token = _csrf(page)
        refused = b.post("/app/follow-up", data={"days": "1"})  # no CSRF token
        assert refused.status_code == 403 and "expired" in refused.text
        wrong = b.post("/app/follow-up", data={"days": "0", "csrf": token})
        assert wrong.status_code == 400 and "whole number of days from 1 to 90" in html.unescape(wrong.text)
        assert "follow_up_days" not in rt.store.user("alice@acme.test").settings
        saved = b.post("/app/follow-up", data={"days": "1", "csrf": token})
        assert saved.status_code == 303 and saved.headers["location"] == "/app/follow-up"
        assert rt.store.user("alice@acme.test").settings["follow_up_days"] == 1
        text = text_of(b.get("/app/follow-up"))
        assert (
            "jo@litware.example Clicked, no reply after 1 day" in text and 'value="1"' in b.get("/app/follow-up").text
        )
        assert b.post("/app/follow-up", data={"days": "3", "csrf": token}).status_code == 303
    with signed_in(day.world, "carol@acme.test") as member:  # her own mail: one open, nobody to nudge
        text = text_of(member.get("/app/follow-up"))
        assert "Nobody to nudge right now" in text and "priya" not in text


def test_the_rest_list_searches_the_same_way(world: World) -> None:
    with world.client("alice") as api:
        found = api.get("/api/v1/messages", params={"q": "DAN@client"}).json()["items"]
        assert [m["id"] for m in found] == [world.messages["carol"].message.id]
        assert api.get("/api/v1/messages", params={"q": "erin"}).json()["items"] == []  # another workspace's
        assert api.get("/api/v1/messages", params={"q": "x" * 201}).status_code == 422
