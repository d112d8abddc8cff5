"""Release-date estimates, fresh and stale browsers, link windows and address ranges at their edges."""

from __future__ import annotations

from datetime import UTC, date, datetime

from mailbeacon.classify.agents import Agent, release_date
from mailbeacon.classify.networks import RangeSet, is_public
from mailbeacon.classify.windows import max_distinct_links


def test_release_dates_of_the_families_without_a_plain_train() -> None:
    assert release_date("Internet Explorer", 11) == date(2013, 10, 17)
    assert release_date("Internet Explorer", 9) == date(2011, 3, 14)
    assert release_date("Lynx", 2) is None
    assert release_date("Safari", 26) == date(2025, 9, 15)
    assert release_date("Safari", 20) is None  # no Safari 19 to 25 was ever released
    assert release_date("Safari", 17) == date(2023, 9, 18)
    assert release_date("Chrome", 10**9) is None  # beyond the calendar


def _agent(browser: str | None, major: int | None) -> Agent:
    return Agent("ua", None, None, None, browser=browser, major=major)


def test_fresh_and_stale() -> None:
    when = datetime(2024, 1, 1, tzinfo=UTC)
    assert _agent("Chrome", 120).fresh(when)
    assert not _agent("Chrome", 120).stale(when)
    assert _agent("Chrome", 100).stale(when)
    assert not _agent("Chrome", 100).fresh(when)
    assert not _agent("Safari", 20).fresh(when)  # unknown release: neither
    assert not _agent("Safari", 20).stale(when)
    assert not _agent(None, None).fresh(when)


def test_max_distinct_links_prefers_the_tighter_window_and_needs_one_reaching_t() -> None:
    # at t=10 within 5 s: [5, 10] and [10, 12] both hold two links; 12 is beyond the window from 5
    assert max_distinct_links([(5.0, 1), (10.0, 2), (12.0, 3)], 10.0, 5.0) == (2, 2.0)
    # no window that starts at or before t reaches t: nothing counts
    assert max_distinct_links([(5.0, 0), (12.0, 1)], 10.0, 5.0) == (0, 0.0)


def test_range_set_membership_and_public_addresses() -> None:
    ranges = RangeSet.from_cidrs(["192.0.2.0/24", "2001:db8::/32"])
    assert "192.0.2.7" in ranges
    assert "::ffff:192.0.2.7" in ranges
    assert "198.51.100.1" not in ranges
    assert "not an ip" not in ranges
    assert 3221225991 not in ranges  # only text is looked up
    assert is_public("8.8.8.8")
    assert not is_public(" 10.0.0.1 ")
    assert not is_public("nonsense")
