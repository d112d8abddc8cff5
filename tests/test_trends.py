"""The charts' numbers: the pure series (trends.py), and the scoped store queries they are made from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from chart_seeding import hit, reply, send
from conftest import FakeClock
from mailbeacon.model import HitKind, ReplyKind, VerdictClass
from mailbeacon.passwords import hash_password
from mailbeacon.runtime import Runtime
from mailbeacon.stats import Counts
from mailbeacon.trends import (
    FIRST_OPEN_BUCKETS,
    HitDay,
    SentRecipient,
    activity,
    days_between,
    duration_words,
    first_open_histogram,
    rates,
)
from mailbeacon.web.dashboard.charts import chart_numbers
from seeding import PASSWORD

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def test_days_between_lists_every_day_of_the_window() -> None:
    assert days_between(T0, T0 + timedelta(days=2, hours=10)) == ["2026-11-30", "2026-12-01", "2026-12-02"]
    assert days_between(T0, T0) == ["2026-11-30"]


def test_activity_sorts_hits_by_who_and_puts_inferred_opens_on_their_day() -> None:
    days = ["2026-11-30", "2026-12-01"]
    hits = [
        HitDay("2026-11-30", "open", "human", 3),
        HitDay("2026-11-30", "open", "machine_open", 2),
        HitDay("2026-11-30", "open", "scanner", 1),
        HitDay("2026-12-01", "open", "self", 4),
        HitDay("2026-12-01", "click", "human", 1),
        HitDay("2026-12-01", "click", "self", 1),
        HitDay("2026-12-01", "click", "scanner", 5),
        HitDay("2026-12-01", "click", "preview", 1),
        HitDay("2026-12-01", "decoy", "scanner", 9),  # not an open or click
        HitDay("2026-11-29", "open", "human", 7),  # outside the window
    ]
    clicked = Counts(clicks_human=1, first_click_at=T0 + timedelta(days=1))
    replied = Counts(replies=1, first_reply_at=T0)
    opened = Counts(opens_human=1, clicks_human=1, first_open_at=T0, first_click_at=T0)  # not inferred
    before = Counts(clicks_human=1, first_click_at=T0 - timedelta(days=3))  # inferred before the window
    a = activity(days, hits, [SentRecipient(1, T0, c) for c in (clicked, replied, opened, before)])
    assert a == {
        "days": days,
        "opens_human": [3, 0],
        "opens_inferred": [1, 1],
        "opens_self": [0, 4],
        "opens_machine": [3, 0],
        "clicks_human": [0, 1],
        "clicks_self": [0, 1],
        "clicks_machine": [0, 6],
    }


def test_time_to_first_open_counts_people_only_in_buckets_with_the_median() -> None:
    def opened(after: timedelta) -> SentRecipient:
        return SentRecipient(1, T0, Counts(opens_human=2, first_open_at=T0 + after))

    rs = [
        opened(timedelta(minutes=2)),
        opened(timedelta(minutes=40)),
        opened(timedelta(hours=3)),
        opened(timedelta(days=10)),
        SentRecipient(1, T0, Counts(opens_machine=3, first_open_at=T0)),  # only a prefetch
        SentRecipient(1, T0, Counts(clicks_human=1, first_click_at=T0)),  # inferred: no open time
        opened(-timedelta(seconds=5)),  # a clock a little behind: counted as at once
    ]
    h = first_open_histogram(rs)
    assert h["buckets"] == [b for b, _, _ in FIRST_OPEN_BUCKETS] and h["short"][0] == "<5m"
    assert h["counts"] == [2, 0, 1, 1, 0, 0, 0, 1]
    assert (h["opened"], h["median_seconds"], h["median"]) == (5, 40 * 60, "40 min")
    assert first_open_histogram([])["median"] is None
    even = first_open_histogram([opened(timedelta(minutes=10)), opened(timedelta(minutes=30))])
    assert even["median"] == "20 min"


@given(st.lists(st.integers(min_value=-60, max_value=30 * 86400), max_size=30))
def test_every_open_lands_in_exactly_one_bucket(seconds: list[int]) -> None:
    rs = [SentRecipient(1, T0, Counts(opens_human=1, first_open_at=T0 + timedelta(seconds=s))) for s in seconds]
    h = first_open_histogram(rs)
    assert sum(h["counts"]) == h["opened"] == len(seconds)


def test_durations_read_as_people_say_them() -> None:
    assert duration_words(timedelta(seconds=59)) == "0 min"
    assert duration_words(timedelta(minutes=4)) == "4 min"
    assert duration_words(timedelta(hours=3)) == "3 h"
    assert duration_words(timedelta(hours=3, minutes=10)) == "3 h 10 min"
    assert duration_words(timedelta(days=2)) == "2 days"
    assert duration_words(timedelta(days=2, hours=5)) == "2 days 5 h"


def test_rates_with_and_without_machine_events_per_sender_and_for_all() -> None:
    rs = [
        SentRecipient(1, T0, Counts(opens_human=1, replies=1)),
        SentRecipient(1, T0, Counts(opens_machine=2)),  # Apple MPP only
        SentRecipient(1, T0, Counts(clicks_scanner=3)),  # a link scanner only
        SentRecipient(1, T0, Counts(auto_replies=1)),  # an out-of-office only
        SentRecipient(2, T0, Counts(clicks_human=1)),  # images blocked: an inferred open and a click
        SentRecipient(3, T0, Counts(opens_human=1)),  # a sender not asked about
    ]
    got = rates(rs, {1: "alice@acme.test", 2: "carol@acme.test"}, workspace="Whole workspace")
    assert [r["label"] for r in got] == ["alice@acme.test", "carol@acme.test", "Whole workspace"]
    alice, carol, whole = got
    assert alice == {
        "label": "alice@acme.test",
        "recipients": 4,
        "open": 0.25,
        "open_with_machines": 0.5,
        "click": 0.0,
        "click_with_machines": 0.25,
        "reply": 0.25,
        "reply_with_machines": 0.5,
    }
    assert (carol["open"], carol["click"], carol["reply"]) == (1.0, 1.0, 0.0)
    assert whole["recipients"] == 5 and whole["open"] == 0.4 and whole["open_with_machines"] == 0.6
    empty = rates([], {1: "alice@acme.test"}, workspace="All")
    assert empty[0]["recipients"] == 0 and empty[0]["open"] == 0.0


def test_the_scoped_store_gives_the_charts_their_numbers(any_runtime: Runtime, clock: FakeClock) -> None:
    rt = any_runtime
    clock.set(T0 + timedelta(days=1, hours=8))  # 1 Dec, 17:00
    ws = rt.store.create_workspace("acme", ["acme.test"], T0)
    alice = rt.store.create_user(ws.id, "alice@acme.test", hash_password(PASSWORD), T0)
    carol = rt.store.create_user(ws.id, "carol@acme.test", hash_password(PASSWORD), T0)
    other = rt.store.create_workspace("beta", ["beta.test"], T0)
    bert = rt.store.create_user(other.id, "bert@beta.test", hash_password(PASSWORD), T0)
    a = send(rt, alice, "Proposal", T0, ["bob@client.example", "dan@client.example"])
    hit(rt, a, "bob@client.example", HitKind.OPEN, VerdictClass.MACHINE_OPEN, T0 + timedelta(seconds=30))
    hit(rt, a, "bob@client.example", HitKind.OPEN, VerdictClass.HUMAN, T0 + timedelta(minutes=20))
    hit(rt, a, "bob@client.example", HitKind.OPEN, VerdictClass.HUMAN, T0 + timedelta(days=1))
    hit(rt, a, "dan@client.example", HitKind.CLICK, VerdictClass.SCANNER, T0 + timedelta(seconds=5))
    hit(rt, a, "dan@client.example", HitKind.CLICK, VerdictClass.HUMAN, T0 + timedelta(days=1, hours=1))
    reply(rt, a, "dan@client.example", T0 + timedelta(days=1, hours=2))
    c = send(rt, carol, "Invoice", T0 + timedelta(hours=1), ["erin@client.example"])
    reply(rt, c, "erin@client.example", T0 + timedelta(hours=2), ReplyKind.AUTO_REPLY)
    b = send(rt, bert, "Other workspace", T0, ["bob@client.example"])
    hit(rt, b, "bob@client.example", HitKind.OPEN, VerdictClass.HUMAN, T0 + timedelta(minutes=1))
    old = send(rt, alice, "Long ago", T0 - timedelta(days=40), ["old@client.example"])
    hit(rt, old, "old@client.example", HitKind.OPEN, VerdictClass.HUMAN, T0 - timedelta(days=39))

    admin = rt.store.scoped(ws.id, alice.id, whole_workspace=True)
    n = chart_numbers(admin, {alice.id: alice.email, carol.id: carol.email}, clock(), 7)
    act = n["activity"]
    assert act["days"][-2:] == ["2026-11-30", "2026-12-01"] and len(act["days"]) == 7
    assert (act["opens_human"][-2:], act["opens_machine"][-2:], act["opens_inferred"][-2:]) == ([1, 1], [1, 0], [0, 1])
    assert (act["clicks_human"][-2:], act["clicks_machine"][-2:]) == ([0, 1], [1, 0])
    assert sum(act["opens_human"]) == 2  # bert's open and the one of 40 days ago are not in it
    assert n["first_open"]["counts"][1] == 1 and n["first_open"]["opened"] == 1  # bob, after 20 minutes
    alice_rates, carol_rates, whole = n["rates"]
    assert (alice_rates["recipients"], alice_rates["open"], alice_rates["open_with_machines"]) == (2, 1.0, 1.0)
    assert (alice_rates["click"], alice_rates["reply"]) == (0.5, 0.5)
    assert (carol_rates["reply"], carol_rates["reply_with_machines"]) == (0.0, 1.0)
    assert whole["label"] == "Whole workspace" and whole["recipients"] == 3

    member = rt.store.scoped(ws.id, carol.id, whole_workspace=False)
    mine = chart_numbers(member, {carol.id: carol.email}, clock(), 30)
    assert sum(mine["activity"]["opens_human"]) == 0 and sum(mine["activity"]["clicks_machine"]) == 0
    assert [r["recipients"] for r in mine["rates"]] == [1, 1] and mine["rates"][1]["label"] == "All your emails"
    assert len(mine["activity"]["days"]) == 30
