"""The labelled-scenario format of `mailbeacon eval` (one JSON object per line), parsed into hits.

`{"scenario", "message": {"sent_at", "sender", "workspace_domains", "workspace_members",
"sender_addresses", "sender_devices", "sender_networks", "links", "decoy_link"}, "recipient", "events": [...],
"expect_counts": {...}, "peers": [...]}` — see docs/classification.md ("Labelled traffic"). Every error names the
input line (and the event). Pure.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from .addresses import relation_of
from .errors import InvalidInput
from .model import ClassifyContext, Hit, HitKind, MessageInfo, ReplyKind, VerdictClass

HIT_KINDS = {k.value: k for k in HitKind}
REPLY_KINDS = {k.value: k for k in ReplyKind}
CLASSES = tuple(c.value for c in VerdictClass)
COUNT_KEYS = (
    "opens",
    "opens_human",
    "opens_inferred",
    "opens_machine",
    "opens_self",
    "clicks",
    "clicks_self",
    "clicks_scanner",
    "replies",
)


@dataclass(frozen=True, slots=True)
class Event:
    index: int
    at: datetime
    kind: str
    hit: Hit | None
    expect: VerdictClass | None
    reply_kind: ReplyKind | None = None


@dataclass(frozen=True, slots=True)
class Scenario:
    line: int
    name: str
    message: MessageInfo
    recipient: str
    context: ClassifyContext
    events: tuple[Event, ...]
    expect_counts: Mapping[str, int] | None
    #: hits of other recipients of the same message (context only: never scored or counted)
    peers: tuple[Hit, ...] = ()


# -- parsing ---------------------------------------------------------------------------------------


class _Line:
    """Error helper: every message names the input line (and the event, when there is one)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def error(self, text: str, event: int | None = None) -> InvalidInput:
        where = f"line {self.n}" + (f", event {event}" if event is not None else "")
        return InvalidInput(f"{where}: {text}")

    def time(self, value: object, what: str, event: int | None = None) -> datetime:
        if not isinstance(value, str):
            raise self.error(f"{what} must be an ISO 8601 time such as 2026-03-02T09:00:00Z", event)
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise self.error(f"{what} '{value}' is not an ISO 8601 time such as 2026-03-02T09:00:00Z", event) from None
        return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)

    def strings(self, value: object, what: str) -> frozenset[str]:
        if value is None:
            return frozenset()
        if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
            raise self.error(f"{what} must be a list of strings")
        return frozenset(value)

    def integer(self, value: object, what: str, event: int | None = None) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise self.error(f"{what} must be a whole number >= 0", event)
        return value


