"""`eval` (score the classifier on labelled traffic) and `signatures update` (refresh its data files)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..classify import rules_version
from ..classify.catalog import load
from ..classify.refresh import update
from ..errors import InvalidInput
from ..evaluate import evaluate, mismatches, to_json
from .base import app, console, print_json

signatures_app = typer.Typer(help="The classifier's signature data files.", no_args_is_help=True)
app.add_typer(signatures_app, name="signatures")


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


@app.command("eval")
def eval_(
    file: Annotated[Path, typer.Argument(help="Labelled scenarios, one JSON object per line.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the full report as JSON.")] = False,
    show: Annotated[int, typer.Option(help="How many misclassified events to list.")] = 20,
) -> None:
    """Score the classifier on a labelled JSONL file: precision/recall per class, confusion, counts."""
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as e:
        raise InvalidInput(f"cannot read {file}: {e.strerror}") from None
    report = evaluate(text.splitlines())
    if as_json:
        print_json(to_json(report))
        return
    scenarios = len(report.results)
    console.print(
        f"[bold]{scenarios} scenarios, {report.scored_events} labelled events[/bold]  "
        f"accuracy {_pct(report.accuracy)}  counts match {_pct(report.counts_match)}"
    )
    console.print(f"rules {rules_version()}", style="dim")
    table = Table("class", "precision", "recall", "labelled", "predicted")
    for cls, s in report.classes.items():
        if s.count or s.predicted:
            table.add_row(cls, _pct(s.precision), _pct(s.recall), str(s.count), str(s.predicted))
    console.print(table)
    classes = [c for c, s in report.classes.items() if s.count or s.predicted]
    confusion = Table("expected \\ got", *classes)
    for c in classes:
        confusion.add_row(c, *(str(report.confusion[c][g]) for g in classes))
    console.print(confusion)
    wrong = mismatches(report)
    if wrong:
        listing = Table("scenario", "event", "expected", "got", "why", title=f"{len(wrong)} misclassified events")
        for name, idx, exp, got, why in wrong[:show]:
            listing.add_row(name, str(idx), exp, got, why)
        console.print(listing)
    bad = [r for r in report.results if r.counts_match is False]
    if bad:
        counts = Table("scenario", "expected counts", "got", title=f"{len(bad)} scenarios with other counts")
        for r in bad[:show]:
            expected = r.scenario.expect_counts or {}
            counts.add_row(
                r.scenario.name,
                ", ".join(f"{k}={v}" for k, v in expected.items()),
                ", ".join(f"{k}={r.counts[k]}" for k in expected),
            )
        console.print(counts)


@signatures_app.command("update")
def signatures_update(
    source: Annotated[
        Path, typer.Option("--from", help="Directory with downloaded upstream files (see docs/classification.md).")
    ],
    target: Annotated[
        Path | None, typer.Option("--to", help="Signature directory to write (default: the installed package's).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Accept a range list that shrinks to less than half.")] = False,
) -> None:
    """Refresh the signature files (IP ranges, crawler lists) from downloaded upstream files."""
    changes = update(source, target, today=datetime.now(UTC).date(), force=force)
    table = Table("file", "from", "before", "after")
    for c in changes:
        table.add_row(c.file, c.source, str(c.before), str(c.after))
    console.print(table)
    console.print(
        f"Verdicts now use {rules_version(load(target) if target else None)}. A running `mailbeacon serve` "
        "picks the new files up within seconds (no restart); `mailbeacon reclassify` re-runs the rules over "
        "stored hits. Update every node with the same files."
    )
