"""The pure parts of webhook delivery: the retry schedule, when an endpoint is disabled, which
addresses may be dialled (SSRF) and which URLs are receivers."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailbeacon.errors import InvalidInput
from mailbeacon.webhooks.schedule import (
    CAP,
    DISABLE_AFTER,
    GIVE_UP_AFTER,
    JITTER,
    delay,
    disable_reason,
    next_attempt,
)
from mailbeacon.webhooks.targets import check_url, refusal

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_delays_grow_exponentially_up_to_the_cap() -> None:
    mid = [delay(n, lambda: 0.5) for n in range(1, 12)]
    assert mid[:4] == [timedelta(seconds=30), timedelta(seconds=90), timedelta(seconds=270), timedelta(seconds=810)]
    assert all(b >= a for a, b in itertools.pairwise(mid)) and mid[-1] == CAP
    with pytest.raises(ValueError, match="follows a failed attempt"):
        delay(0, lambda: 0.5)


@given(st.integers(1, 10_000), st.floats(0, 1, exclude_max=True))
def test_jitter_stays_within_its_bounds(attempts: int, r: float) -> None:
    plain = delay(attempts, lambda: 0.5)
    assert plain * (1 - JITTER) <= delay(attempts, lambda: r) <= plain * (1 + JITTER)


@given(st.lists(st.floats(0, 1, exclude_max=True), min_size=1, max_size=60))
def test_a_delivery_is_tried_for_24_hours_and_the_last_try_is_at_the_mark(randoms: list[float]) -> None:
    now, tries = T0, [T0]
    for i in range(1000):
        n = i + 1
        nxt = next_attempt(T0, n, now, lambda i=i: randoms[i % len(randoms)])  # type: ignore[misc]
        if nxt is None:
            break
        assert now < nxt <= T0 + GIVE_UP_AFTER
        now = nxt
        tries.append(now)
    else:
        pytest.fail("never gave up")
    assert tries[-1] == T0 + GIVE_UP_AFTER
    assert len(tries) >= 8  # retried often at first, then every few hours


def test_the_documented_schedule() -> None:
    """docs/webhooks.md's table: attempts 2-13 without jitter, the last at the 24-hour mark."""
    now, tries = T0, list[timedelta]()
    while (nxt := next_attempt(T0, len(tries) + 1, now, lambda: 0.5)) is not None:
        tries.append(nxt - T0)
        now = nxt
    hours = [round(t.total_seconds() / 3600, 2) for t in tries]
    assert hours == [0.01, 0.03, 0.11, 0.33, 1.01, 3.03, 7.03, 11.03, 15.03, 19.03, 23.03, 24.0]


def test_an_endpoint_failing_for_24_hours_is_disabled_with_a_reason() -> None:
    assert disable_reason(None, T0) is None
    assert disable_reason(T0, T0 + DISABLE_AFTER - timedelta(seconds=1)) is None
    why = disable_reason(T0, T0 + DISABLE_AFTER)
    assert why is not None and "24 hours" in why and "2026-03-02T09:00:00" in why


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("169.254.169.254", "link-local"),  # the cloud metadata service
        ("fe80::1", "link-local"),
        ("100.64.0.1", "shared address space (CGNAT)"),
        ("100.127.255.254", "shared address space (CGNAT)"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:169.254.169.254", "link-local"),
        ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
        ("192.0.2.10", "private"),  # documentation (TEST-NET-1)
        ("240.0.0.1", "private"),  # reserved
        ("nonsense", "not an IP address"),
    ],
)
def test_non_public_addresses_are_refused(address: str, why: str) -> None:
    assert refusal(address) == why


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "::ffff:93.184.215.14"])
def test_public_addresses_may_be_dialled(address: str) -> None:
    assert refusal(address) is None


def test_the_operator_may_allow_private_targets_but_never_multicast_or_unspecified() -> None:
    for address in ("127.0.0.1", "::1", "10.0.0.1", "169.254.1.1", "100.64.0.1", "::ffff:127.0.0.1"):
        assert refusal(address, allow_private=True) is None
    assert refusal("224.0.0.1", allow_private=True) == "multicast"
    assert refusal("0.0.0.0", allow_private=True) == "unspecified"


@pytest.mark.parametrize(
    "url", ["https://hooks.example.com/mailbeacon", "http://127.0.0.1:8080/h?x=1", "https://[2001:db8::1]/x"]
)
def test_receiver_urls(url: str) -> None:
    assert check_url(f"  {url} ") == url


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("", "http(s) URL of at most"),
        ("ftp://example.com/x", "not an http:// or https:// URL"),
        ("https:///nohost", "not an http:// or https:// URL"),
        ("http://example.com:99999/", "not a valid URL"),
        ("http://example.com:0/", "port 0"),
        ("https://user:pw@example.com/", "user name or password"),
        ("https://example.com/a b", "without spaces"),
        ("https://example.com/" + "a" * 2000, "at most 2000"),
    ],
)
def test_urls_that_are_not_receivers_are_refused_in_one_sentence(url: str, says: str) -> None:
    with pytest.raises(InvalidInput, match=says.replace("(", r"\(").replace(")", r"\)")):
        check_url(url)
