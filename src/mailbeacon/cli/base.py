"""The Typer app, its global options, and what every command needs (settings, runtime, output)."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from ..config import Settings, load_settings
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
class State:
    config: Path | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    _runtime: Runtime | None = None

    def settings(self, **more: Any) -> Settings:
        return load_settings(config_file=self.config, overrides={**self.overrides, **more})

    def runtime(self, overrides: dict[str, Any] | None = None, *, migrate: bool = True) -> Runtime:
        if self._runtime is None:
            self._runtime = Runtime.open(self.settings(**(overrides or {})), migrate=migrate)
        return self._runtime


state = State()


@app.callback()
def _global(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="TOML settings file.", envvar="MAILBEACON_CONFIG")
    ] = None,
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="Database URL (overrides MAILBEACON_DATABASE_URL).")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Any setting as NAME=VALUE (repeatable); see `mailbeacon config`."),
    ] = None,
) -> None:
    state.config = config
    if database_url:
        state.overrides["database_url"] = database_url
    for item in set_ or []:
        name, sep, value = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"--set expects NAME=VALUE, got '{item}'")
        state.overrides[name.strip().replace("-", "_")] = value


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
