"""IP range sets: CIDR lists as sorted integer intervals, looked up with `bisect`. Pure.

One `RangeSet` per named network (Apple Private Relay egress, Google, Microsoft ...). IPv4 and
IPv6 live in separate interval lists; a lookup parses the address once and does one binary
search per family list, so a membership test costs well under a microsecond.
"""

from __future__ import annotations

import ipaddress
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import InvalidInput


@dataclass(frozen=True, slots=True)
class RangeSet:
    """Merged, sorted, non-overlapping intervals `[start, end]` for IPv4 and IPv6."""

    v4_starts: tuple[int, ...] = ()
    v4_ends: tuple[int, ...] = ()
    v6_starts: tuple[int, ...] = ()
    v6_ends: tuple[int, ...] = ()

    @classmethod
    def from_cidrs(cls, cidrs: Iterable[str], *, source: str = "") -> RangeSet:
        """Build from CIDR strings (`10.0.0.0/8`, `2a01:111::/32`, bare addresses). Blank lines and
        `#` comments are skipped; a malformed entry raises InvalidInput naming `source` and the line."""
        v4: list[tuple[int, int]] = []
        v6: list[tuple[int, int]] = []
        for n, raw in enumerate(cidrs, 1):
            line = raw.split("#", 1)[0].strip().rstrip(",")
            if not line:
                continue
            try:
                net = ipaddress.ip_network(line.split(",", 1)[0].strip(), strict=False)
            except ValueError as e:
                where = f"{source} line {n}" if source else f"line {n}"
                raise InvalidInput(f"{where}: '{line}' is not an IP range (expected CIDR such as 192.0.2.0/24)") from e
            pair = (int(net.network_address), int(net.broadcast_address))
            (v4 if net.version == 4 else v6).append(pair)
        s4, e4 = _merge(v4)
        s6, e6 = _merge(v6)
        return cls(s4, e4, s6, e6)

    def __len__(self) -> int:
        return len(self.v4_starts) + len(self.v6_starts)

    def contains_int(self, version: int, value: int) -> bool:
        starts, ends = (self.v4_starts, self.v4_ends) if version == 4 else (self.v6_starts, self.v6_ends)
        i = bisect_right(starts, value) - 1
        return i >= 0 and value <= ends[i]

    def __contains__(self, ip: object) -> bool:
        if not isinstance(ip, str):
            return False
        parsed = parse_ip(ip)
        return parsed is not None and self.contains_int(*parsed)

    def cidrs(self) -> list[str]:
        """The merged ranges back as CIDR strings (for writing refreshed data files)."""
        out: list[str] = []
        for starts, ends, cls_ in (
            (self.v4_starts, self.v4_ends, ipaddress.IPv4Address),
            (self.v6_starts, self.v6_ends, ipaddress.IPv6Address),
        ):
            for s, e in zip(starts, ends, strict=True):
                out.extend(str(n) for n in ipaddress.summarize_address_range(cls_(s), cls_(e)))
        return out


def _merge(pairs: list[tuple[int, int]]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    pairs.sort()
    starts: list[int] = []
    ends: list[int] = []
    for s, e in pairs:
        if ends and s <= ends[-1] + 1:
            if e > ends[-1]:
                ends[-1] = e
        else:
            starts.append(s)
            ends.append(e)
    return tuple(starts), tuple(ends)


def parse_ip(ip: str) -> tuple[int, int] | None:
    """`(version, integer)` for an address string, or None when it is not one. IPv4-mapped IPv6
    addresses (`::ffff:192.0.2.1`) count as IPv4; a zone id (`%eth0`) is ignored."""
    text = ip.strip()
    if not text:
        return None
    try:
        addr = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return 4, int(addr.ipv4_mapped)
    return addr.version, int(addr)


def is_public(ip: str) -> bool:
    """True for a globally routable address (not private, loopback, link-local, documentation ...)."""
    try:
        return ipaddress.ip_address(ip.strip()).is_global
    except ValueError:
        return False


__all__ = ["RangeSet", "is_public", "parse_ip"]
