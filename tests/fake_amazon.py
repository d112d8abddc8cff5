"""Amazon's servers as an HTTPS proxy on loopback, for a `mailbeacon serve` in a child process.

The child gets `HTTPS_PROXY` (this server) and `SSL_CERT_FILE` (the test CA): every https request
it makes (SNS's signing certificate, a subscription confirmation) is tunnelled here with CONNECT,
and answered with TLS under a certificate the test CA issued for the SNS hosts. What was asked
for is kept in `requests`."""

from __future__ import annotations

import socketserver
import ssl
import threading
from pathlib import Path

import trustme

SNS_HOSTS = ("sns.us-east-1.amazonaws.com", "sns.us-west-2.amazonaws.com")


class _Tunnel(socketserver.StreamRequestHandler):
    server: FakeAmazon

    def handle(self) -> None:
        method, target, _ = self.rfile.readline().decode("latin-1").split(" ", 2)
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass
        if method != "CONNECT":
            self.wfile.write(b"HTTP/1.1 405 Only CONNECT\r\nContent-Length: 0\r\n\r\n")
            return
        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self.wfile.flush()
        host = target.rsplit(":", 1)[0]
        with self.server.tls.wrap_socket(self.connection, server_side=True) as tls, tls.makefile("rwb") as f:
            path = f.readline().decode("latin-1").split(" ")[1]
            while f.readline() not in (b"\r\n", b"\n", b""):
                pass
            self.server.requests.append(f"https://{host}{path}")
            body = self.server.pem if path.endswith(".pem") else b"<ConfirmSubscriptionResponse/>"
            f.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
            f.flush()


class FakeAmazon(socketserver.ThreadingTCPServer):
    daemon_threads = True

    def __init__(self, pem: bytes, ca_file: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Tunnel)
        ca = trustme.CA()
        ca.cert_pem.write_to_path(str(ca_file))
        self.tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert(*SNS_HOSTS).configure_cert(self.tls)
        self.pem = pem
        self.requests: list[str] = []
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def close(self) -> None:
        self.shutdown()
        self.server_close()
