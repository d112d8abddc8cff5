"""Signals about a hit among its recipient's other hits: bursts, the same source as a scanner,
click-time checks, one address for many recipients, proxy retries, and the evidence of a person
that a burst must not outvote. Pure.

`Behaviour` is the base of `evidence.Evidence` (which sets every attribute declared here); its
`s_<name>` methods are signals like Evidence's own. Facts about other hits only use hits up to
`hit.at + settle_window` (the determinism rule).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from ..model import ClassifyContext, Hit, HitKind, MessageInfo
from .agents import Agent, describe
from .catalog import SERVER_NETWORKS, Signatures
from .windows import Windows, max_distinct_links

LINK_KINDS = (HitKind.CLICK, HitKind.DECOY)
#: engines that send Sec-Fetch-* headers from this major version (Chrome 76, Firefox 90, Safari 16.4)
SEC_FETCH_SINCE = {"Chrome": 76, "Edge": 79, "Opera": 63, "Samsung Internet": 12, "Firefox": 90, "Safari": 17}
#: a reading shows before clicks: an open at least this long before (a person reads, then clicks) ...
READ_LEAD = 3.0
#: ... and at most this long before
READ_WINDOW = 1800.0


def network_key(ip: str) -> str:
    """The /24 (IPv4) or /48 (IPv6) an address is in, as a string key."""
    if ":" in ip:
        return ":".join(ip.split(":")[:3])
    return ip.rsplit(".", 1)[0]


def same_source(a: Hit, b: Hit) -> bool:
    """The same client: the same address, or the same user agent from the same network.

    The same user agent alone is not enough: current browsers send identical, frozen user-agent
    strings, so a person could share one with a scanner that clicked seconds earlier.
    """
    if a.ip and a.ip == b.ip:
        return True
    return (
        bool(a.user_agent.strip())
        and a.user_agent == b.user_agent
        and bool(a.ip)
        and network_key(a.ip) == network_key(b.ip)
    )


def navigation_headers(h: Hit, agent: Agent) -> bool:
    """A click that carries what a real browser sends for a page it opens: Accept with text/html,
    Accept-Language, and — for engine versions that send them — Sec-Fetch-Mode `navigate` and
    Sec-Fetch-Dest `document` (a scanner copying an old header set lacks them)."""
    if h.kind is not HitKind.CLICK or agent.browser is None:
        return False
    hd = h.headers
    if "text/html" not in hd.get("accept", "") or not hd.get("accept-language"):
        return False
    since = SEC_FETCH_SINCE.get(agent.browser)
    sends = since is not None and agent.major is not None and agent.major >= since
    if sends or "sec-fetch-mode" in hd:
        return hd.get("sec-fetch-mode") == "navigate" and hd.get("sec-fetch-dest", "document") == "document"
    return True


def image_headers(h: Hit) -> bool:
    """An open with the headers a browser sends for an image it displays."""
    hd = h.headers
    return bool(hd.get("accept-language")) and ("image/" in hd.get("accept", "") or hd.get("sec-fetch-dest") == "image")


class Behaviour:
    """The behaviour signals (see the module docstring); attributes are set by `Evidence`."""

    hit: Hit
    ctx: ClassifyContext
    msg: MessageInfo
    sigs: Signatures
    w: Windows
    at: datetime
    agent: Agent
    nets: frozenset[str]
    values: dict[str, object]
    _bursts: dict[float, tuple[int, float]]

    def has(self, signal: str) -> bool:  # pragma: no cover - Evidence defines it
        raise NotImplementedError

    def judged(self, hit: Hit, context: ClassifyContext) -> Behaviour:  # pragma: no cover - Evidence defines it
        """The same judge over another hit (a neighbour) in `context`."""
        raise NotImplementedError

    @property
    def rel(self) -> tuple[tuple[float, Hit], ...]:  # pragma: no cover - Evidence defines it
        raise NotImplementedError

    @property
    def peer_rel(self) -> tuple[tuple[float, Hit], ...]:  # pragma: no cover - Evidence defines it
        raise NotImplementedError

    def _is_sender_device(self, h: Hit) -> bool:
        return h.device_id is not None and h.device_id in self.msg.sender_devices

    def _link_points(self, source: Hit) -> list[tuple[float, int]]:
        """(seconds from this hit, link index) of this recipient's link requests from the same
        source as `source` (same address or same user agent); a decoy request without an index
        counts as one more distinct link."""
        pts = [
            (d, h.link if h.link is not None else -1)
            for d, h in self.rel
            if h.kind in LINK_KINDS and not self._is_sender_device(h) and (h is source or same_source(h, source))
        ]
        me = self.hit
        if me.kind in LINK_KINDS and not self._is_sender_device(me) and (me is source or same_source(me, source)):
            pts.append((0.0, me.link if me.link is not None else -1))
        return pts

    # -- bursts -------------------------------------------------------------------------------

    def _burst(self, span: float) -> tuple[int, float]:
        if self.hit.kind not in LINK_KINDS:
            return 0, 0.0
        result = self._bursts.get(span)
        if result is None:
            result = self._bursts[span] = max_distinct_links(self._link_points(self.hit), 0.0, span)
        return result

    def s_link_burst(self) -> bool:
        n, span = self._burst(self.w.burst_span)
        if n >= self.w.burst_links:
            self.values.update(links=n, span=span)
            return True
        return False

    def s_link_pair(self) -> bool:
        n, span = self._burst(self.w.burst_span)
        if n >= 2:
            self.values.update(links=n, span=span)
            return True
        return False

    def s_link_sweep(self) -> bool:
        n, span = self._burst(self.w.sweep_span)
        if n >= self.w.burst_links:
            self.values.update(links=n, span=span)
            return True
        return False

    # -- a person's evidence, which a burst must not outvote ------------------------------------

    def s_home_network(self) -> bool:
        """Not in any list of server networks (a home, mobile or office line; Private Relay counts)."""
        return not (self.nets & SERVER_NETWORKS)

    def s_navigation_headers(self) -> bool:
        return navigation_headers(self.hit, self.agent)

    def _reading(self, d: float, h: Hit) -> bool:
        """`h` (at `d` seconds from this hit) shows this recipient reading the email: an open
        READ_LEAD to READ_WINDOW seconds before, either by a mail client or mail proxy of the
        signature table, or by this hit's own client with a browser's image headers — and not
        fetched together with that client's link requests (a sandbox loads the pixel with them)."""
        if h.kind is not HitKind.OPEN or not (-READ_WINDOW <= d <= -READ_LEAD) or self._is_sender_device(h):
            return False
        row = describe(h.user_agent, self.sigs).row("open")
        if row is not None and row.tier != "agent" and row.cls.value == "human":
            return True
        if not same_source(h, self.hit) or not image_headers(h):
            return False
        return not any(o.kind in LINK_KINDS and abs(e - d) < READ_LEAD and same_source(o, h) for e, o in self.rel)

    def s_pixel_with_links(self) -> bool:
        """The same client fetched the pixel together with its link requests around this hit (within
        READ_LEAD of one of them): a sandbox loading everything at once, not a person who reads first."""
        links = [0.0] if self.hit.kind in LINK_KINDS else []
        links += [
            d for d, h in self.rel if h.kind in LINK_KINDS and abs(d) <= self.w.burst_span and same_source(h, self.hit)
        ]
        return any(
            h.kind is HitKind.OPEN and same_source(h, self.hit) and any(abs(d - e) < READ_LEAD for e in links)
            for d, h in self.rel
        )

    def s_same_client_read_before(self) -> bool:
        return any(same_source(h, self.hit) and self._reading(d, h) for d, h in self.rel)

    def s_read_before(self) -> bool:
        return any(self._reading(d, h) for d, h in self.rel)

    def s_person_evidence(self) -> bool:
        """Strong evidence of a person at a browser, which a burst does not outvote: a browser's
        navigation headers, not from a crawler or scanner-vendor network, no pixel fetched with the
        links, and

        - the same client showed the recipient reading just before (on a server network, such as a
          corporate proxy, only with a browser that is not outdated: scanners use old ones), or
        - a home network, a browser that is not outdated, and a reading before (any client) or a
          time well after the delivery scans (`soon_window`)."""
        if not self.has("navigation_headers") or self.has("machine_network") or self.has("pixel_with_links"):
            return False
        home, stale = self.has("home_network"), self.has("stale_browser")
        if self.has("same_client_read_before") and (home or not stale):
            return True
        return home and not stale and (self.has("read_before") or not self.has("soon"))

    # -- the same source as a scanner -------------------------------------------------------------

    def s_near_decoy(self) -> bool:
        for d, h in (*self.rel, *self.peer_rel):
            if h.kind is HitKind.DECOY and abs(d) <= self.w.decoy_window and same_source(h, self.hit):
                self.values["decoy_gap"] = abs(d)
                return True
        return False

    def _vouched(self, h: Hit) -> bool:
        """Does a neighbour's own request carry a person's evidence (see `s_person_evidence`)?"""
        if not navigation_headers(h, describe(h.user_agent, self.sigs)):
            return False
        # the neighbour's signals, in the same context: only what this hit may see (up to its own
        # settle limit): the determinism rule
        others = (*(o for _, o in self.rel if o is not h), self.hit)
        return self.judged(h, replace(self.ctx, other_hits=others)).has("person_evidence")

    def _hard_machine(self, d: float, h: Hit) -> bool:
        """A neighbour that is certainly a scanner by itself: decoy, HEAD, a scanner user agent,
        a generic crawler of the scanner kind, or a member of a link burst no person vouches for."""
        if h.kind is HitKind.SELF_VIEW or self._is_sender_device(h):
            return False
        if h.kind is HitKind.DECOY or h.method.upper() == "HEAD":
            return True
        agent = describe(h.user_agent, self.sigs)
        row = agent.row("open" if h.kind is HitKind.OPEN else "click")
        if row is not None:
            return row.tier == "agent" and row.cls.value == "scanner"
        if agent.crawler is not None:
            return agent.crawler.cls.value == "scanner"
        if h.kind in LINK_KINDS:
            n, _ = max_distinct_links(self._link_points(h), d, self.w.burst_span)
            return n >= self.w.burst_links and not self._vouched(h)
        return False

    def s_same_source_as_scanner(self) -> bool:
        """Same source as a scanner request within `source_window`. A scanner request *after* this
        hit decides it only when they came together (within `burst_span`) or this hit has a machine
        trait of its own: later hits do not rewrite an earlier reading without evidence about it."""
        for d, h in self.rel:
            if abs(d) > self.w.source_window or not same_source(h, self.hit):
                continue
            if d > self.w.burst_span and not self.has("weak_machine"):
                continue
            if self._hard_machine(d, h):
                return True
        return False

    # -- click-time checks ----------------------------------------------------------------------

    def _follower_gap(self) -> float | None:
        """Seconds until another client (other address and other UA) that could be a person clicked
        the same link, within `click_time_window` (the shortest such gap; computed once)."""
        if "follow_gap" in self.values or self.hit.kind is not HitKind.CLICK:
            gap = self.values.get("follow_gap")
            return gap if isinstance(gap, float) else None
        best: float | None = None
        for gap, h in self.rel:
            if (
                h.kind is HitKind.CLICK
                and h.link == self.hit.link
                and 0 < gap <= self.w.click_time_window
                and (best is None or gap < best)
                and h.ip != self.hit.ip
                and h.user_agent != self.hit.user_agent
                and not self._is_sender_device(h)
                and self._plausible_person(gap, h)
            ):
                best = gap
        self.values["follow_gap"] = best
        return best

    def _plausible_person(self, d: float, h: Hit) -> bool:
        """A neighbour that could be a person: no machine user agent, not HEAD, not in a burst."""
        if not h.user_agent.strip() or self._hard_machine(d, h):
            return False
        agent = describe(h.user_agent, self.sigs)
        row = agent.row("click")
        return agent.crawler is None and (row is None or row.cls.value == "human")

    def s_followed_by_other_client(self) -> bool:
        return self._follower_gap() is not None

    def s_followed_quickly_by_other_client(self) -> bool:
        gap = self._follower_gap()
        return gap is not None and gap <= self.w.click_time_quick

    def s_checks_again(self) -> bool:
        """Another click of this source, on another link or at another time, was also followed
        within `click_time_quick` by another client: a gateway checks every click; two people who
        click one forwarded link together do not take turns like that."""
        quick = self.w.click_time_quick
        for d, o in self.rel:
            if o.kind is not HitKind.CLICK or not same_source(o, self.hit):
                continue
            if o.link == self.hit.link and abs(d) <= quick:
                continue
            for e, h in self.rel:
                if (
                    h.kind is HitKind.CLICK
                    and h.link == o.link
                    and 0 < e - d <= quick
                    and h.ip != o.ip
                    and h.user_agent != o.user_agent
                    and not self._is_sender_device(h)
                    and self._plausible_person(e, h)
                ):
                    return True
        return False

    # -- other recipients, retries ----------------------------------------------------------------

    def s_shared_ip_recipients(self) -> bool:
        recipients = {h.recipient_id for d, h in self.peer_rel if abs(d) <= self.w.peer_window}
        if len(recipients) >= 2:
            self.values["recipients"] = len(recipients)
            return True
        return False

    def s_shared_ip_same_agent(self) -> bool:
        for d, h in self.peer_rel:
            if abs(d) <= self.w.burst_span * 5 and h.user_agent == self.hit.user_agent:
                self.values["recipients"] = 1
                return True
        return False

    def s_proxy_repeat(self) -> bool:
        if self.hit.kind is not HitKind.OPEN:
            return False
        for d, h in self.rel:
            gap = -d
            earlier = gap > 0 or (gap == 0 and h.uid < self.hit.uid)
            if (
                h.kind is HitKind.OPEN
                and h.user_agent == self.hit.user_agent
                and earlier
                and gap <= self.w.proxy_retry_window
            ):
                self.values["retry_gap"] = gap
                return True
        return False


__all__ = ["LINK_KINDS", "Behaviour", "image_headers", "navigation_headers", "network_key", "same_source"]
