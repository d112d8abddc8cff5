"""The signature catalog: the data files shipped in `classify/signatures/`, loaded once.

- IP range lists, one per named network (`NETWORKS`), as `RangeSet`s;
- `user-agents.tsv`: mailbeacon's own table of user-agent signatures (mail proxies, mail
  clients, scanner tokens, unfurlers, HTTP libraries), rows in signatures.md §7 order;
- `isbot-patterns.json` (omrilotan/isbot): the generic crawler list, consulted last;
- `crawler-user-agents.json` (monperrus): tags that say *what kind* of crawler a generic match is.

`default()` reads the package copy the first time it is called and keeps it; `reload_if_changed()`
(called by the pipeline every few seconds) reads it again when `signatures update` replaced it.
`load(directory)` reads another copy (tests, `signatures update`). Every loaded set has a `version`
(snapshot date + digest of the files) that verdicts carry. Malformed files raise InvalidInput naming the file
and line, so a bad refresh is refused before it replaces anything.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

from ..errors import InvalidInput
from ..model import VerdictClass
from .networks import RangeSet

#: name -> (phrase used in reason texts, data files). Order matters only for display.
NETWORKS: Mapping[str, tuple[str, tuple[str, ...]]] = {
    "apple_relay": ("Apple's iCloud Private Relay", ("apple-private-relay-ipv4.txt", "apple-private-relay-ipv6.txt")),
    "googlebot": ("Googlebot's network", ("googlebot-ipv4.txt", "googlebot-ipv6.txt")),
    "google": ("a Google network", ("google-ipv4.txt", "google-ipv6.txt")),
    "microsoft": ("a Microsoft network", ("microsoft-ipv4.txt", "microsoft-ipv6.txt")),
    "bing": ("Bing's crawler network", ("bing-ipv4.txt",)),
    "scanner_vendor": ("an email-security vendor's network", ("scanner-vendors-ipv4.txt",)),
    "amazon": ("Amazon Web Services", ("amazon-ipv4.txt", "amazon-ipv6.txt")),
    "oracle": ("Oracle Cloud", ("oracle-ipv4.txt",)),
    "digitalocean": ("DigitalOcean", ("digitalocean-ipv4.txt", "digitalocean-ipv6.txt")),
    "linode": ("Linode (Akamai)", ("linode-ipv4.txt", "linode-ipv6.txt")),
    "vultr": ("Vultr", ("vultr-ipv4.txt", "vultr-ipv6.txt")),
}
#: hosting providers: servers rent them, people rarely browse from them (corporate proxies and
#: virtual desktops do, so a network is never enough on its own for a browser)
HOSTING = frozenset({"amazon", "oracle", "digitalocean", "linode", "vultr"})
#: every network that hosts servers: the big clouds, the crawler networks and the hosting providers
SERVER_NETWORKS = frozenset({"microsoft", "google", "googlebot", "bing", "scanner_vendor"}) | HOSTING
UA_TABLE = "user-agents.tsv"
CRAWLER_PATTERNS = "isbot-patterns.json"
CRAWLER_TAGS = "crawler-user-agents.json"
MANIFEST = "manifest.json"
UA_COLUMNS = ("tier", "match", "pattern", "on", "class", "subtype", "code", "text", "evidence")
TIERS = ("proxy", "client", "agent")
MATCHES = ("exact", "prefix", "contains", "icontains", "regex")
ON = ("open", "click", "any")
#: monperrus tags that decide the class of a generic crawler-list match, first hit wins
TAG_CLASSES: tuple[tuple[str, VerdictClass, str, str], ...] = (
    ("social-preview", VerdictClass.PREVIEW, "link_preview", "a link-preview service (listed as social-preview)"),
    ("http-library", VerdictClass.SCANNER, "http_library", "a plain HTTP library (a script or scanner)"),
    ("browser-automation", VerdictClass.SCANNER, "headless_browser", "an automated browser"),
    ("scanner", VerdictClass.SCANNER, "security_scanner", "a security scanner"),
)


@dataclass(frozen=True, slots=True)
class UaRow:
    """One row of `user-agents.tsv`."""

    tier: str
    match: str
    pattern: str
    on: str
    cls: VerdictClass
    subtype: str
    code: str
    text: str
    evidence: str
    regex: re.Pattern[str] | None = field(default=None, compare=False)

    def matches(self, ua: str, ua_lower: str) -> bool:
        if self.match == "exact":
            return ua == self.pattern
        if self.match == "prefix":
            return ua.startswith(self.pattern)
        if self.match == "contains":
            return self.pattern in ua
        if self.match == "icontains":
            return self.pattern.lower() in ua_lower
        assert self.regex is not None
        return self.regex.search(ua) is not None

    def applies_to(self, kind: str) -> bool:
        return self.on == "any" or self.on == kind


@dataclass(frozen=True, slots=True, eq=False)
class Signatures:
    """Everything the classifier knows from data files (compared and hashed by identity)."""

    networks: Mapping[str, RangeSet]
    ua_rows: tuple[UaRow, ...]
    crawler: re.Pattern[str]
    crawler_tags: tuple[tuple[str, re.Pattern[str]], ...]
    snapshot: str
    #: sha256 of every file read (names and contents), first 8 hex digits: which data decided
    digest: str = ""

    @property
    def version(self) -> str:
        """The data's identity in verdicts: `<snapshot date>.<digest>` (e.g. `2026-11-27.3f9c01ab`)."""
        return f"{self.snapshot}.{self.digest}" if self.snapshot else self.digest


