"""The Typer app, its global options, and what every command needs (settings, runtime, output).

The global options become an `Invocation` in the root context (`ctx.obj`); a command asks it
for the settings or a runtime with `settings(ctx)` / `runtime(ctx)`. Nothing is kept between
two invocations: the runtime is closed when the command's context closes.
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from ..config import Settings, default_config_file, load_settings
from ..reachability import public_url_warning
from ..runtime import Runtime

app = typer.Typer(
    name="mailbeacon",
    help="Self-hosted email engagement tracking that tells the truth.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err = Console(stderr=True)


@dataclass
class Invocation:
    """The global options of one `mailbeacon ...` call, and the runtime opened for it."""

    config: Path | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    _runtime: Runtime | None = None

    def config_file(self) -> Path | None:
        if self.config is not None:
            return self.config
        default = default_config_file()
        return default if default.is_file() else None

    def settings(self, **more: Any) -> Settings:
        return load_settings(config_file=self.config_file(), overrides={**self.overrides, **more})

    def runtime(self, overrides: dict[str, Any] | None = None, *, node: bool = False) -> Runtime:
        if self._runtime is None:
            self._runtime = Runtime.open(self.settings(**(overrides or {})), node=node)
            if self._runtime.created:
                err.print(
                    f"mailbeacon: created a new, empty database at {self._runtime.settings.effective_database_url} "
                    "(set database_url or data_dir to use another; `mailbeacon config` shows where data lives).",
                    highlight=False,
                    soft_wrap=True,
                )
        return self._runtime

    def close(self) -> None:
        if self._runtime is not None:
            self._runtime.close()
            self._runtime = None


def invocation(ctx: typer.Context) -> Invocation:
    obj = ctx.find_root().obj
    if not isinstance(obj, Invocation):  # pragma: no cover - the app callback always sets it
        raise RuntimeError("mailbeacon command run without the app's global options")
    return obj


def settings(ctx: typer.Context) -> Settings:
    """The effective settings of this invocation."""
    return invocation(ctx).settings()


def runtime(ctx: typer.Context, overrides: dict[str, Any] | None = None, *, node: bool = False) -> Runtime:
    """The runtime of this invocation (opened, and the database migrated, on first use).

    `node`: `serve`'s runtime, which starts without the database when it has run before."""
    return invocation(ctx).runtime(overrides, node=node)


@app.callback()
def _global(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="TOML settings file (default: config.toml in the platform's config directory, if it exists).",
            envvar="MAILBEACON_CONFIG",
        ),
    ] = None,
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="Database URL (overrides MAILBEACON_DATABASE_URL).")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Any setting as NAME=VALUE (repeatable); see `mailbeacon config`."),
    ] = None,
) -> None:
    overrides: dict[str, Any] = {}
    if database_url:
        overrides["database_url"] = database_url
    for item in set_ or []:
        name, sep, value = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"--set expects NAME=VALUE, got '{item}'")
        overrides[name.strip().replace("-", "_")] = value
    inv = Invocation(config=config, overrides=overrides)
    ctx.obj = inv
    ctx.call_on_close(inv.close)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def warn_public_url(url: str) -> None:
    """Say on stderr when recipients cannot reach the tracking links (loopback, private, plain http)."""
    text = public_url_warning(url)
    if text:
        err.print(f"Warning: {text}", style="yellow", highlight=False, soft_wrap=True, markup=False)


def program() -> str:
    """How to run mailbeacon again, as the user did: `mailbeacon` when it is on the PATH, else its path."""
    argv0 = sys.argv[0] if sys.argv else ""
    if Path(argv0).name != "mailbeacon":
        return "mailbeacon"
    found = shutil.which("mailbeacon")
    if found and Path(found).resolve() == Path(argv0).resolve():
        return "mailbeacon"
    return argv0
