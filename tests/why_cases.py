"""The cases of the "why" answer tests: every row of PRODUCT.md's scenario table, the problem case
of every checklist item, and each fact that explains silence. Each case is a labelled scenario
(real hits) plus the stored facts that differ; `pure_facts` and `replay` build it both ways."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from mailbeacon.diagnose import Answer, Facts, Injection, MailboxFact
from mailbeacon.evaluate import Scenario
from mailbeacon.model import Relation, ReplyKind, TrackingChoice
from why_seeding import MAILBOX_URL, Inbound, end_of, pure_facts, scenario


@dataclass(frozen=True)
class Case:
    scenario: str
    until: int | None = None
    healthy: bool = True
    replies: Inbound = ()
    #: fields of the facts record that differ from the scenario's defaults
    facts: dict[str, Any] = field(default_factory=dict)
    #: how many of the last hits are not settled yet (the pure facts only)
    pending: int = 0

    @property
    def sc(self) -> Scenario:
        return scenario(self.scenario, self.until)

    def pure(self) -> tuple[Facts, datetime]:
        sc = self.sc
        facts = pure_facts(sc, healthy=self.healthy, replies=self.replies, **self.facts)
        if self.pending:
            cut = len(facts.hits) - self.pending
            hits = facts.hits[:cut] + tuple(dataclasses.replace(h, settled=False) for h in facts.hits[cut:])
            last = facts.hits[-1].at
            return dataclasses.replace(facts, hits=hits), last + timedelta(seconds=30)
        return facts, end_of(sc)


NO_TRACKING = TrackingChoice(False, False, False, ("opens-off-email", "clicks-off-email", "replies-off-email"))
UNTOUCHED = Injection(html=True, instrumented=False, pixel=False, decoy=False, links=0)

SCENARIO_ROWS: dict[str, Case] = {
    "own address, paired browser": Case("own-address-paired-cookie-01"),
    "own address, another browser or phone": Case("own-address-phone-05"),
    "colleague": Case("colleague-06", replies=((ReplyKind.COLLEAGUE, 3 * 3600),)),
    "own Sent folder, same browser": Case("sent-folder-cookie-11"),
    "external recipient": Case("external-reader-14", replies=((ReplyKind.REPLY, 26 * 3600),)),
    "security gateway, then the person": Case("safe-links-then-person-38"),
    "Apple Mail Privacy Protection": Case("apple-mpp-60"),
    "Gmail image proxy, repeat opens": Case("gmail-repeat-opens-66"),
    "images blocked, a click": Case("images-blocked-click-78"),
    "forwarded, a chat unfurls a link": Case("forward-slack-unfurl-84"),
}

PROBLEMS: dict[str, Case] = {
    "1 open tracking off in the user's preferences": Case(
        "external-reader-14",
        until=0,
        facts={
            "switches": TrackingChoice(False, True, True, ("opens-off-user",)),
            "injection": Injection(html=True, instrumented=True, pixel=False, decoy=True, links=4),
        },
    ),
    "2 tracking off for this email": Case(
        "external-reader-14",
        until=0,
        facts={"switches": NO_TRACKING, "injection": dataclasses.replace(UNTOUCHED, notes=("tracking-off",))},
    ),
    "3 no HTML part": Case(
        "external-reader-14",
        until=0,
        facts={"injection": Injection(html=False, instrumented=False, pixel=False, decoy=False, links=0)},
    ),
    "3 signed, sent untouched": Case(
        "external-reader-14",
        until=0,
        facts={
            "injection": dataclasses.replace(
                UNTOUCHED, failure="signed: the message carries a dkim-signature header that rewriting would break"
            )
        },
    ),
    "3 binary junk, sent untouched": Case(
        "external-reader-14",
        until=0,
        facts={
            "injection": dataclasses.replace(
                UNTOUCHED, html=False, failure="binary: the message contains NUL bytes, so it is binary data"
            )
        },
    ),
    "4 colleague not recognised: no workspace domain": Case(
        "external-reader-14",
        until=0,
        facts={"recipient": "bob@acme.test", "relation": Relation.EXTERNAL, "workspace_domains": ()},
    ),
    "5 the pixel never loaded": Case("external-reader-14", until=0),
    "6 browser not paired, opens counted": Case("external-reader-14", facts={"devices": ()}),
    "7 only machines so far": Case("safe-links-then-person-38", until=13),
    "9 bounced after a gateway scanned it": Case("bounced-but-scanned-125"),
    "9 refused by the outgoing server": Case(
        "external-reader-14", until=0, facts={"relay": "550 5.1.1 <client0@buyer0.example>: Recipient address rejected"}
    ),
    "10 mailbox failing": Case(
        "external-reader-14",
        until=0,
        facts={"mailboxes": (MailboxFact(1, MAILBOX_URL, "error", None, "LOGIN failed: authentication failed"),)},
    ),
    "10 no mailbox, extension never seen": Case("external-reader-14", until=0, healthy=False),
}

SILENCE: dict[str, Case] = {
    "tracking address with a local name": Case(
        "external-reader-14", until=0, facts={"public_url": "https://mailbeacon.lan"}
    ),
    "tracking address on loopback": Case("external-reader-14", until=0, facts={"public_url": "http://127.0.0.1:8025"}),
    "tracking address over plain http": Case("external-reader-14", until=0, facts={"public_url": "http://t.acme.com"}),
    "over Gmail's clipping size": Case("external-reader-14", until=0, facts={"html_bytes": 131_000}),
    "a bounce for no one recipient": Case("external-reader-14", until=0, facts={"unattributed_bounces": 1}),
    "an out-of-office came back": Case("external-reader-14", until=0, replies=((ReplyKind.AUTO_REPLY, 600),)),
    "hits still being checked": Case("external-reader-14", until=3, pending=2),
    "no From: line": Case(
        "external-reader-14",
        until=0,
        facts={"injection": Injection(True, True, True, True, 4, notes=("no-from-header",))},
    ),
}


def render(answer: Answer) -> str:
    """The whole answer as text: summary, then every line with its status, item, code and words."""
    out = [answer.summary]
    for line in answer.lines:
        out.append(f"{line.status.value} {line.item or '-'} {line.code}: {line.text}")
        if line.todo:
            out.append(f"    -> {line.todo}")
    return "\n".join(out)
