"""The accessibility check of the browser tests: axe-core (vendored) run inside a Playwright page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core-4.11.1.min.js"


def violations(page: Any, *, impacts: tuple[str, ...] = ("serious", "critical")) -> list[str]:
    """The axe-core violations of `page` (a Playwright page) with one of `impacts`, as readable lines.

    The page's context must be created with `bypass_csp=True`: the dashboard's policy (rightly)
    refuses the injected script otherwise."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    found = []
    for v in result["violations"]:
        if v.get("impact") in impacts:
            targets = ", ".join(str(n["target"]) for n in v["nodes"][:3])
            found.append(f"{v['impact']}: {v['id']} ({v['help']}) at {targets}")
    return found
