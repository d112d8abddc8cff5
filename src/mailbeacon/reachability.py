"""Whether recipients can reach the tracking links: a public URL on loopback, a private network or
plain http means pixels and links that nobody outside can load (or that leak over the network);
and which address that is for a workspace (its own tracking domain, else the server's). Pure."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from urllib.parse import urlsplit

DEPLOY_DOC = "docs/deploy.md"
_LOCAL_NAMES = ("localhost", "localhost.localdomain")
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa", ".test", ".example", ".invalid")
#: problem code -> what it means, as a clause
PROBLEMS: dict[str, str] = {
    "loopback": "it is this machine (loopback), which no recipient can reach",
    "private": "it is a private network address, which recipients outside that network cannot reach",
    "local_name": "it is a local name, which recipients outside this network cannot resolve",
    "plain_http": (
        "it is plain http, which mail clients block or flag and over which paired browsers cannot send their cookie"
    ),
}


def public_url_issues(url: str) -> list[str]:
    """The codes (keys of `PROBLEMS`) of what is wrong with `url` for recipients ([] when nothing)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    codes: list[str] = []
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if (ip is not None and ip.is_loopback) or host in _LOCAL_NAMES:
        codes.append("loopback")
    elif ip is not None and (ip.is_private or ip.is_link_local or ip.is_unspecified):
        codes.append("private")
    elif ip is None and (host.endswith(_LOCAL_SUFFIXES) or "." not in host):
        codes.append("local_name")
    if parts.scheme == "http":
        codes.append("plain_http")
    return codes


def public_url_problems(url: str) -> list[str]:
    """What is wrong with `url` as the base of tracking links seen by recipients ([] when nothing)."""
    return [PROBLEMS[code] for code in public_url_issues(url)]


def public_url_warning(url: str) -> str | None:
    """One sentence for the operator, or None when the public URL looks reachable and secure."""
    problems = public_url_problems(url)
    if not problems:
        return None
    return (
        f"Tracking links use {url}: {'; '.join(problems)}. Set public_url to an https "
        f"address recipients can reach (see {DEPLOY_DOC})."
    )


def tracking_base(public_url: str, workspace_settings: Mapping[str, object]) -> str:
    """Where a workspace's links and pixels point: its own tracking URL (`tracking_url`, a host of
    the sender's domain served by this mailbeacon), else the server's `public_url`."""
    own = workspace_settings.get("tracking_url")
    return (own if isinstance(own, str) and own else public_url).rstrip("/")
