"""A real webhook receiver on loopback for the tests: an HTTP server in a thread that answers with the
statuses it is told (then 200) and keeps every request it got."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    def verified(self, secret: str) -> Any:
        """The payload, once its signature verifies with the reference library."""
        return Webhook(secret).verify(self.body, self.headers)


class Receiver:
    def __init__(
        self,
        answers: list[int] | None = None,
        *,
        default: int = 200,
        pause: float = 0.0,
        decide: Callable[[Received], int] | None = None,
    ) -> None:
        self.answers = list(answers or [])
        self.decide = decide  # the status for a request, by what it is (instead of `answers`)
        self.default = default
        self.pause = pause  # seconds before answering (a receiver too slow to answer in time)
        self.received: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                got = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with receiver._lock:
                    receiver.received.append(got)
                    status = receiver.answers.pop(0) if receiver.answers else receiver.default
                    if receiver.decide is not None:
                        status = receiver.decide(got)
                if receiver.pause:
                    time.sleep(receiver.pause)
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("location", "/elsewhere")
                self.send_header("content-length", "2")
                self.send_header("connection", "close")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 128  # several senders at once (socketserver's default backlog is 5)

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that gave up waiting (the timeout test): nothing to report

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/mailbeacon"

    def ids(self) -> list[str]:
        with self._lock:
            return [r.webhook_id for r in self.received]

    def wait_for(self, n: int, timeout: float = 20.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.received)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def receiving(answers: list[int] | None = None, *, default: int = 200) -> Iterator[Receiver]:
    with Receiver(answers, default=default) as r:
        yield r
