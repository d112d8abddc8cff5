"""The `mailbeacon` command. Commands live in the modules imported below; each registers on `app`.

Expected failures print one sentence (no traceback) and exit non-zero.
"""

from __future__ import annotations

import sys

import click
import typer

from ..errors import MailbeaconError
from .base import app, err

# command modules (each adds its commands to `app`)
from . import admin, evaluate, mail, mailboxes, report, serve  # noqa: F401  isort: skip


def main(argv: list[str] | None = None) -> int:
    command = typer.main.get_command(app)
    try:
        command.main(args=argv, prog_name="mailbeacon", standalone_mode=False)
    except MailbeaconError as exc:
        err.print(f"[red]Error:[/red] {exc}", highlight=False)
        return exc.exit_code
    except click.exceptions.Abort:
        err.print("Aborted.")
        return 1
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
