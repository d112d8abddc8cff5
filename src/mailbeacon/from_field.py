"""The From: field of submitted mail, read strictly: the SMTP proxy's sender check. Pure.

The proxy relays mail as the signed-in user, so the address recipients see must be theirs. This
reads the header block the way a receiving MTA would and fails closed: the message must have
exactly one From: field (`From :` with blanks before the colon counts, RFC 5322 obsolete syntax),
holding exactly one address that parses without any defect (no encoded word in the address, no
unterminated quote, no second address, no group, no `<>`). An mbox `From ` line in front of the
header fields is refused too: it is not part of a submitted message and hides what follows.
"""

from __future__ import annotations

import re
from email.policy import default

from .addresses import try_normalise
from .errors import InvalidInput

_LINE = re.compile(rb"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
#: a header field's first line: a name of printable ASCII but ':', blanks allowed before the colon
_FIELD = re.compile(rb"([\x21-\x39\x3b-\x7e]+)[ \t]*:")
_FROM = re.compile(rb"From[ \t]*:", re.IGNORECASE)


def from_values(raw: bytes) -> list[bytes]:
    """The unfolded values of every From: field in the header block of `raw`."""
    values: list[list[bytes]] = []
    current: list[bytes] | None = None  # the From value being unfolded, if the last field is one
    first = True
    for m in _LINE.finditer(raw):
        line = m.group()
        if line.strip(b"\r\n") == b"":
            break  # the end of the header block
        if line[:1] in (b" ", b"\t"):
            if current is not None:
                current.append(line.rstrip(b"\r\n"))
            first = False
            continue
        if first and line.startswith(b"From ") and not _FROM.match(line):
            raise InvalidInput("the message starts with an mbox 'From ' line; submit the message itself")
        first = False
        field = _FIELD.match(line)
        if field is None:
            break  # not a header line: the body starts here
        if field.group(1).lower() == b"from":
            current = [line[field.end() :].rstrip(b"\r\n")]
            values.append(current)
        else:
            current = None
    return [b"".join(parts) for parts in values]


def single_from_address(raw: bytes) -> str:
    """The one From: address of a submitted message, normalised; `InvalidInput` says why not."""
    values = from_values(raw)
    if not values:
        raise InvalidInput("the message has no From: field")
    if len(values) > 1:
        raise InvalidInput(f"the message has {len(values)} From: fields; send exactly one")
    try:
        text = values[0].decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("the From: field is not valid UTF-8") from None
    try:
        parsed = default.header_factory("from", text)
        addresses = parsed.addresses
        defects = list(parsed.defects)
        grouped = any(g.display_name is not None for g in parsed.groups)
    except Exception:  # the stdlib parser raises on some malformed input instead of noting a defect
        raise InvalidInput(f"the From: field {text.strip()[:200]!r} cannot be read") from None
    if grouped:
        raise InvalidInput("the From: field holds a group; it must hold exactly one address")
    if len(addresses) != 1:
        raise InvalidInput(f"the From: field must hold exactly one address (found {len(addresses)})")
    if defects:
        raise InvalidInput(f"the From: field {text.strip()[:200]!r} cannot be read unambiguously")
    address = addresses[0]
    normalised = try_normalise(address.addr_spec) if address.username and address.domain else None
    if normalised is None:
        raise InvalidInput(f"the From: address {address.addr_spec[:200]!r} is not a valid address")
    return normalised
