"""Which addresses a webhook may be delivered to: the SSRF policy (pure).

A receiver named by a URL could point mailbeacon at itself, at the machine's metadata service or
at anything on its private networks. Unless the operator allows private targets
(`webhook_allow_private`), only public unicast addresses are dialled: loopback, private (RFC
1918, IPv6 unique local), link-local, shared address space (CGNAT, 100.64.0.0/10), multicast,
unspecified, reserved and documentation ranges are refused, also written as IPv4-mapped or
NAT64 IPv6 addresses. The check is made on the addresses the name resolves to at delivery time
(sender.py), and the connection goes to the address checked, so a DNS rebind cannot slip past.
"""

from __future__ import annotations

import ipaddress
from ipaddress import IPv4Address, IPv6Address
from urllib.parse import urlsplit

from ..errors import InvalidInput

IP = IPv4Address | IPv6Address

_SHARED = ipaddress.ip_network("100.64.0.0/10")  # RFC 6598, carrier-grade NAT
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052, the well-known prefix


def embedded_v4(ip: IP) -> IP:
    """The IPv4 address an IPv6 one stands for (IPv4-mapped, NAT64), else the address itself."""
    if isinstance(ip, IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip in _NAT64:
            return IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def refusal(address: str | IP, *, allow_private: bool = False) -> str | None:
    """Why `address` is not a target, in words ("loopback", ...), or None when it may be dialled."""
    try:
        ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    except ValueError:
        return "not an IP address"
    ip = embedded_v4(ip)
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_multicast:
        return "multicast"
    if allow_private:
        return None
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if isinstance(ip, IPv4Address) and ip in _SHARED:
        return "shared address space (CGNAT)"
    if ip.is_private:
        return "private"
    if not ip.is_global:
        return "reserved"
    return None


#: the longest receiver URL accepted
MAX_URL = 2000


def check_url(url: str) -> str:
    """A receiver URL as stored, or `InvalidInput` saying what is wrong with it (its address is
    checked later, at every delivery, after DNS resolution)."""
    text = url.strip()
    if not text or len(text) > MAX_URL or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise InvalidInput(f"a webhook URL is an http(s) URL of at most {MAX_URL} characters, without spaces")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise InvalidInput(f"'{text[:100]}' is not a valid URL (check the host and the port)") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"'{text[:100]}' is not an http:// or https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput("a webhook URL cannot hold a user name or password: every delivery is signed instead")
    if port == 0:
        raise InvalidInput(f"'{text[:100]}' has port 0")
    return text