# -- parsing ---------------------------------------------------------------------------------------


def parse_ua_table(text: str, *, source: str = UA_TABLE) -> tuple[UaRow, ...]:
    rows: list[UaRow] = []
    header_seen = False
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        cells = line.split("\t")
        if not header_seen:
            if tuple(cells) != UA_COLUMNS:
                raise InvalidInput(f"{source} line {n}: the header must be {' <tab> '.join(UA_COLUMNS)}")
            header_seen = True
            continue
        if len(cells) != len(UA_COLUMNS):
            raise InvalidInput(f"{source} line {n}: expected {len(UA_COLUMNS)} tab-separated cells, found {len(cells)}")
        tier, match, pattern, on, cls, subtype, code, text_, evidence = cells
        if tier not in TIERS or match not in MATCHES or on not in ON:
            raise InvalidInput(
                f"{source} line {n}: tier must be one of {TIERS}, match one of {MATCHES}, on one of {ON}"
            )
        try:
            vclass = VerdictClass(cls)
        except ValueError:
            raise InvalidInput(f"{source} line {n}: unknown class '{cls}'") from None
        if not pattern or not code or not text_:
            raise InvalidInput(f"{source} line {n}: pattern, code and text must not be empty")
        regex = None
        if match == "regex":
            try:
                regex = re.compile(pattern)
            except re.error as e:
                raise InvalidInput(f"{source} line {n}: bad regular expression: {e}") from None
        rows.append(UaRow(tier, match, pattern, on, vclass, subtype, code, text_, evidence, regex))
    if not header_seen:
        raise InvalidInput(f"{source}: no header line")
    # evaluate tier by tier, in the order of TIERS, keeping file order inside a tier
    return tuple(sorted(rows, key=lambda r: TIERS.index(r.tier)))


def js_to_python_regex(pattern: str) -> str:
    """isbot's patterns are JavaScript regexes. Two constructs differ in Python's `re`:
    a look-behind with alternatives of different lengths, and `-` after a class escape
    inside `[...]`. Both are rewritten to equivalent Python syntax."""
    m = re.match(r"^\(\?<!([^()]*)\)(.*)$", pattern)
    if m and "|" in m.group(1):
        pattern = "".join(f"(?<!{alt})" for alt in m.group(1).split("|")) + m.group(2)
    return re.sub(r"(\\[dwsDWS])-(?!\])", r"\1\\-", pattern)


def parse_crawler_patterns(text: str, *, source: str = CRAWLER_PATTERNS) -> re.Pattern[str]:
    try:
        patterns = json.loads(text)
    except json.JSONDecodeError as e:
        raise InvalidInput(f"{source}: not JSON ({e})") from None
    if not isinstance(patterns, list) or not patterns or not all(isinstance(p, str) for p in patterns):
        raise InvalidInput(f"{source}: expected a JSON list of regular expressions (isbot's src/patterns.json)")
    converted = []
    for p in patterns:
        py = js_to_python_regex(p)
        try:
            re.compile(py)
        except re.error as e:
            raise InvalidInput(f"{source}: pattern {p!r} is not usable: {e}") from None
        converted.append(py)
    return re.compile("|".join(f"(?:{p})" for p in converted), re.IGNORECASE)


