"""The shape of the code, checked so that nobody keeps it by hand.

- docs/architecture.md's module table names every module and package, and nothing else;
- no module is over 400 lines;
- no two modules import each other, directly or round a longer circle;
- the pure core imports nothing that does I/O;
- every package-data glob in pyproject.toml matches a file.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "mailbeacon"
MAX_LINES = 400
#: the pure core: no I/O, so it may import only itself and these plain-data modules
PURE = (
    "tokens",
    "stats",
    "trends",
    "switches",
    "addresses",
    "devices",
    "scenarios",
    "evaluate",
    "rewrite",
    "classify",
    "replies",
    "reachability",
    "diagnose",
    "from_field",
    "throttle",
    "follow_up",
    "provider_auth",
    "webhooks.schedule",
    "webhooks.targets",
)
PURE_MAY_IMPORT = {"model", "errors", *PURE}


def _modules() -> dict[str, Path]:
    """Dotted module name (without `mailbeacon.`) -> file, for every module of the package."""
    out = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's own modules that `name` imports anywhere (in functions and for type checking too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            elif node.module and node.module.startswith("mailbeacon"):
                target = node.module.removeprefix("mailbeacon").lstrip(".")
            else:
                continue
            for alias in node.names:  # `from . import schema` imports the module `schema`
                sub = f"{target}.{alias.name}".lstrip(".")
                found.add(sub if sub in known else target)
        elif isinstance(node, ast.Import):
            found |= {a.name.removeprefix("mailbeacon.") for a in node.names if a.name.startswith("mailbeacon.")}
    return {m for m in found if m in known and m != name}


def test_the_module_table_names_every_module_and_package() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    table = text[text.index("| module | holds |") :].split("\n\n", 1)[0]
    listed = set()
    for row in table.splitlines()[2:]:
        first = row.split("|")[1]
        if "(repository root)" not in first:
            listed |= set(re.findall(r"`([A-Za-z_]+(?:\.py|/))`", first))
    present = {p.name for p in SRC.glob("*.py") if p.name != "__init__.py"}
    present |= {p.name + "/" for p in SRC.iterdir() if p.is_dir() and any(p.glob("*.py"))}
    assert sorted(present - listed) == [], "modules missing from docs/architecture.md's table"
    assert sorted(listed - present) == [], "docs/architecture.md's table names modules that do not exist"


@pytest.mark.parametrize("path", sorted(SRC.rglob("*.py")), ids=lambda p: str(p.relative_to(SRC)))
def test_no_module_is_over_400_lines(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines: split it where a seam is"


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    graph = {name: _imports(name, path, known) for name, path in modules.items()}
    # a package's __init__ re-exports its modules: a module importing a sibling through the
    # package is an edge to that package, but the package importing the module is not a circle
    for name in graph:
        graph[name] = {m for m in graph[name] if not name.startswith(m + ".")}
    return graph


def test_no_import_circles() -> None:
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def strongconnect(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    assert circles == [], "modules that import each other"


def test_the_pure_core_imports_nothing_that_does_io() -> None:
    modules = _modules()
    bad = {}
    for name, path in modules.items():
        if not any(name == p or name.startswith(p + ".") or name.split(".")[0] == p for p in PURE):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        third_party = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        third_party |= {
            n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module and not n.level
        }
        io = third_party & {"sqlalchemy", "starlette", "aiosmtpd", "aiosmtplib", "socket", "asyncio", "subprocess"}
        own = {m.split(".")[0] for m in _imports(name, path, set(modules))} - PURE_MAY_IMPORT
        if io or own:
            bad[name] = sorted(io | own)
    assert bad == {}


def test_every_package_data_glob_matches_a_file() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    globs = project["tool"]["setuptools"]["package-data"]["mailbeacon"]
    assert [g for g in globs if not any(p.is_file() for p in SRC.glob(g))] == []
