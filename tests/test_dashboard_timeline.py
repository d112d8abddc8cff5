"""How the message page words each hit and reply of a timeline (web/dashboard/message_page.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mailbeacon.model import Hit, HitKind, Reason, Reply, ReplyKind, Verdict, VerdictClass
from mailbeacon.stats import Counts
from mailbeacon.store import StoredVerdict
from mailbeacon.web.dashboard.message_page import hit_entry, numbers, reply_entry, timeline

T = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
LINKS = ["https://acme.test/a", "https://acme.test/b"]
H, S, SC, MO, UN = (
    VerdictClass.HUMAN,
    VerdictClass.SELF,
    VerdictClass.SCANNER,
    VerdictClass.MACHINE_OPEN,
    VerdictClass.UNKNOWN,
)


def sv(kind: HitKind, cls: VerdictClass | None, subtype: str | None = None, *reasons: tuple[str, str],
       link: int | None = None, method: str = "GET", settled: bool = True) -> StoredVerdict:  # fmt: skip
    hit = Hit(uid="u", kind=kind, workspace_id=1, message_id=1, recipient_id=1, at=T, link=link, method=method)
    verdict = Verdict(cls, tuple(Reason(c, t) for c, t in reasons), subtype) if cls else None
    return StoredVerdict(hit, verdict, settled)


# (stored hit, what, verdict, family, counted, muted)
CASES = [
    (sv(HitKind.OPEN, H, "gmail_proxy", ("gmail_image_proxy", "Opened in Gmail")),
     "Loaded the pixel", "Person", "Gmail (Google's image proxy)", "counted", False),
    (sv(HitKind.OPEN, H, "mail_client", ("mail_client", "Microsoft Outlook (a mail client on the reader's device)")),
     "Loaded the pixel", "Person", "Microsoft Outlook", "counted", False),
    (sv(HitKind.CLICK, H, "direct", ("person", "a person: Firefox 130 on Linux"), ("t", "2 h after sending"), link=1),
     "Clicked https://acme.test/b", "Person", "Firefox 130 on Linux", "counted", False),
    (sv(HitKind.OPEN, H, "yahoo_proxy", ("yahoo", "Opened in Yahoo Mail")),
     "Loaded the pixel", "Person", "Yahoo Mail (its image proxy)", "counted", False),
    (sv(HitKind.OPEN, SC, "head_probe", ("head_request", "a HEAD request"), method="HEAD"),
     "Probed the pixel (a HEAD request)", "Scanner", "a link checker", "not counted", True),
    (sv(HitKind.CLICK, S, "paired_device", ("paired_device", "the sender's browser"), link=0),
     "Clicked https://acme.test/a", "You", "your paired browser", "counted, as yours", True),
    (sv(HitKind.CLICK, SC, "link_burst", ("link_burst", "every link"), link=7),
     "Clicked a link", "Scanner", "a security scanner", "not counted", True),
    (sv(HitKind.DECOY, SC, "decoy", ("decoy_link", "the hidden link")),
     "Requested the hidden check link (no person can see it)", "Scanner", "a security scanner", "not counted", True),
    (sv(HitKind.SELF_VIEW, S, "self_view", ("self_view", "the sender was looking")),
     "Your paired browser showed the email", "You", "your paired browser (it said it was showing the email)",
     "not counted", True),
    (sv(HitKind.OPEN, MO, "apple_mpp", ("apple_mpp", "Apple MPP")),
     "Loaded the pixel", "Privacy prefetch", "Apple Mail Privacy Protection", "not counted", True),
    (sv(HitKind.OPEN, UN, "possible_mpp", ("possible_mpp", "bare Mozilla/5.0")),
     "Loaded the pixel", "Unknown", "possible mpp", "not counted", True),
    (sv(HitKind.OPEN, H, "direct", ("person", "a person: Chrome"), settled=False),
     "Loaded the pixel", "Person (for now)", "Chrome", "deciding", False),
    (sv(HitKind.OPEN, None), "Loaded the pixel", "Not decided yet", "", "deciding", True),
]  # fmt: skip


@pytest.mark.parametrize(("stored", "what", "verdict", "family", "counted", "muted"), CASES)
def test_each_hit_says_what_decided_it_and_whether_it_counted(
    stored: StoredVerdict, what: str, verdict: str, family: str, counted: str, muted: bool
) -> None:
    e = hit_entry(stored, LINKS)
    assert (e.what, e.verdict, e.family, e.counted, e.muted) == (what, verdict, family, counted, muted)
    assert e.reason == (stored.verdict.sentence if stored.verdict else "waiting for the pipeline to decide")


@pytest.mark.parametrize(
    ("kind", "verdict", "counted", "muted"),
    [(ReplyKind.REPLY, "Reply", "counted", False), (ReplyKind.AUTO_REPLY, "Auto-reply", "not counted", True),
     (ReplyKind.BOUNCE, "Bounce", "not counted", False), (ReplyKind.COLLEAGUE, "Colleague", "not counted", True),
     (ReplyKind.SENDER, "You", "not counted", True), (ReplyKind.REPORT, "Report", "not counted", True)],
)  # fmt: skip
def test_each_inbound_message_too(kind: ReplyKind, verdict: str, counted: str, muted: bool) -> None:
    e = reply_entry(Reply(1, 1, "<r@x>", kind, "dana@northwind.example", T, other_address=True))
    assert (e.verdict, e.counted, e.muted) == (verdict, counted, muted)
    assert e.reason == "from dana@northwind.example (another address)"


def test_the_timeline_is_in_time_order_and_numbers_say_what_was_left_out() -> None:
    late = Reply(1, 1, "<r@x>", ReplyKind.REPLY, "d@x.example", T + timedelta(hours=1))
    early = sv(HitKind.OPEN, H, "direct", ("person", "a person: Chrome"))
    assert [e.verdict for e in timeline([early], [late], LINKS)] == ["Person", "Reply"]
    assert [e.verdict for e in timeline([], [], LINKS)] == []
    c = Counts(clicks_human=1, clicks_self=1, auto_replies=2, hits_scanner=3, hits_self=1)
    got = {label: (n, note) for label, n, note in numbers(c)}
    assert got["Opens"] == (1, "by a person (inferred from a click or reply)")
    assert got["Clicks"] == (2, "1 of them yours")
    assert got["Replies"] == (0, "2 automatic, not counted")
    assert got["Machine hits"][0] == 3 and got["Your own views"][0] == 1