def _event(ln: _Line, i: int, raw: object, line: int) -> tuple[Event, dict[str, Any]]:
    if not isinstance(raw, dict):
        raise ln.error("an event must be a JSON object", i)
    kind = raw.get("kind")
    at = ln.time(raw.get("at"), "'at'", i)
    expect_raw = raw.get("expect")
    expect = None
    if expect_raw is not None:
        if expect_raw not in CLASSES:
            raise ln.error(f"'expect' must be one of {', '.join(CLASSES)} (got {expect_raw!r})", i)
        expect = VerdictClass(expect_raw)
    if kind in REPLY_KINDS or kind == "reply":
        rk = raw.get("reply_kind", kind)
        if rk not in REPLY_KINDS:
            raise ln.error(f"'reply_kind' must be one of {', '.join(REPLY_KINDS)}", i)
        return Event(i, at, str(kind), None, None, REPLY_KINDS[rk]), raw
    if kind not in HIT_KINDS:
        kinds = ", ".join([*HIT_KINDS, *REPLY_KINDS])
        raise ln.error(f"'kind' must be one of {kinds} (got {kind!r})", i)
    hkind = HIT_KINDS[kind]
    if hkind is HitKind.SELF_VIEW and expect is not None:
        raise ln.error("a self_view beacon is not classified: remove its 'expect'", i)
    link = raw.get("link")
    if hkind is HitKind.CLICK and link is None:
        raise ln.error("a click needs 'link' (the index of the clicked link)", i)
    if link is not None:
        link = ln.integer(link, "'link'", i)
    headers = raw.get("headers") or {}
    if not isinstance(headers, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        raise ln.error("'headers' must be an object of string values", i)
    for key in ("method", "ip", "user_agent", "device"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise ln.error(f"'{key}' must be a string", i)
    hit = Hit(
        uid=f"{line}:{i}",
        kind=hkind,
        workspace_id=1,
        message_id=line,
        recipient_id=line,
        at=at,
        link=link,
        method=str(raw.get("method") or "GET").upper(),
        ip=str(raw.get("ip") or ""),
        user_agent=str(raw.get("user_agent") or ""),
        headers={k.lower(): v for k, v in headers.items()},
        device_id=raw.get("device"),
    )
    return Event(i, at, str(kind), hit, expect), raw


def parse_scenario(text: str, line: int) -> Scenario:
    """One JSONL line as a scenario; raises InvalidInput naming the line for anything malformed."""
    ln = _Line(line)
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as e:
        raise ln.error(f"not valid JSON ({e.msg} at column {e.colno})") from None
    if not isinstance(raw, dict):
        raise ln.error("a scenario must be a JSON object")
    name = raw.get("scenario")
    if not isinstance(name, str) or not name:
        raise ln.error("'scenario' (a name) is required")
    msg = raw.get("message")
    if not isinstance(msg, dict):
        raise ln.error("'message' (an object with sent_at and sender) is required")
    sender = msg.get("sender")
    if not isinstance(sender, str) or "@" not in sender:
        raise ln.error("'message.sender' must be an email address")
    recipient = raw.get("recipient")
    if not isinstance(recipient, str) or "@" not in recipient:
        raise ln.error("'recipient' must be an email address")
    events_raw = raw.get("events")
    if not isinstance(events_raw, list):
        raise ln.error("'events' must be a list")
    events = tuple(_event(ln, i, e, line)[0] for i, e in enumerate(events_raw))
    links_seen = [e.hit.link for e in events if e.hit is not None and e.hit.link is not None]
    links = msg.get("links")
    links = ln.integer(links, "'message.links'") if links is not None else (max(links_seen, default=-1) + 1)
    decoy = msg.get("decoy_link")
    sender_addresses = ln.strings(msg.get("sender_addresses"), "'message.sender_addresses'") | {sender}
    members = ln.strings(msg.get("workspace_members"), "'message.workspace_members'")
    domains = ln.strings(msg.get("workspace_domains"), "'message.workspace_domains'")
    message = MessageInfo(
        id=line,
        workspace_id=1,
        sender=sender.lower(),
        sent_at=ln.time(msg.get("sent_at"), "'message.sent_at'"),
        links=links,
        decoy_link=ln.integer(decoy, "'message.decoy_link'") if decoy is not None else None,
        sender_devices=ln.strings(msg.get("sender_devices"), "'message.sender_devices'"),
        sender_networks=ln.strings(msg.get("sender_networks"), "'message.sender_networks'"),
        sender_addresses=frozenset(a.lower() for a in sender_addresses),
        workspace_domains=domains,
        workspace_members=members,
    )
    relation = relation_of(recipient, sender_addresses=sender_addresses, members=members, domains=domains)
    windows: dict[str, float] = {}
    for key in ("self_view_window", "settle_window"):
        if key in raw:
            value = raw[key]
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ln.error(f"'{key}' must be a number of seconds")
            windows[key] = float(value)
    context = ClassifyContext(
        message=message,
        recipient=recipient.lower(),
        relation=relation,
        self_view_window=windows.get("self_view_window", 10.0),
        settle_window=windows.get("settle_window", 120.0),
    )
    peers_raw = raw.get("peers") or []
    if not isinstance(peers_raw, list):
        raise ln.error("'peers' must be a list of other recipients' hits")
    peer_ids: dict[str, int] = {}
    peers: list[Hit] = []
    for i, p in enumerate(peers_raw):
        if not isinstance(p, dict) or not isinstance(p.get("recipient"), str) or "@" not in p["recipient"]:
            raise ln.error(f"peer {i}: a peer hit needs 'recipient' (another recipient's address)")
        if p.get("expect") is not None:
            raise ln.error(f"peer {i}: peers are context only: remove 'expect'")
        who = p["recipient"].lower()
        if who == recipient.lower():
            raise ln.error(f"peer {i}: 'recipient' must be another recipient than the scenario's")
        peer = _event(ln, i, {k: v for k, v in p.items() if k != "recipient"}, line)[0].hit
        if peer is None or peer.kind is HitKind.SELF_VIEW:
            raise ln.error(f"peer {i}: a peer is an open, click or decoy hit")
        rid = peer_ids.setdefault(who, line * 1000 + len(peer_ids) + 1)
        peers.append(replace(peer, uid=f"{line}:p{i}", recipient_id=rid))
    expect_counts = raw.get("expect_counts")
    if expect_counts is not None:
        if not isinstance(expect_counts, dict):
            raise ln.error('\'expect_counts\' must be an object such as {"opens": 1, "clicks": 0}')
        for k, v in expect_counts.items():
            if k not in COUNT_KEYS:
                raise ln.error(f"'expect_counts' key {k!r} is not one of {', '.join(COUNT_KEYS)}")
            ln.integer(v, f"'expect_counts.{k}'")
    return Scenario(line, name, message, recipient.lower(), context, events, expect_counts, tuple(peers))


def parse(lines: Iterable[str]) -> list[Scenario]:
    """Scenarios from JSONL text lines; blank lines and lines starting with `//` are skipped."""
    out = []
    for n, text in enumerate(lines, 1):
        if not text.strip() or text.lstrip().startswith("//"):
            continue
        out.append(parse_scenario(text, n))
    if not out:
        raise InvalidInput("the file holds no scenarios (expected one JSON object per line)")
    return out
