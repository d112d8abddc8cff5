"""Sending one delivery: resolve the receiver's name, check the addresses, sign, POST with httpx.

The name is resolved at every attempt and each address is checked against the SSRF policy
(targets.py); the request then goes to the address that passed — the URL's host is replaced by
it, `Host` and TLS (SNI and certificate) keep the name — so a name that resolves to something
else a moment later (a DNS rebind) cannot slip past. Redirects are not followed, proxies from
the environment are not used, and connections are not reused (a pooled connection is keyed by
address, and the next request may name another host).

Signed after Standard Webhooks with the `standardwebhooks` library: `webhook-id` (the event's
`evt_<id>`, the same on every retry), `webhook-timestamp` (this attempt) and `webhook-signature`.
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from standardwebhooks import Webhook

from ..credentials import CredentialBox
from ..errors import MailbeaconError
from ..model import Clock
from ..store.deliveries import Claimed
from .targets import refusal

USER_AGENT = "mailbeacon-webhooks/1"


def new_secret() -> str:
    """A signing secret as receivers are given it once: `whsec_` + base64 of 24 random bytes."""
    return "whsec_" + base64.b64encode(os.urandom(24)).decode("ascii")


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt came to: a 2xx status, or why not (the status when there was an answer)."""

    status: int | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class Sender:
    def __init__(self, box: Callable[[], CredentialBox], clock: Clock, *, allow_private: bool, timeout: float) -> None:
        self.box = box  # asked for at the first delivery (serve may start without the database)
        self.clock = clock
        self.allow_private = allow_private
        self.timeout = timeout
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            trust_env=False,
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def targets(self, url: httpx.URL) -> tuple[list[str], str | None]:
        """(the addresses that may be dialled, in the resolver's order; why not, when none may)."""
        host = url.host
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            return [], f"cannot resolve {host}: {getattr(exc, 'strerror', None) or exc}"
        allowed: list[str] = []
        refused: list[str] = []
        for *_, sockaddr in infos:
            ip = str(sockaddr[0])
            why = refusal(ip, allow_private=self.allow_private)
            if why is None:
                allowed.append(ip)
            else:
                refused.append(f"{ip} ({why})")
        if allowed:
            return list(dict.fromkeys(allowed)), None
        return [], (
            f"refused: {host} resolves to {', '.join(dict.fromkeys(refused))}; receivers must be on public "
            "addresses unless the operator sets webhook_allow_private"
        )

    async def send(self, claimed: Claimed) -> Outcome:
        d = claimed.delivery
        try:
            url = httpx.URL(claimed.url)
        except httpx.InvalidURL as exc:
            return Outcome(None, f"the URL is not valid: {exc}")
        addresses, why = await self.targets(url)
        if not addresses:
            return Outcome(None, why)
        try:
            secret = self.box().decrypt(claimed.secret)
        except MailbeaconError as exc:
            return Outcome(None, str(exc))
        at = self.clock()
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "host": url.netloc.decode("ascii"),
            "webhook-id": d.msg_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": Webhook(secret).sign(d.msg_id, at, d.body),
        }
        extensions = {"sni_hostname": url.host} if url.scheme == "https" else {}
        outcome = Outcome(None, f"cannot deliver to {url.host}")
        for ip in addresses:  # the next address only when this one cannot be connected to
            request = self._client.build_request(
                "POST", url.copy_with(host=ip), content=d.body.encode(), headers=headers, extensions=extensions
            )
            try:
                response = await self._client.send(request, stream=True)
                await response.aclose()
            except httpx.ConnectError as exc:
                outcome = Outcome(None, f"cannot connect to {url.host} ({ip}): {exc or type(exc).__name__}"[:500])
                continue
            except httpx.TimeoutException:
                return Outcome(None, f"no answer from {url.host} within {self.timeout:g} s")
            except httpx.HTTPError as exc:
                return Outcome(None, f"cannot deliver to {url.host}: {type(exc).__name__}: {exc}"[:500])
            status = response.status_code
            if 200 <= status < 300:
                return Outcome(status)
            note = " (redirects are not followed)" if 300 <= status < 400 else ""
            return Outcome(status, f"the receiver answered {status}{note}")
        return outcome
