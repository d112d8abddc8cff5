"""Email address handling: normalisation and workspace relations. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from email.headerregistry import Address
from email.utils import getaddresses, parseaddr

from .errors import InvalidInput
from .model import Relation


def normalise(address: str) -> str:
    """Lower-case, trimmed address; raises InvalidInput for anything that is not `local@domain`."""
    try:
        _, addr = parseaddr(address.strip())
    except RecursionError:  # the stdlib parser recurses once per ':' or '(' (a hostile value)
        raise InvalidInput(f"'{address[:100]}' is not an email address (expected name@domain)") from None
    addr = addr.strip().strip("<>").strip()
    local, sep, domain = addr.rpartition("@")
    if not sep or not local or not domain or "." not in domain.strip(".") or any(c.isspace() for c in addr):
        raise InvalidInput(f"'{address}' is not an email address (expected name@domain)")
    return f"{local}@{domain.lower().rstrip('.')}".lower()


def try_normalise(address: str) -> str | None:
    try:
        return normalise(address)
    except InvalidInput:
        return None


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower()


def in_domains(address: str, domains: Iterable[str]) -> bool:
    """True when the address's domain is one of `domains` or a subdomain of one."""
    d = domain_of(address)
    for dom in domains:
        dom = dom.lower().lstrip("@").rstrip(".")
        if d == dom or d.endswith("." + dom):
            return True
    return False


def relation_of(
    address: str,
    *,
    sender_addresses: Iterable[str],
    members: Iterable[str],
    domains: Iterable[str],
) -> Relation:
    """Who a recipient is, seen from the sender: the sender, a colleague (R6) or external."""
    a = address.lower()
    if a in {x.lower() for x in sender_addresses}:
        return Relation.SENDER
    if a in {x.lower() for x in members} or in_domains(a, domains):
        return Relation.COLLEAGUE
    return Relation.EXTERNAL


def header_addresses(values: Iterable[str]) -> list[str]:
    """Normalised addresses from address header values; unparseable entries are skipped."""
    out: dict[str, None] = {}  # ordered, and membership in constant time
    try:
        pairs = getaddresses([v for v in values if v])
    except RecursionError:  # see normalise
        pairs = []
    for _, addr in pairs:
        n = try_normalise(addr)
        if n:
            out[n] = None
    return list(out)


def display(address: str, name: str = "") -> str:
    local, _, domain = address.rpartition("@")
    return str(Address(display_name=name, username=local, domain=domain))
