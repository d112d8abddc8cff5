"""Classifier throughput: hits classified per second on one core, with realistic contexts.

    python bench/classify.py [--rounds 5] [--repeat 10] [--cpu 0]

Input: every hit of the labelled corpus (tests/corpus/labelled-hits.jsonl: ~140 recipients,
2,000+ hits, each classified with all of its recipient's other hits as context, as `eval`
and a settled pipeline do), repeated `--repeat` times per round. Three measurements per round,
in the same process, pinned to one CPU:

- `cold`: the first pass after clearing the memo caches (user agents and addresses not seen yet);
- `warm`: later passes (user agents and addresses repeat, as they do in real traffic);
- `baseline`: reading the same hits from their JSON lines (`scenarios.parse`), a pure-Python
  workload of the same machine in the same run; `warm/baseline` stays comparable across noisy runs.

Target: >= 20,000 hits/s warm on one core. Machines here are shared and noisy: read the median.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from mailbeacon.classify import classify
from mailbeacon.classify.agents import _describe
from mailbeacon.classify.catalog import default
from mailbeacon.classify.evidence import networks_of
from mailbeacon.model import ClassifyContext, Hit, HitKind
from mailbeacon.scenarios import parse

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "corpus" / "labelled-hits.jsonl"


def inputs() -> list[tuple[Hit, ClassifyContext]]:
    from dataclasses import replace

    out = []
    for sc in parse(CORPUS.read_text(encoding="utf-8").splitlines()):
        hits = sorted((e.hit for e in sc.events if e.hit is not None), key=lambda h: (h.at, h.uid))
        for h in hits:
            if h.kind is HitKind.SELF_VIEW:
                continue
            out.append((h, replace(sc.context, other_hits=tuple(o for o in hits if o.uid != h.uid))))
    return out


def parse_rate(lines: list[str], hits: int) -> float:
    start = time.perf_counter()
    parse(lines)
    return hits / (time.perf_counter() - start)


def run(pairs: list[tuple[Hit, ClassifyContext]], fn: object, repeat: int) -> float:
    f = fn  # local for speed
    start = time.perf_counter()
    for _ in range(repeat):
        for hit, ctx in pairs:
            f(hit, ctx)  # type: ignore[operator]
    return len(pairs) * repeat / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--cpu", type=int, default=0)
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    t = time.perf_counter()
    default()
    print(f"signatures loaded in {time.perf_counter() - t:.2f} s (once per process)")
    lines = CORPUS.read_text(encoding="utf-8").splitlines()
    pairs = inputs()
    contexts = sum(len(c.other_hits) for _, c in pairs) / len(pairs)
    agents = len({h.user_agent for h, _ in pairs})
    print(f"{len(pairs)} hits, {contexts:.1f} other hits per context on average, {agents} distinct user agents")
    warm_all, cold_all, base_all = [], [], []
    for r in range(1, args.rounds + 1):
        _describe.cache_clear()
        networks_of.cache_clear()
        cold = run(pairs, classify, 1)
        warm = run(pairs, classify, args.repeat)
        base = parse_rate(lines, len(pairs))
        cold_all.append(cold)
        warm_all.append(warm)
        base_all.append(base)
        print(
            f"round {r}: cold {cold:>9,.0f} hits/s   warm {warm:>9,.0f} hits/s   baseline {base:>11,.0f} hits/s   "
            f"warm/baseline {warm / base:.3f}"
        )
    med = statistics.median(warm_all)
    print(
        f"median: cold {statistics.median(cold_all):,.0f} hits/s, warm {med:,.0f} hits/s "
        f"(target >= 20,000: {'met' if med >= 20_000 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
