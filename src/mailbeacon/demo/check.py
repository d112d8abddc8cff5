"""The check: each scenario's counters beside what PRODUCT.md's table says, in 80 columns.

    scenario                                  expected     got          ok
    an external client                        3 / 2 / 1    3 / 2 / 1    ok
      scanner hits, shown apart               11           11           ok

Main rows are opens / clicks / replies (as `stats` counts them: counted opens include the one
inferred from a click or a reply); indented rows are further counters of the same recipient.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..stats import Counts
from .script import Expected

_LABEL = 42
_VALUE = 13


@dataclass(frozen=True)
class Row:
    label: str
    expected: str
    got: str
    sub: bool = False

    @property
    def ok(self) -> bool:
        return self.expected == self.got


def _triple(opens: int, clicks: int, replies: int) -> str:
    return f"{opens} / {clicks} / {replies}"


def rows(expected: Sequence[Expected], counts: Mapping[str, Counts], *, sent: int, relayed: int) -> list[Row]:
    """One row per scenario (and per further counter), then the emails the proxy relayed."""
    out = []
    for e in expected:
        c = counts.get(e.key, Counts())
        out.append(Row(e.label, _triple(e.opens, e.clicks, e.replies), _triple(c.opens, c.clicks, c.replies)))
        for label, name, value in e.also:
            out.append(Row(label, str(value), str(getattr(c, name)), sub=True))
    out.append(Row("emails relayed through the SMTP proxy", str(sent), str(relayed)))
    return out


def table(found: Sequence[Row]) -> list[str]:
    """The lines of the table, none over 80 columns."""
    lines = [
        f"{'scenario':<{_LABEL}}{'expected':<{_VALUE}}{'got':<{_VALUE}}ok",
        f"{'':<{_LABEL}}{'(opens / clicks / replies)'}",
        "-" * (_LABEL + 2 * _VALUE + 4),
    ]
    for r in found:
        label = ("  " + r.label) if r.sub else r.label
        lines.append(f"{label[: _LABEL - 1]:<{_LABEL}}{r.expected:<{_VALUE}}{r.got:<{_VALUE}}{'ok' if r.ok else 'NO'}")
    return lines


def summary(found: Sequence[Row]) -> str:
    bad = [r for r in found if not r.ok]
    if not bad:
        return f"All {len(found)} checks came out as PRODUCT.md's scenario table says."
    return f"{len(bad)} of {len(found)} checks differ from PRODUCT.md's scenario table (marked NO)."
