"""A recipient's state at a glance (the dashboard's sent list): strongest state first."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mailbeacon.stats import Counts, glance, last_activity

T1 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
T2 = datetime(2026, 12, 3, 11, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("counts", "state"),
    [
        (Counts(), ("sent", "Sent")),
        (Counts(hits_scanner=3, opens_scanner=1, clicks_scanner=2), ("machines", "Only machines so far")),
        (Counts(hits_machine_open=1), ("machines", "Only machines so far")),
        (Counts(hits_self=2, opens_self=2), ("sent", "Sent")),  # the sender's own views are no activity
        (Counts(opens_human=3, hits_human=3, hits_scanner=1), ("opened", "Opened 3×")),
        (Counts(opens_human=1, hits_human=1), ("opened", "Opened")),
        (Counts(clicks_human=1), ("clicked", "Clicked")),  # images blocked: a click proves the open (R5)
        (Counts(opens_human=2, clicks_human=2), ("clicked", "Clicked 2×")),
        (Counts(replies=1), ("replied", "Replied")),
        (Counts(opens_human=1, replies=1, bounces=1), ("bounced", "Bounced")),
    ],
)
def test_strongest_state_first(counts: Counts, state: tuple[str, str]) -> None:
    assert glance(counts) == state


def test_last_activity_is_the_latest_thing_a_person_did() -> None:
    assert last_activity(Counts()) is None
    assert last_activity(Counts(opens_human=1, last_open_at=T1, last_click_at=T2)) == T2
    assert last_activity(Counts(opens_self=1, last_open_at=T2)) is None  # not a person's open
    assert last_activity(Counts(replies=1, first_reply_at=T1)) == T1
