"""The signature catalog: the data files shipped in `classify/signatures/`, loaded once.

- IP range lists, one per named network (`NETWORKS`), as `RangeSet`s;
- `user-agents.tsv`: mailbeacon's own table of user-agent signatures (mail proxies, mail
  clients, scanner tokens, unfurlers, HTTP libraries), rows in signatures.md §7 order;
- `isbot-patterns.json` (omrilotan/isbot): the generic crawler list, consulted last;
- `crawler-user-agents.json` (monperrus): tags that say *what kind* of crawler a generic match is.

`default()` reads the package copy the first time it is called and keeps it. `load(directory)`
reads another copy (tests, `signatures update`). Malformed files raise InvalidInput naming the file
and line, so a bad refresh is refused before it replaces anything.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
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
}
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

    def network_phrase(self, name: str) -> str:
        return NETWORKS[name][0]


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


def _read(base: Traversable | Path, name: str) -> str:
    try:
        return base.joinpath(name).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput(f"signature file {name} is missing from {base}") from None


def load(directory: Traversable | Path | None = None) -> Signatures:
    """Read and check every signature file in `directory` (default: the package's copy)."""
    base = directory if directory is not None else package_directory()
    networks = {
        name: RangeSet.from_cidrs(
            [line for f in files for line in _read(base, f).splitlines()], source=" + ".join(files)
        )
        for name, (_, files) in NETWORKS.items()
    }
    try:
        snapshot = str(json.loads(_read(base, MANIFEST)).get("snapshot", ""))
    except json.JSONDecodeError as e:
        raise InvalidInput(f"{MANIFEST}: not JSON ({e})") from None
    return Signatures(
        networks=networks,
        ua_rows=parse_ua_table(_read(base, UA_TABLE)),
        crawler=parse_crawler_patterns(_read(base, CRAWLER_PATTERNS)),
        crawler_tags=parse_crawler_tags(_read(base, CRAWLER_TAGS)),
        snapshot=snapshot,
    )


def package_directory() -> Traversable:
    return resources.files("mailbeacon.classify").joinpath("signatures")


@cache
def default() -> Signatures:
    """The package's signatures, read on first use and kept for the life of the process."""
    return load()


__all__ = ["NETWORKS", "Signatures", "UaRow", "default", "load", "package_directory"]
