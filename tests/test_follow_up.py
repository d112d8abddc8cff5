"""Who the Follow up page suggests (follow_up.py, pure): engaged with no reply after N days, and
emails only machines have touched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mailbeacon.follow_up import DEFAULT_DAYS, choose, days_of, engaged, parse_days
from mailbeacon.model import Message, Recipient, RecipientField, Relation
from mailbeacon.stats import Counts

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def _row(n: int, c: Counts, days_ago: float) -> tuple[Message, Recipient, Counts]:
    msg = Message(
        id=n,
        workspace_id=1,
        user_id=1,
        rfc_message_id=f"<{n}@t>",
        sender="alice@acme.test",
        subject=f"m{n}",
        sent_at=NOW - timedelta(days=days_ago),
        links=2,
        decoy_link=2,
        tracking={},
        outcome={},
        source="python",
    )
    return msg, Recipient(n, n, f"r{n}@client.example", RecipientField.TO, Relation.EXTERNAL), c


T = NOW - timedelta(days=1)
# (counters, sent days ago, which list: "nudge" | "machines" | None, the sentence)
CASES = [
    (Counts(opens_human=2, last_open_at=T), 4, "nudge", "Opened 2×, no reply after 4 days"),
    (Counts(opens_human=1, last_open_at=T), 4, None, ""),  # one open is not engagement
    (Counts(clicks_human=1, last_click_at=T), 3, "nudge", "Clicked, no reply after 3 days"),  # exactly N days
    (Counts(clicks_human=3, opens_human=1), 10, "nudge", "Clicked 3×, no reply after 10 days"),
    (Counts(opens_human=5), 2, None, ""),  # too early
    (Counts(opens_human=5, replies=1), 9, None, ""),  # answered
    (Counts(opens_human=5, bounces=1), 9, None, ""),  # bounced: no nudge
    (Counts(clicks_self=2, hits_self=2), 9, None, ""),  # the sender's own clicks are not engagement
    (
        Counts(opens_scanner=1, clicks_scanner=2, hits_scanner=3),
        1,
        "machines",
        "Touched by a security scanner; no person seen yet",
    ),
    (Counts(opens_machine=1, hits_machine_open=1), 0, "machines", "Touched by a privacy prefetch; no person seen yet"),
    (Counts(hits_unknown=1, opens_other=1), 6, "machines", "Touched by an unidentified client; no person seen yet"),
    (
        Counts(hits_preview=1, hits_scanner=1),
        6,
        "machines",
        "Touched by a security scanner and a link preview; no person seen yet",
    ),
    (Counts(hits_machine_open=1, opens_human=1, hits_human=1), 6, None, ""),  # a person was seen after all
]


@pytest.mark.parametrize(("counts", "days_ago", "where", "why"), CASES)
def test_who_is_suggested(counts: Counts, days_ago: float, where: str | None, why: str) -> None:
    nudge, machines = choose([_row(1, counts, days_ago)], NOW, 3)
    found = {"nudge": nudge, "machines": machines}
    for name, got in found.items():
        assert [c.why for c in got] == ([why] if name == where else []), name


def test_most_recent_activity_first_and_the_delay_setting() -> None:
    rows = [
        _row(1, Counts(opens_human=2, last_open_at=NOW - timedelta(days=3)), 5),
        _row(2, Counts(clicks_human=1, last_click_at=NOW - timedelta(hours=2)), 5),
        _row(3, Counts(hits_scanner=1), 2),
        _row(4, Counts(hits_scanner=1), 1),
    ]
    nudge, machines = choose(rows, NOW, 3)
    assert [c.message.id for c in nudge] == [2, 1] and [c.message.id for c in machines] == [4, 3]
    assert nudge[0].last == NOW - timedelta(hours=2) and machines[0].last is None
    assert choose(rows, NOW, 6)[0] == []  # a longer delay: nobody yet
    assert engaged(Counts(opens_human=1)) is None


@pytest.mark.parametrize(
    ("settings", "days"),
    [
        ({}, DEFAULT_DAYS),
        ({"follow_up_days": 7}, 7),
        ({"follow_up_days": 0}, 1),
        ({"follow_up_days": 900}, 90),
        ({"follow_up_days": "7"}, DEFAULT_DAYS),
        ({"follow_up_days": True}, DEFAULT_DAYS),
    ],
)
def test_the_setting_is_read_leniently(settings: dict[str, object], days: int) -> None:
    assert days_of(settings) == days


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("3", 3),
        (" 14 ", 14),
        ("90", 90),
        ("0", None),
        ("91", None),
        ("-2", None),
        ("2.5", None),
        ("", None),
        ("9999", None),
        ("x", None),
    ],
)
def test_the_form_accepts_whole_days_in_range(text: str, days: int | None) -> None:
    assert parse_days(text) == days