def parse_crawler_tags(text: str, *, source: str = CRAWLER_TAGS) -> tuple[tuple[str, re.Pattern[str]], ...]:
    try:
        entries = json.loads(text)
    except json.JSONDecodeError as e:
        raise InvalidInput(f"{source}: not JSON ({e})") from None
    if not isinstance(entries, list) or not entries:
        raise InvalidInput(f"{source}: expected monperrus/crawler-user-agents' JSON list of patterns")
    by_tag: dict[str, list[str]] = {tag: [] for tag, *_ in TAG_CLASSES}
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("pattern"), str):
            raise InvalidInput(f"{source}: every entry needs a 'pattern' string")
        for tag in entry.get("tags", ()):
            if tag in by_tag:
                by_tag[tag].append(entry["pattern"])
    out = []
    for tag, pats in by_tag.items():
        if pats:
            try:
                out.append((tag, re.compile("|".join(f"(?:{p})" for p in pats))))
            except re.error as e:
                raise InvalidInput(f"{source}: a '{tag}' pattern is not usable: {e}") from None
    return tuple(out)


def _read(base: Traversable | Path, name: str, seen: dict[str, str] | None = None) -> str:
    try:
        text = base.joinpath(name).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput(f"signature file {name} is missing from {base}") from None
    if seen is not None:
        seen[name] = text
    return text


def _digest(files: Mapping[str, str]) -> str:
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + files[name].encode() + b"\0")
    return h.hexdigest()[:8]


def load(directory: Traversable | Path | None = None) -> Signatures:
    """Read and check every signature file in `directory` (default: the package's copy)."""
    base = directory if directory is not None else package_directory()
    seen: dict[str, str] = {}
    networks = {
        name: RangeSet.from_cidrs(
            [line for f in files for line in _read(base, f, seen).splitlines()], source=" + ".join(files)
        )
        for name, (_, files) in NETWORKS.items()
    }
    try:
        snapshot = str(json.loads(_read(base, MANIFEST, seen)).get("snapshot", ""))
    except json.JSONDecodeError as e:
        raise InvalidInput(f"{MANIFEST}: not JSON ({e})") from None
    return Signatures(
        networks=networks,
        ua_rows=parse_ua_table(_read(base, UA_TABLE, seen)),
        crawler=parse_crawler_patterns(_read(base, CRAWLER_PATTERNS, seen)),
        crawler_tags=parse_crawler_tags(_read(base, CRAWLER_TAGS, seen)),
        snapshot=snapshot,
        digest=_digest(seen),
    )


def package_directory() -> Traversable:
    return resources.files("mailbeacon.classify").joinpath("signatures")


class _Active:
    """The signatures in use, and the identity (mtime, size, inode) of the manifest they came from.

    `signatures update` writes the data files first and `manifest.json` last (each atomically), so
    a changed manifest means a complete new set is on disk."""

    def __init__(self) -> None:
        self.sigs: Signatures | None = None
        self.stamp: tuple[int, int, int] | None = None
        self.lock = threading.Lock()


_ACTIVE = _Active()


def _stamp() -> tuple[int, int, int] | None:
    try:
        st = os.stat(str(package_directory().joinpath(MANIFEST)))
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def default() -> Signatures:
    """The signatures in use: the package's copy, read on first use and kept until `reload_if_changed`."""
    sigs = _ACTIVE.sigs
    if sigs is None:
        with _ACTIVE.lock:
            if _ACTIVE.sigs is None:
                _ACTIVE.stamp = _stamp()
                _ACTIVE.sigs = load()
            sigs = _ACTIVE.sigs
    return sigs


def reload_if_changed() -> Signatures | None:
    """Read the package's copy again if its manifest changed since it was read (`signatures update`).

    Returns the new signatures, or None when nothing changed. A set that does not load raises
    InvalidInput and the old one stays in use."""
    if _ACTIVE.sigs is None:
        default()
        return None
    stamp = _stamp()
    if stamp is None or stamp == _ACTIVE.stamp:
        return None
    with _ACTIVE.lock:
        if stamp == _ACTIVE.stamp:
            return None
        fresh = load()
        changed = _ACTIVE.sigs is None or fresh.version != _ACTIVE.sigs.version
        _ACTIVE.stamp = stamp
        if not changed:
            return None
        _ACTIVE.sigs = fresh
        return fresh


__all__ = [
    "HOSTING",
    "NETWORKS",
    "SERVER_NETWORKS",
    "Signatures",
    "UaRow",
    "default",
    "load",
    "package_directory",
    "reload_if_changed",
]
