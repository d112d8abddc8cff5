"""The `mailbeacon` command. Commands live in the modules imported below; each registers on `app`.

Every failure prints one sentence on stderr (no traceback) and exits non-zero: expected ones
(`MailbeaconError`) with their message, usage errors (a missing argument, a bad option value,
an unknown command) with what was wrong and where to find help.
"""

from __future__ import annotations

import sys

import typer
from rich.markup import escape
from typer._click.exceptions import NoArgsIsHelpError, UsageError  # typer (pinned) exports neither

from ..errors import MailbeaconError
from .base import app, err

# command modules (each adds its commands to `app`)
from . import admin, demo, evaluate, mail, mailboxes, providers, report, serve, webhooks, why  # noqa: F401  isort: skip

USAGE_EXIT = 2


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return text if text.endswith((".", "!", "?", ")", "`")) else text + "."


def _usage_sentence(exc: UsageError) -> str:
    text = " ".join(exc.format_message().split()).rstrip(".")
    where = exc.ctx.command_path if exc.ctx is not None else "mailbeacon"
    return f"{text} (see `{where} --help`)."


def main(argv: list[str] | None = None) -> int:
    command = typer.main.get_command(app)
    try:
        command.main(args=argv, prog_name="mailbeacon", standalone_mode=False)
    except MailbeaconError as exc:
        err.print(f"[red]Error:[/red] {escape(_sentence(str(exc)))}", highlight=False, soft_wrap=True)
        return exc.exit_code
    except NoArgsIsHelpError as exc:  # `mailbeacon user`: the group's help is the answer
        exc.show()
        return USAGE_EXIT
    except UsageError as exc:
        err.print(f"[red]Error:[/red] {escape(_usage_sentence(exc))}", highlight=False, soft_wrap=True)
        return exc.exit_code
    except typer.TyperException as exc:
        err.print(f"[red]Error:[/red] {escape(_sentence(exc.format_message()))}", highlight=False, soft_wrap=True)
        return exc.exit_code
    except OSError as exc:  # a file or directory the command needs (permissions, a full disk ...)
        where = f" ({exc.filename})" if exc.filename else ""
        err.print(f"[red]Error:[/red] {escape(exc.strerror or str(exc))}{escape(where)}.", highlight=False)
        return 1
    except typer.Abort:
        err.print("Aborted.")
        return 1
    except typer.Exit as exc:
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
