"""Hit classification: `classify(hit, context) -> Verdict`. Pure: no I/O, no clock.

The rules are the ordered data rows of `rules.RULES`; the facts they test are the named signals
of `evidence.Evidence`; user-agent and IP-range signatures come from the dated data files in
`signatures/` (read once, on first use). Every verdict carries the rule's reason first and then
the supporting facts (time after sending, network, browser traits), so `Verdict.sentence` reads
like "Security scanner (probably Microsoft Defender Safe Links): 4 links clicked within 1.2 s;
3 s after sending; from a Microsoft network".

See docs/classification.md for every rule, its reason code and its evidence.
"""

from __future__ import annotations

from functools import lru_cache

from ..model import ClassifyContext, Hit, HitKind, Reason, Verdict, VerdictClass
from .agents import _describe
from .catalog import NETWORKS, Signatures, default, reload_if_changed
from .evidence import SIGNALS, Evidence, networks_of
from .rules import FROM_CRAWLER, FROM_ROW, RULES, Rule
from .windows import Windows

#: the version of the rule table; a verdict's `rules_version` adds the signature data's identity
RULES_VERSION = "2026.12-1"
_WINDOWS = Windows()

#: network names in the order their phrase is preferred when an address is in several lists
_NETWORK_ORDER = (
    "apple_relay",
    "googlebot",
    "bing",
    "scanner_vendor",
    "microsoft",
    "google",
    "amazon",
    "oracle",
    "digitalocean",
    "linode",
    "vultr",
)
_VENDOR_GUESS = {
    "microsoft": " (probably Microsoft Defender Safe Links)",
    "scanner_vendor": " (probably Proofpoint)",
    "google": " (from Google's cloud)",
}


def rules_version(signatures: Signatures | None = None) -> str:
    """What decided a verdict: the rule table's version and the signature data's
    (`2026.12-1+2026-11-27.3f9c01ab`: rules, snapshot date, digest of the data files)."""
    return _version_of(signatures or default())


@lru_cache(maxsize=8)
def _version_of(signatures: Signatures) -> str:
    return f"{RULES_VERSION}+{signatures.version}"


def reload_signatures() -> str | None:
    """Use the package's signature files again if `signatures update` replaced them (the pipeline
    calls this every few seconds). Returns the new `rules_version`, or None when nothing changed;
    raises InvalidInput (keeping the old data) when the new files do not load."""
    fresh = reload_if_changed()
    if fresh is None:
        return None
    _describe.cache_clear()
    networks_of.cache_clear()
    return rules_version(fresh)


def duration(seconds: float) -> str:
    """'0.4 s', '42 s', '4 min', '2 h 5 min', '3 days'."""
    s = abs(seconds)
    if s < 10:
        return f"{s:.1f} s"
    if s < 60:
        return f"{s:.0f} s"
    if s < 3600:
        return f"{s / 60:.0f} min"
    if s < 86400:
        h, m = divmod(int(s // 60), 60)
        return f"{h} h {m} min" if m else f"{h} h"
    days = s / 86400
    return f"{days:.0f} days" if days >= 1.5 else "1 day"


def _network(ev: Evidence) -> str | None:
    for name in _NETWORK_ORDER:
        if name in ev.nets:
            return name
    return None


def _values(ev: Evidence, text: str) -> dict[str, str]:
    net = _network(ev)
    out: dict[str, str] = {
        "agent": ev.agent.label,
        "network": NETWORKS[net][0] if net else "an unlisted network",
        "vendor": _VENDOR_GUESS.get(net or "", ""),
        "after_send": duration(ev.after_send),
    }
    if "{ua}" in text:
        ua = ev.hit.user_agent
        out["ua"] = "'" + (ua[:60] + ("…" if len(ua) > 60 else "")) + "'"
    for key, value in ev.values.items():
        if key in ("span", "beacon_gap", "decoy_gap", "follow_gap", "retry_gap") and isinstance(value, float):
            out[key] = duration(value)
        elif isinstance(value, (int, str)):
            out[key] = str(value)
    return out


def _supporting(ev: Evidence, rule: Rule, cls: VerdictClass) -> list[Reason]:
    if cls is VerdictClass.SELF:
        return []
    out: list[Reason] = []
    after = ev.after_send
    out.append(Reason("after_send", "at sending time" if after <= 0 else f"{duration(after)} after sending"))
    net = _network(ev)
    if net and "{network}" not in rule.text:
        phrase = NETWORKS[net][0]
        if rule.code == "person" and net not in ("apple_relay", "googlebot", "bing", "scanner_vendor"):
            phrase += " (also used by virtual desktops and offices: not evidence on its own)"
        out.append(Reason(f"network_{net}", f"from {phrase}"))
    if rule.behavioural:
        age = ev.agent.age_days(ev.at)
        if ev.has("stale_browser") and age is not None:
            years = "a year" if age < 548 else f"{age / 365:.0f} years"
            out.append(Reason("outdated_browser", f"{ev.agent.label}, a version about {years} old"))
        if ev.has("missing_browser_headers"):
            out.append(Reason("no_browser_headers", "without the headers browsers send (Accept-Language, Sec-Fetch-*)"))
    return out


def _verdict(rule: Rule, ev: Evidence) -> Verdict:
    if rule.code == FROM_ROW:
        row = ev.agent.row(ev.kind)
        assert row is not None
        cls, subtype, code, text = row.cls, row.subtype or None, row.code, row.text
    elif rule.code == FROM_CRAWLER:
        crawler = ev.agent.crawler
        assert crawler is not None
        cls, subtype, code, text = crawler.cls, crawler.code, crawler.code, crawler.text
    else:
        assert rule.cls is not None
        cls, subtype, code = rule.cls, rule.subtype, rule.code
        text = rule.text.format_map(_values(ev, rule.text))
    reasons = (Reason(code, text[:1].upper() + text[1:]), *_supporting(ev, rule, cls))
    return Verdict(cls, reasons, subtype=subtype, rules_version=rules_version(ev.sigs))


#: the table with each signal name resolved to its function and whether it must hold
#: (`!name`: must not); an unknown name fails at import
_COMPILED = tuple(
    (
        rule,
        frozenset(rule.kinds),
        tuple((name.lstrip("!"), SIGNALS[name.lstrip("!")], not name.startswith("!")) for name in rule.when),
    )
    for rule in RULES
)


def classify(
    hit: Hit, context: ClassifyContext, *, signatures: Signatures | None = None, windows: Windows | None = None
) -> Verdict:
    """The verdict for one hit. Uses other hits only up to `hit.at + context.settle_window`."""
    sigs = signatures or default()
    if hit.kind is HitKind.SELF_VIEW:
        return Verdict(
            VerdictClass.SELF,
            (Reason("self_view_beacon", "a self-view beacon from the sender's paired browser (not an open)"),),
            subtype="beacon",
            rules_version=rules_version(sigs),
        )
    ev = Evidence(hit, context, sigs, windows or _WINDOWS)
    memo = ev.memo
    kind = hit.kind
    for rule, kinds, checks in _COMPILED:
        if kind not in kinds:
            continue
        for name, fn, want in checks:
            v = memo.get(name)
            if v is None:
                v = memo[name] = bool(fn(ev))
            if v is not want:
                break
        else:
            return _verdict(rule, ev)
    raise AssertionError("the last rule matches every hit")  # pragma: no cover


__all__ = ["RULES", "RULES_VERSION", "classify", "duration", "reload_signatures", "rules_version"]
