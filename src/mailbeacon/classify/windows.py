"""Time windows of the behaviour rules, and the sliding-window count of distinct links. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True, slots=True)
class Windows:
    """Time windows of the behaviour rules, in seconds (documented in docs/classification.md)."""

    #: several links clicked within this span form a burst (vendors: 1-2 s)
    burst_span: float = 2.0
    #: distinct links in `burst_span` that make a burst on their own
    burst_links: int = 3
    #: a slower sweep: distinct links within this span, with two more machine signals
    sweep_span: float = 30.0
    #: hits from the same source this close to a scanner hit share its verdict
    source_window: float = 15.0
    #: hits from the same source this close to a decoy hit are scanners
    decoy_window: float = 30.0
    #: "right after sending": security gateways scan on arrival
    delivery_window: float = 120.0
    #: "soon after sending": gateways that queue (then three machine traits are needed)
    soon_window: float = 300.0
    #: click-time scanners fetch a link this long before the person's browser arrives
    click_time_window: float = 30.0
    #: ... and this soon, another client on the same link is the person after a check, whatever
    #: the check looked like (Mimecast's users wait ~5 s; two people on one copy this close are rare)
    click_time_quick: float = 5.0
    #: other recipients' hits from the same IP within this window
    peer_window: float = 30.0
    #: Yahoo's proxy re-requests a pixel (up to 4 times) within this window
    proxy_retry_window: float = 60.0
    #: a pixel request may reach us this long before the self-view beacon that covers it
    self_view_lead: float = 2.0


WINDOWS = Windows()


def aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def max_distinct_links(points: Iterable[tuple[float, int]], t: float, span: float) -> tuple[int, float]:
    """Most distinct links in a window of `span` seconds that contains time `t`, and that window's
    actual span. `points` are (seconds, link index) pairs, including the hit at `t` itself."""
    near = sorted(p for p in points if abs(p[0] - t) <= span)
    best, best_span = 0, 0.0
    for i, (start, _) in enumerate(near):
        if start > t:
            break
        links: set[int] = set()
        last = start
        for at, link in near[i:]:
            if at - start > span:
                break
            links.add(link)
            last = at
        if last < t:
            continue
        if len(links) > best or (len(links) == best and last - start < best_span):
            best, best_span = len(links), last - start
    return best, best_span


__all__ = ["WINDOWS", "Windows", "aware", "max_distinct_links"]
