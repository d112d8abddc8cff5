"""`demo`: a throw-away mailbeacon that plays a realistic day (and `--check`s its counts)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from ..demo.session import Demo, until_signalled
from ..errors import MailbeaconError
from .base import app, console
from .output import line


@app.command()
def demo(
    check: Annotated[
        bool, typer.Option("--check", help="Play the day, print the counts beside the expected ones, and stop.")
    ] = False,
    port: Annotated[int, typer.Option(help="HTTP port on 127.0.0.1 (default: a free one).", min=0, max=65535)] = 0,
    smtp_port: Annotated[
        int, typer.Option(help="SMTP proxy port on 127.0.0.1 (default: a free one).", min=0, max=65535)
    ] = 0,
) -> None:
    """Play a day of tracked email on a throw-away mailbeacon, then serve it (your data is not touched).

    Sends 50 emails through the real SMTP proxy and plays opens, clicks, scanners, prefetches and
    replies against the real endpoints; `--check` prints the counts beside the expected ones."""
    line(console, "Playing a day of email on a throw-away mailbeacon (about half a minute) ...")
    session = Demo(http_port=port, smtp_port=smtp_port, say=lambda text: line(console, text))
    if not check:
        session.serve = until_signalled
    ok = asyncio.run(session.run())
    if check and not ok:
        raise MailbeaconError("the demo's counts differ from PRODUCT.md's scenario table: see the rows marked NO")
