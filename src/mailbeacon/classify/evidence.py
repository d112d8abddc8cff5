"""Signals about one hit, each computed on first use. Pure.

A signal is a yes/no fact with a name (`early`, `link_burst`, `microsoft` ...); the rule table in
`rules.py` refers to signals by name. Facts about other hits only use hits up to
`hit.at + settle_window`, so a settled verdict never depends on what came later (the determinism
rule: settled verdicts, `reclassify` and `eval` agree).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from ..model import ClassifyContext, Hit, HitKind
from .agents import Agent, describe
from .catalog import NETWORKS, Signatures
from .networks import parse_ip
from .windows import WINDOWS, Windows, aware, max_distinct_links

LINK_KINDS = (HitKind.CLICK, HitKind.DECOY)
PREFETCH_HEADERS = ("purpose", "sec-purpose", "x-purpose", "x-moz")
PREFETCH_WORDS = ("prefetch", "preview", "prerender")


@lru_cache(maxsize=16384)
def networks_of(ip: str, sigs: Signatures) -> frozenset[str]:
    parsed = parse_ip(ip)
    if parsed is None:
        return frozenset()
    version, value = parsed
    return frozenset(name for name in NETWORKS if sigs.networks[name].contains_int(version, value))


def _network(ip: str) -> str:
    """The /24 (IPv4) or /48 (IPv6) an address is in, as a string key."""
    if ":" in ip:
        return ":".join(ip.split(":")[:3])
    return ip.rsplit(".", 1)[0]


def _same_source(a: Hit, b: Hit) -> bool:
    """The same client: the same address, or the same user agent from the same network.

    The same user agent alone is not enough: current browsers send identical, frozen user-agent
    strings, so a person could share one with a scanner that clicked seconds earlier.
    """
    if a.ip and a.ip == b.ip:
        return True
    return (
        bool(a.user_agent.strip()) and a.user_agent == b.user_agent and bool(a.ip) and _network(a.ip) == _network(b.ip)
    )


class Evidence:
    """The signals of one hit in its context. `has(name)` computes a signal once.

    Other hits are looked at as `(seconds relative to this hit, hit)` pairs, computed once and
    only when a signal needs them (many hits are decided by their user agent alone).
    """

    def __init__(self, hit: Hit, context: ClassifyContext, sigs: Signatures, windows: Windows = WINDOWS) -> None:
        self.hit = hit
        self.ctx = context
        self.msg = context.message
        self.sigs = sigs
        self.w = windows
        self.at = aware(hit.at)
        self.kind = "open" if hit.kind is HitKind.OPEN else "click"
        self.agent: Agent = describe(hit.user_agent, sigs)
        self.nets = networks_of(hit.ip, sigs) if hit.ip else frozenset()
        self.values: dict[str, object] = {}
        self.memo: dict[str, bool] = {}
        self._bursts: dict[float, tuple[int, float]] = {}
        self._rel: tuple[tuple[float, Hit], ...] | None = None
        self._peer_rel: tuple[tuple[float, Hit], ...] | None = None

    # -- access ------------------------------------------------------------------------------

    def has(self, signal: str) -> bool:
        v = self.memo.get(signal)
        if v is None:
            v = self.memo[signal] = bool(SIGNALS[signal](self))
        return v

    def _relative(self, hits: tuple[Hit, ...], same_ip: bool) -> tuple[tuple[float, Hit], ...]:
        """`(seconds from this hit, hit)` for hits up to `hit.at + settle_window` (determinism)."""
        me, at, limit = self.hit, self.at, self.ctx.settle_window
        out = []
        for h in hits:
            if h is me or (me.uid and h.uid == me.uid) or (same_ip and h.ip != me.ip):
                continue
            try:
                d = (h.at - at).total_seconds()
            except TypeError:  # a naive datetime among aware ones: read it as UTC
                d = (aware(h.at) - at).total_seconds()
            if d <= limit:
                out.append((d, h))
        return tuple(out)

    @property
    def rel(self) -> tuple[tuple[float, Hit], ...]:
        if self._rel is None:
            self._rel = self._relative(self.ctx.other_hits, same_ip=False)
        return self._rel

    @property
    def peer_rel(self) -> tuple[tuple[float, Hit], ...]:
        if self._peer_rel is None:
            self._peer_rel = self._relative(self.ctx.peer_hits, same_ip=True)
        return self._peer_rel

    @property
    def after_send(self) -> float:
        return (self.at - aware(self.msg.sent_at)).total_seconds()

    def _is_sender_device(self, h: Hit) -> bool:
        return h.device_id is not None and h.device_id in self.msg.sender_devices

    def _link_points(self, source: Hit) -> list[tuple[float, int]]:
        """(seconds from this hit, link index) of this recipient's link requests from the same
        source as `source` (same address or same user agent); a decoy request without an index
        counts as one more distinct link."""
        pts = [
            (d, h.link if h.link is not None else -1)
            for d, h in self.rel
            if h.kind in LINK_KINDS and not self._is_sender_device(h) and (h is source or _same_source(h, source))
        ]
        me = self.hit
        if me.kind in LINK_KINDS and not self._is_sender_device(me) and (me is source or _same_source(me, source)):
            pts.append((0.0, me.link if me.link is not None else -1))
        return pts

    # -- the sender ---------------------------------------------------------------------------

    def s_paired_device(self) -> bool:
        return self._is_sender_device(self.hit)

    def s_self_view_recent(self) -> bool:
        if self.hit.kind is not HitKind.OPEN:
            return False
        devices = self.msg.sender_devices
        for d, h in self.rel:
            if h.kind is not HitKind.SELF_VIEW:
                continue
            if devices and h.device_id is not None and h.device_id not in devices:
                continue
            gap = -d
            if -self.w.self_view_lead <= gap <= self.ctx.self_view_window:
                self.values["beacon_gap"] = max(gap, 0.0)
                return True
        return False

    # -- request shape ------------------------------------------------------------------------

    def s_decoy(self) -> bool:
        h = self.hit
        return h.kind is HitKind.DECOY or (
            h.kind is HitKind.CLICK and self.msg.decoy_link is not None and h.link == self.msg.decoy_link
        )

    def s_head(self) -> bool:
        return self.hit.method.upper() == "HEAD"

    def s_prefetch_header(self) -> bool:
        for name in PREFETCH_HEADERS:
            value = self.hit.headers.get(name, "").lower()
            if value and any(w in value for w in PREFETCH_WORDS):
                self.values["prefetch_header"] = f"{name}: {value}"
                return True
        return False

    def s_one_outlook_header(self) -> bool:
        return "oneoutlook" in self.hit.headers.get("x-native-host", "").lower()

    def s_from_header(self) -> bool:
        """Crawlers identify their operator in `From:` (RFC 9110 §10.1.2); browsers never send it."""
        value = self.hit.headers.get("from", "")
        if value.strip():
            self.values["from_header"] = value.strip()[:80]
            return True
        return False

    # -- user agent ---------------------------------------------------------------------------

    def s_bare_mozilla(self) -> bool:
        return self.agent.bare_mozilla

    def s_empty_ua(self) -> bool:
        return self.agent.empty

    def _row_tier(self, tier: str) -> bool:
        row = self.agent.row(self.kind)
        return row is not None and row.tier == tier

    def s_ua_proxy(self) -> bool:
        return self._row_tier("proxy")

    def s_ua_client(self) -> bool:
        return self._row_tier("client")

    def s_ua_agent(self) -> bool:
        return self._row_tier("agent")

    def s_yahoo_proxy(self) -> bool:
        row = self.agent.row(self.kind)
        return row is not None and row.code == "yahoo_mail_proxy"

    def s_crawler_list(self) -> bool:
        return self.agent.crawler is not None

    def s_browser(self) -> bool:
        return self.agent.browser is not None

    def s_stale_browser(self) -> bool:
        return self.agent.stale(self.at)

    def s_fresh_browser(self) -> bool:
        return self.agent.fresh(self.at)

    def s_missing_browser_headers(self) -> bool:
        if self.agent.browser is None:
            return False
        headers = self.hit.headers
        if headers.get("accept-language"):
            return False
        return not any(k.startswith(("sec-fetch-", "sec-ch-ua")) for k in headers)

    # -- network ------------------------------------------------------------------------------

    def s_apple_relay(self) -> bool:
        return "apple_relay" in self.nets

    def s_microsoft(self) -> bool:
        return "microsoft" in self.nets

    def s_google(self) -> bool:
        return "google" in self.nets or "googlebot" in self.nets

    def s_cloud_network(self) -> bool:
        """Big clouds: Microsoft (Azure, Microsoft 365) and Google (incl. Google Cloud). People use
        them too (virtual desktops, offices), so this is never evidence on its own."""
        return bool(self.nets & {"microsoft", "google", "googlebot", "bing"})

    def s_machine_network(self) -> bool:
        """Networks that host crawlers and email-security scanners, not people."""
        return bool(self.nets & {"googlebot", "bing", "scanner_vendor"})

    def s_network(self) -> bool:
        return self.has("cloud_network") or self.has("machine_network")

    # -- timing -------------------------------------------------------------------------------

    def s_early(self) -> bool:
        return self.after_send <= self.w.delivery_window

    def s_soon(self) -> bool:
        return self.after_send <= self.w.soon_window

    # -- behaviour ----------------------------------------------------------------------------

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

    def s_near_decoy(self) -> bool:
        for d, h in (*self.rel, *self.peer_rel):
            if h.kind is HitKind.DECOY and abs(d) <= self.w.decoy_window and _same_source(h, self.hit):
                self.values["decoy_gap"] = abs(d)
                return True
        return False

    def _hard_machine(self, d: float, h: Hit) -> bool:
        """A neighbour that is certainly a scanner by itself: decoy, HEAD, a scanner user agent,
        a generic crawler of the scanner kind, or a member of a link burst."""
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
            return n >= self.w.burst_links
        return False

    def s_same_source_as_scanner(self) -> bool:
        for d, h in self.rel:
            if abs(d) <= self.w.source_window and _same_source(h, self.hit) and self._hard_machine(d, h):
                return True
        return False

    def _follower_gap(self) -> float | None:
        """Seconds until another client (other address and other UA) clicked the same link."""
        if self.hit.kind is not HitKind.CLICK:
            return None
        for gap, h in self.rel:
            if (
                h.kind is HitKind.CLICK
                and h.link == self.hit.link
                and 0 < gap <= self.w.click_time_window
                and h.ip != self.hit.ip
                and h.user_agent != self.hit.user_agent
                and not self._is_sender_device(h)
                and self._plausible_person(gap, h)
            ):
                self.values["follow_gap"] = gap
                return gap
        return None

    def _plausible_person(self, d: float, h: Hit) -> bool:
        """A neighbour that could be a person: no machine user agent, not HEAD, not in a burst."""
        if not h.user_agent.strip() or self._hard_machine(d, h):
            return False
        agent = describe(h.user_agent, self.sigs)
        row = agent.row("click")
        return agent.crawler is None and (row is None or row.cls.value == "human")

    def s_followed_by_other_client(self) -> bool:
        return self._follower_gap() is not None

    def s_weak_machine(self) -> bool:
        return (
            self.has("missing_browser_headers")
            or self.has("network")
            or self.has("stale_browser")
            or not self.has("browser")
        )

    def s_machine_traits(self) -> bool:
        """Like `weak_machine` but without the browser's age (people's browsers can be old too)."""
        return self.has("missing_browser_headers") or self.has("network") or not self.has("browser")

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


#: signal name -> the method that computes it (every `s_<name>` method of Evidence)
SIGNALS: dict[str, Callable[[Evidence], bool]] = {
    name[2:]: fn for name, fn in vars(Evidence).items() if name.startswith("s_") and callable(fn)
}


__all__ = ["SIGNALS", "Evidence", "networks_of"]
