"""Signals about one hit, each computed on first use. Pure.

A signal is a yes/no fact with a name (`early`, `link_burst`, `microsoft` ...); the rule table in
`rules.py` refers to signals by name. Facts about other hits only use hits up to
`hit.at + settle_window`, so a settled verdict never depends on what came later (the determinism
rule: settled verdicts, `reclassify` and `eval` agree).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from ..model import ClassifyContext, Hit, HitKind, Relation
from .agents import Agent, describe
from .behaviour import Behaviour
from .catalog import HOSTING, NETWORKS, SERVER_NETWORKS, Signatures
from .networks import parse_ip
from .windows import WINDOWS, Windows, aware

PREFETCH_HEADERS = ("purpose", "sec-purpose", "x-purpose", "x-moz")
PREFETCH_WORDS = ("prefetch", "preview", "prerender")


@lru_cache(maxsize=16384)
def networks_of(ip: str, sigs: Signatures) -> frozenset[str]:
    parsed = parse_ip(ip)
    if parsed is None:
        return frozenset()
    version, value = parsed
    return frozenset(name for name in NETWORKS if sigs.networks[name].contains_int(version, value))


class Evidence(Behaviour):
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

    def judged(self, hit: Hit, context: ClassifyContext) -> Evidence:
        return Evidence(hit, context, self.sigs, self.w)

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

    # -- the sender ---------------------------------------------------------------------------

    def s_paired_device(self) -> bool:
        return self._is_sender_device(self.hit)

    def s_sender_network(self) -> bool:
        """From an address the sender submitted this email (or a later one) from through the SMTP
        proxy — the sender's own network — and the recipient is not a colleague (who may share
        the office's address)."""
        if not self.hit.ip or self.hit.ip not in self.msg.sender_networks:
            return False
        if self.ctx.relation is Relation.COLLEAGUE:
            return False
        self.values["submitted_ip"] = self.hit.ip
        return True

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

    def s_tool_agent(self) -> bool:
        """A user agent that names neither a browser engine, a device platform, a mail client nor
        a mail proxy: a tool's own name (`Something::Bookmark/2.0`). Empty and bare `Mozilla/5.0`
        have rules of their own."""
        return not self.agent.client_like and not self.agent.empty and not self.agent.bare_mozilla

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
        """Big clouds (Microsoft, Google incl. Google Cloud) and hosting providers (AWS, Oracle,
        DigitalOcean, Linode, Vultr). People use them too (virtual desktops, corporate proxies), so
        this is never evidence on its own for a browser."""
        return bool(self.nets & ({"microsoft", "google", "googlebot", "bing"} | HOSTING))

    def s_server_network(self) -> bool:
        """Any network of the lists that hosts servers (everything but Apple's relay)."""
        return bool(self.nets & SERVER_NETWORKS)

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

    # -- machine traits -------------------------------------------------------------------------

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


#: signal name -> the method that computes it (every `s_<name>` method of Evidence)
SIGNALS: dict[str, Callable[[Evidence], bool]] = {
    name[2:]: fn
    for cls in (Behaviour, Evidence)
    for name, fn in vars(cls).items()
    if name.startswith("s_") and callable(fn)
}


__all__ = ["SIGNALS", "Evidence", "networks_of"]
