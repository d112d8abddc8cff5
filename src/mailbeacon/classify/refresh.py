"""`mailbeacon signatures update --from DIR`: refresh the signature files from downloaded upstream files.

This module reads and writes files (it is the one place that does, for signatures); the
classifier itself only reads the package copy once. Recognised file names in DIR (any subset):

| file in DIR | publisher / format | refreshes |
|---|---|---|
| `egress-ip-ranges.csv` | Apple, `https://mask-api.icloud.com/egress-ip-ranges.csv` (`prefix,country,region,city,`) | apple-private-relay-ipv4/6.txt |
| `goog.json`, `cloud.json` | Google, `https://www.gstatic.com/ipranges/` (`{"prefixes": [{"ipv4Prefix"/"ipv6Prefix"}]}`) | google-ipv4/6.txt (with googlebot.json) |
| `googlebot.json` | Google, `developers.google.com/static/search/apis/ipranges/googlebot.json` | googlebot-ipv4/6.txt |
| `bingbot.json` | Microsoft, `https://www.bing.com/toolbox/bingbot.json` (same shape as Google's) | bing-ipv4.txt |
| `ServiceTags_Public*.json` | Microsoft Azure Service Tags (`values[].properties.addressPrefixes`) | microsoft-ipv4/6.txt |
| `ip-ranges.json` | AWS, `https://ip-ranges.amazonaws.com/ip-ranges.json` | amazon-ipv4/6.txt |
| `public_ip_ranges.json` | Oracle, `https://docs.oracle.com/en-us/iaas/tools/public_ip_ranges.json` | oracle-ipv4.txt |
| `digitalocean.csv`, `linode.csv`, `vultr.csv` | the providers' geofeeds (RFC 8805 CSV, prefix first) | digitalocean/linode/vultr-ipv4/6.txt |
| `patterns.json` or `isbot-patterns.json` | omrilotan/isbot `src/patterns.json` | isbot-patterns.json |
| `crawler-user-agents.json` | monperrus/crawler-user-agents | crawler-user-agents.json |
| any of our own file names (`*-ipv4.txt`, `user-agents.tsv` ...) | CIDR per line / our table | the same file |

Everything is parsed and checked first; the set is written only if all of it loads. A range
list that would shrink to less than half its size is refused unless `force` is set (a truncated
download must not silently forget Apple's relay). The manifest records what came from where and when.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from ..errors import InvalidInput
from .catalog import CRAWLER_PATTERNS, CRAWLER_TAGS, MANIFEST, NETWORKS, UA_TABLE, load, package_directory
from .networks import RangeSet

OWN_FILES = (*(f for _, files in NETWORKS.values() for f in files), UA_TABLE, CRAWLER_PATTERNS, CRAWLER_TAGS)


@dataclass(frozen=True, slots=True)
class Change:
    file: str
    source: str
    before: int
    after: int


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InvalidInput(f"{path.name}: not a JSON file ({e})") from None


def google_prefixes(path: Path) -> list[str]:
    data = _json(path)
    prefixes = data.get("prefixes") if isinstance(data, dict) else None
    if not isinstance(prefixes, list):
        raise InvalidInput(f'{path.name}: expected Google\'s format {{"prefixes": [{{"ipv4Prefix": ...}}]}}')
    out: list[str] = []
    for p in prefixes:
        if isinstance(p, dict):
            out.extend(str(v) for k, v in p.items() if k in ("ipv4Prefix", "ipv6Prefix"))
    return out


def service_tag_prefixes(path: Path) -> list[str]:
    data = _json(path)
    values = data.get("values") if isinstance(data, dict) else None
    if not isinstance(values, list):
        raise InvalidInput(f"{path.name}: expected Azure Service Tags JSON with a 'values' list")
    out: list[str] = []
    for v in values:
        props = v.get("properties", {}) if isinstance(v, dict) else {}
        out.extend(str(p) for p in props.get("addressPrefixes", []) if isinstance(props, dict))
    return out


def aws_prefixes(path: Path) -> list[str]:
    data = _json(path)
    if not isinstance(data, dict) or not isinstance(data.get("prefixes"), list):
        raise InvalidInput(
            f'{path.name}: expected AWS\'s format {{"prefixes": [{{"ip_prefix": ...}}], "ipv6_prefixes": ...}}'
        )
    out = [str(p["ip_prefix"]) for p in data["prefixes"] if isinstance(p, dict) and "ip_prefix" in p]
    out += [str(p["ipv6_prefix"]) for p in data.get("ipv6_prefixes", []) if isinstance(p, dict) and "ipv6_prefix" in p]
    return out


def oracle_prefixes(path: Path) -> list[str]:
    data = _json(path)
    regions = data.get("regions") if isinstance(data, dict) else None
    if not isinstance(regions, list):
        raise InvalidInput(f'{path.name}: expected Oracle\'s format {{"regions": [{{"cidrs": [{{"cidr": ...}}]}}]}}')
    return [
        str(c["cidr"])
        for r in regions
        if isinstance(r, dict)
        for c in r.get("cidrs", [])
        if isinstance(c, dict) and "cidr" in c
    ]


def apple_prefixes(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8", errors="replace")
    return [row[0].strip() for row in csv.reader(io.StringIO(text)) if row and row[0].strip()]


def _split(cidrs: Iterable[str], source: str) -> tuple[list[str], list[str]]:
    ranges = RangeSet.from_cidrs(cidrs, source=source)
    v4 = [c for c in ranges.cidrs() if ":" not in c]
    v6 = [c for c in ranges.cidrs() if ":" in c]
    return v4, v6


def _count(text: str) -> int:
    return sum(1 for line in text.splitlines() if line.strip() and not line.startswith("#"))


def _addresses(text: str, name: str) -> int:
    """How many addresses a range file covers (what the shrink guard compares)."""
    rs = RangeSet.from_cidrs(text.splitlines(), source=name)
    return sum(e - s + 1 for s, e in zip(rs.v4_starts, rs.v4_ends, strict=True)) + sum(
        e - s + 1 for s, e in zip(rs.v6_starts, rs.v6_ends, strict=True)
    )


def plan(source: Path) -> dict[str, tuple[str, str]]:
    """New file contents `{our file: (text, where it came from)}` from the upstream files in `source`."""
    if not source.is_dir():
        raise InvalidInput(f"{source} is not a directory of downloaded signature files")
    out: dict[str, tuple[str, str]] = {}

    def ranges(names: tuple[str, ...], cidrs: list[str], origin: str) -> None:
        v4, v6 = _split(cidrs, origin)
        for name, items in zip(names, (v4, v6), strict=False):
            out[name] = ("\n".join(items) + "\n", origin)

    if (f := source / "egress-ip-ranges.csv").exists():
        ranges(NETWORKS["apple_relay"][1], apple_prefixes(f), f.name)
    google = [n for n in ("goog.json", "cloud.json", "googlebot.json") if (source / n).exists()]
    if "goog.json" in google:
        ranges(NETWORKS["google"][1], [p for n in google for p in google_prefixes(source / n)], " + ".join(google))
    if (f := source / "googlebot.json").exists():
        ranges(NETWORKS["googlebot"][1], google_prefixes(f), f.name)
    if (f := source / "bingbot.json").exists():
        ranges(NETWORKS["bing"][1], google_prefixes(f), f.name)
    tags = sorted(source.glob("ServiceTags_Public*.json"))
    if tags:
        ranges(NETWORKS["microsoft"][1], service_tag_prefixes(tags[-1]), tags[-1].name)
    if (f := source / "ip-ranges.json").exists():
        ranges(NETWORKS["amazon"][1], aws_prefixes(f), f.name)
    if (f := source / "public_ip_ranges.json").exists():
        ranges(NETWORKS["oracle"][1], oracle_prefixes(f), f.name)
    for network in ("digitalocean", "linode", "vultr"):  # RFC 8805 geofeeds: the prefix is column 1
        if (f := source / f"{network}.csv").exists():
            ranges(NETWORKS[network][1], apple_prefixes(f), f.name)
    for name in ("patterns.json", "isbot-patterns.json"):
        if (f := source / name).exists():
            out[CRAWLER_PATTERNS] = (f.read_text(encoding="utf-8"), f.name)
    for name in OWN_FILES:
        f = source / name
        if f.exists() and name not in out:
            out[name] = (f.read_text(encoding="utf-8"), f.name)
    if not out:
        raise InvalidInput(
            f"{source} holds none of the expected files (egress-ip-ranges.csv, goog.json, googlebot.json, "
            "bingbot.json, ServiceTags_Public*.json, ip-ranges.json, public_ip_ranges.json, digitalocean.csv, linode.csv, "
            "vultr.csv, patterns.json, crawler-user-agents.json, or our own file names); "
            "see docs/classification.md"
        )
    return out


def update(source: Path, target: Path | None = None, *, today: date, force: bool = False) -> list[Change]:
    """Check and write refreshed signature files into `target` (default: the package's copy)."""
    dest = target if target is not None else Path(str(package_directory()))
    new = plan(source)
    changes = []
    for name, (text, origin) in sorted(new.items()):
        old_path = dest / name
        before = _count(old_path.read_text(encoding="utf-8")) if old_path.exists() else 0
        after = _count(text)
        if name.endswith(".txt") and before and old_path.exists() and not force:
            old_size = _addresses(old_path.read_text(encoding="utf-8"), name)
            if _addresses(text, name) < old_size / 2:
                raise InvalidInput(
                    f"{name} would cover less than half the addresses it covers now ({after} ranges from {origin}, "
                    f"{before} before); check the download, or pass --force if that is right"
                )
        changes.append(Change(name, origin, before, after))
    with tempfile.TemporaryDirectory() as tmp:
        staging = Path(tmp)
        for item in dest.iterdir():
            if item.is_file():
                shutil.copy2(item, staging / item.name)
        for name, (text, _) in new.items():
            (staging / name).write_text(text, encoding="utf-8")
        load(staging)  # the whole set must load before anything is replaced
    manifest_path = dest / MANIFEST
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else {"files": {}}
    for c in changes:
        entry = manifest.setdefault("files", {}).setdefault(c.file, {})
        entry.update(publisher=c.source, retrieved=today.isoformat(), repository="downloaded", commit="")
    manifest["snapshot"] = today.isoformat()
    for name, (text, _) in new.items():
        _write(dest / name, text)
    _write(manifest_path, json.dumps(manifest, indent=1) + "\n")
    return changes


def _write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


__all__ = ["OWN_FILES", "Change", "plan", "update"]
