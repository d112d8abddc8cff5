"""Hit classification: `classify(hit, context) -> Verdict`. Pure: no I/O, no clock.

Placeholder rule set from the foundation issue: every valid open or click is `human`,
anything else `unknown`. The attribution issue replaces it with the full rule tables.
"""

from __future__ import annotations

from ..model import ClassifyContext, Hit, HitKind, Reason, Verdict, VerdictClass

RULES_VERSION = "0-minimal"


def classify(hit: Hit, context: ClassifyContext) -> Verdict:
    if hit.kind in (HitKind.OPEN, HitKind.CLICK):
        return Verdict(
            VerdictClass.HUMAN,
            (Reason("valid_token", "a valid tracking request"),),
            subtype="direct",
            rules_version=RULES_VERSION,
        )
    return Verdict(VerdictClass.UNKNOWN, (Reason("no_rule", "no rule applies"),), rules_version=RULES_VERSION)


__all__ = ["RULES_VERSION", "classify"]
