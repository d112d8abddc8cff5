"""`POST /api/v1/providers/<provider>/<secret>`: an email provider's bounce and complaint notifications.

The URL's secret names the workspace's hook; the provider's own scheme proves the sender (see
provider_auth.py). The edge resolves no principal on these paths (Postmark's Basic credentials
are the hook's, not a user's). `https_fetch` is how SNS certificates and subscription
confirmations are fetched (https only; the caller checked the host).
"""

from __future__ import annotations

import asyncio
import re
import urllib.request

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..errors import UpstreamTemporary
from ..provider_events import ProviderIntake

#: the webhook paths (their credentials are the hook's own)
WEBHOOK_PATH = re.compile(r"/api/v1/providers/[^/]+/[^/]+")
#: SendGrid posts batches of up to about 768 KB
WEBHOOK_LIMIT = 1024 * 1024
_FETCH_LIMIT = 64 * 1024


def https_fetch(url: str) -> bytes:
    """GET `url` (https, certificate verified) and return at most 64 KB of its body."""
    if not url.startswith("https://"):
        raise UpstreamTemporary("only https URLs are fetched")
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 (https checked above)
            return bytes(answer.read(_FETCH_LIMIT))
    except (OSError, ValueError) as exc:
        raise UpstreamTemporary(f"fetching {url[:200]} failed: {exc}") from None


async def receive_provider_event(request: Request) -> Response:
    intake: ProviderIntake = request.app.state.providers
    provider, secret = str(request.path_params["provider"]), str(request.path_params["secret"])
    body = b"".join([chunk async for chunk in request.stream()])  # within WEBHOOK_LIMIT (see body.py)
    headers = {k.lower(): v for k, v in request.headers.items()}
    got = await asyncio.to_thread(intake.receive, provider, secret, headers, body)
    return JSONResponse(
        {
            "provider": got.provider,
            "events": got.events,
            "recorded": len(got.recorded),
            "unmatched": got.unmatched,
            "confirmed": got.confirmed,
        }
    )
