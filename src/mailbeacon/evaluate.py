"""Scoring the classifier on labelled traffic (`mailbeacon eval FILE.jsonl`). Pure: lines in, report out.

Input: one scenario per line (JSON), see docs/classification.md ("Labelled traffic"):
`{"scenario", "message": {"sent_at", "sender", "workspace_domains", "workspace_members",
"sender_addresses", "sender_devices", "sender_networks", "links", "decoy_link"}, "recipient", "events": [...],
"expect_counts": {...}}`. Events are `open`, `click` (with `link`), `decoy`, `self_view` (a
beacon, no `expect`) and optionally `reply` / `auto_reply` / `bounce`. Each hit is classified with
full knowledge of the scenario (settled semantics: `classify` itself ignores hits after
`hit.at + settle_window`), counts come from `stats.compute`, and the report holds per class
precision / recall / count, a confusion matrix, the share of scenarios whose counts match, and
one entry per scenario and per event in input order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from . import stats
from .classify import classify, rules_version
from .model import ClassifyContext, Hit, HitKind, ReplyKind, Verdict, VerdictClass
from .scenarios import CLASSES, COUNT_KEYS, Scenario, parse, parse_scenario

Classifier = Callable[[Hit, ClassifyContext], Verdict]


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    scenario: Scenario
    verdicts: tuple[Verdict | None, ...]
    counts: Mapping[str, int]

    @property
    def counts_match(self) -> bool | None:
        exp = self.scenario.expect_counts
        if exp is None:
            return None
        return all(self.counts.get(k) == v for k, v in exp.items())


@dataclass(frozen=True, slots=True)
class ClassScore:
    precision: float | None
    recall: float | None
    count: int
    predicted: int


@dataclass(frozen=True, slots=True)
class Report:
    results: tuple[ScenarioResult, ...]
    classes: Mapping[str, ClassScore]
    confusion: Mapping[str, Mapping[str, int]]
    counts_match: float | None
    scored_events: int
    correct: int
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.scored_events if self.scored_events else None


# -- running ---------------------------------------------------------------------------------------


def counts_of(c: stats.Counts) -> dict[str, int]:
    return {k: int(getattr(c, k)) for k in COUNT_KEYS}


def run_scenario(sc: Scenario, classifier: Classifier = classify) -> ScenarioResult:
    hits = sorted((e.hit for e in sc.events if e.hit is not None), key=lambda h: (h.at, h.uid))
    verdicts: list[Verdict | None] = []
    counted: list[tuple[HitKind, int | None, datetime, VerdictClass]] = []
    replies: list[tuple[ReplyKind, datetime]] = []
    for e in sc.events:
        if e.reply_kind is not None:
            replies.append((e.reply_kind, e.at))
        if e.hit is None or e.hit.kind is HitKind.SELF_VIEW:
            verdicts.append(None)
            continue
        me = e.hit
        ctx = replace(
            sc.context,
            other_hits=tuple(h for h in hits if h.uid != me.uid),
            peer_hits=tuple(p for p in sc.peers if p.ip == me.ip),
        )
        v = classifier(me, ctx)
        verdicts.append(v)
        counted.append((me.kind, me.link, me.at, v.cls))
    return ScenarioResult(sc, tuple(verdicts), counts_of(stats.compute(counted, replies)))


def score(results: Iterable[ScenarioResult]) -> Report:
    results = tuple(results)
    confusion: dict[str, dict[str, int]] = {c: dict.fromkeys(CLASSES, 0) for c in CLASSES}
    for r in results:
        for e, v in zip(r.scenario.events, r.verdicts, strict=True):
            if e.expect is not None and v is not None:
                confusion[e.expect.value][v.cls.value] += 1
    classes = {}
    for c in CLASSES:
        tp = confusion[c][c]
        actual = sum(confusion[c].values())
        predicted = sum(confusion[x][c] for x in CLASSES)
        classes[c] = ClassScore(
            precision=tp / predicted if predicted else None,
            recall=tp / actual if actual else None,
            count=actual,
            predicted=predicted,
        )
    matches = [r.counts_match for r in results if r.counts_match is not None]
    scored = sum(sum(row.values()) for row in confusion.values())
    return Report(
        results=results,
        classes=classes,
        confusion=confusion,
        counts_match=(sum(matches) / len(matches)) if matches else None,
        scored_events=scored,
        correct=sum(confusion[c][c] for c in CLASSES),
    )


def evaluate(lines: Iterable[str], classifier: Classifier = classify) -> Report:
    return score(run_scenario(sc, classifier) for sc in parse(lines))


# -- output ----------------------------------------------------------------------------------------


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def to_json(report: Report) -> dict[str, Any]:
    """The machine-readable report (`mailbeacon eval --json`)."""
    scenarios = []
    for r in report.results:
        events = []
        for e, v in zip(r.scenario.events, r.verdicts, strict=True):
            entry: dict[str, Any] = {
                "at": e.at.isoformat().replace("+00:00", "Z"),
                "kind": e.kind,
                "verdict": v.cls.value if v else None,
                "subtype": v.subtype if v else None,
                "reasons": list(v.codes) if v else [],
                "sentence": v.sentence if v else None,
                "expect": e.expect.value if e.expect else None,
            }
            events.append(entry)
        scenarios.append(
            {
                "scenario": r.scenario.name,
                "line": r.scenario.line,
                "counts": dict(r.counts),
                "expect_counts": dict(r.scenario.expect_counts) if r.scenario.expect_counts is not None else None,
                "counts_match": r.counts_match,
                "events": events,
            }
        )
    return {
        "rules_version": rules_version(),
        "events_scored": report.scored_events,
        "accuracy": _round(report.accuracy),
        "classes": {
            c: {
                "precision": _round(s.precision),
                "recall": _round(s.recall),
                "count": s.count,
                "predicted": s.predicted,
            }
            for c, s in report.classes.items()
        },
        "confusion": {c: dict(row) for c, row in report.confusion.items()},
        "counts_match": _round(report.counts_match),
        "scenarios": scenarios,
    }


def mismatches(report: Report) -> list[tuple[str, int, str, str, str]]:
    """(scenario, event index, expected, got, sentence) for every wrongly classified event."""
    out = []
    for r in report.results:
        for e, v in zip(r.scenario.events, r.verdicts, strict=True):
            if e.expect is not None and v is not None and v.cls is not e.expect:
                out.append((r.scenario.name, e.index, e.expect.value, v.cls.value, v.sentence))
    return out


__all__ = [
    "COUNT_KEYS",
    "Report",
    "Scenario",
    "ScenarioResult",
    "evaluate",
    "mismatches",
    "parse",
    "parse_scenario",
    "run_scenario",
    "score",
    "to_json",
]
