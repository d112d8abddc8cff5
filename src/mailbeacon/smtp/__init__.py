"""The SMTP submission proxy: any mail client in, one tracked copy per recipient out.

The only package that imports aiosmtpd (`session`, the client side of the proxy) and aiosmtplib
(`upstream`, the real outgoing server); `proxy` listens.

A client logs in with its mailbeacon address and password (AUTH PLAIN/LOGIN; over STARTTLS
unless the proxy listens on loopback). Each transaction is mirrored on the upstream server as it
happens - MAIL FROM and every RCPT TO are asked upstream first, so a refused recipient is refused
to the client with the upstream's own answer. At the end of DATA the message is instrumented
(`instrument()`, in a worker thread) and each recipient's copy is relayed in its own upstream
transaction. The promise: never lose mail. Upstream unreachable or answering 4xx: the client gets
a 4xx and retries; copies already delivered are remembered (by message digest) so a retry does
not send them twice. A 5xx is passed through with its text.

    proxy = await start_smtp_proxy(runtime)   # host:port from the `smtp` setting
    ...
    await proxy.stop()
"""

from __future__ import annotations

from .proxy import SmtpProxy, start_smtp_proxy
from .upstream import Upstream, relay, upstream_for

__all__ = ["SmtpProxy", "Upstream", "relay", "start_smtp_proxy", "upstream_for"]
