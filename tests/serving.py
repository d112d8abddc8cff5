"""`mailbeacon serve` in a child process, for every test that needs the real server: `ServeProcess`.

It starts the real entry point on a loopback port, waits until `ready` answers 200, and stops it
with a signal. Behind https (a TLS terminator in front, as in production), pick the port first
(`free_port()`), put the terminator on it and pass `port` and the https `public_url`.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServeProcess:
    """`mailbeacon serve` in a child process. `ready` is the path that must answer 200 after a
    start (/healthz; a pixel when the database is meant to be away). `env`: more settings
    (`public_url="https://..."` becomes `MAILBEACON_PUBLIC_URL`)."""

    def __init__(
        self,
        tmp_path: Path,
        db_url: str,
        http_server: str = "granian",
        *,
        ready: str = "/healthz",
        port: int | None = None,
        **env: str,
    ) -> None:
        self.port = port or free_port()
        self.ready = ready
        self.env = {
            **os.environ,
            "MAILBEACON_DATABASE_URL": db_url,
            "MAILBEACON_DATA_DIR": str(tmp_path / "data"),
            "MAILBEACON_PUBLIC_URL": "http://t.example.test",
            "MAILBEACON_HTTP_SERVER": http_server,
            "MAILBEACON_SMTP": "off",
            **{f"MAILBEACON_{k.upper()}": v for k, v in env.items()},
        }
        self.proc: subprocess.Popen[str] | None = None
        self.log = tmp_path / f"serve-{self.port}.log"
        self.umask = -1  # -1: inherit

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mailbeacon", "serve", "--http", f"127.0.0.1:{self.port}"],
            env=self.env,
            stdout=open(self.log, "a"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
            text=True,
            umask=self.umask,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                if httpx.get(f"{self.base}{self.ready}", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise AssertionError("serve did not come up: " + self.log.read_text())

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=30)

    def close(self) -> None:
        """Stop it if it still runs (a fixture's teardown), killing it if it does not stop."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self.stop()
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
