"""Email providers' notifications in: configured per workspace, verified, recorded through the pipeline.

    POST /api/v1/providers/<provider>/<secret>
      └─ the hook whose secret it is (the workspace) ─ verified by the provider's scheme (provider_auth)
         └─ read into events (replies.providers) ─ tied to tracked mail ─ Pipeline.record_replies

Which workspace a notification belongs to comes from the URL's secret (stored hashed), never from
the payload. Each hook's keys are stored encrypted with the credentials key. Amazon SNS's
certificates and subscription confirmations are fetched through an injectable `Fetcher`.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .errors import AuthError, Forbidden, InvalidInput, NotFound
from .inbound import StoreView
from .model import Reply
from .pipeline import Pipeline
from .provider_auth import (
    MAILGUN_MAX_AGE,
    sendgrid_public_key,
    sns_url_ok,
    verify_basic,
    verify_mailgun,
    verify_sendgrid,
    verify_sns,
)
from .replies.providers import PARSERS, PROVIDERS, ProviderEvent, parse_ses, sns_document, to_replies
from .replies.view import SentMessage
from .runtime import Runtime
from .store import ProviderHook

#: GET an https URL and return its body (raises `mailbeacon.errors.UpstreamError` when it fails)
Fetcher = Callable[[str], bytes]
_TOPIC_ARN = re.compile(r"arn:aws:sns:[a-z0-9-]+:\d{1,12}:[A-Za-z0-9_.-]{1,256}")
#: what each provider's configuration holds: (field, secret?)
FIELDS: Mapping[str, tuple[tuple[str, bool], ...]] = {
    "sendgrid": (("public_key", False),),
    "mailgun": (("signing_key", True),),
    "postmark": (("username", False), ("password", True)),
    "ses": (("topic_arns", False),),
}
_CERT_TTL = timedelta(hours=24)


def hook_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def webhook_url(public_url: str, provider: str, secret: str, config: Mapping[str, Any]) -> str:
    """The URL to paste in the provider's console (Postmark's with its Basic credentials in it)."""
    base = public_url.rstrip("/") or "https://mailbeacon.example"
    if provider == "postmark":
        scheme, _, rest = base.partition("://")
        base = f"{scheme}://{config['username']}:{config['password']}@{rest}"
    return f"{base}/api/v1/providers/{provider}/{secret}"


def _checked(provider: str, config: dict[str, Any]) -> dict[str, Any]:
    """The configuration with what is missing filled in or refused, in one sentence."""
    if provider == "sendgrid":
        if not config.get("public_key"):
            raise InvalidInput("set the SendGrid verification key (--public-key, from Mail Settings > Event Webhook)")
        sendgrid_public_key(str(config["public_key"]))
    elif provider == "mailgun":
        if not config.get("signing_key"):
            raise InvalidInput("set the Mailgun webhook signing key (--signing-key, from Sending > Webhooks)")
    elif provider == "postmark":
        config.setdefault("username", "postmark")
        if not config.get("password"):
            config["password"] = secrets.token_urlsafe(18)
        if ":" in str(config["username"]) or "@" in str(config["username"]) + str(config["password"]):
            raise InvalidInput("the Postmark webhook username and password cannot hold ':' or '@'")
    elif provider == "ses":
        arns = config.get("topic_arns") or []
        if not arns or not all(isinstance(a, str) and _TOPIC_ARN.fullmatch(a) for a in arns):
            raise InvalidInput("set the SNS topic's ARN (--topic-arn arn:aws:sns:<region>:<account>:<topic>)")
    return config


def _provider(name: str) -> str:
    if name not in PROVIDERS:
        raise NotFound(f"no provider '{name[:40]}': use one of {', '.join(PROVIDERS)}")
    return name


@dataclass(frozen=True, slots=True)
class Configured:
    hook: ProviderHook
    config: dict[str, Any]
    #: the webhook URL, when it was made now (its secret is stored only hashed: shown once)
    url: str | None


def configure(
    rt: Runtime, workspace_id: int, provider: str, changes: Mapping[str, Any], *, new_url: bool = False
) -> Configured:
    """Set (or change) a workspace's provider: its keys, kept encrypted; a new URL on creation or when asked."""
    _provider(provider)
    existing = next((h for h in rt.store.provider_hooks(workspace_id) if h.provider == provider), None)
    config: dict[str, Any] = json.loads(rt.credentials.decrypt(existing.config)) if existing else {}
    config.update({k: v for k, v in changes.items() if v not in (None, "", [])})
    config = _checked(provider, config)
    secret = secrets.token_urlsafe(24) if existing is None or new_url else None
    hook = rt.store.set_provider_hook(
        workspace_id,
        provider,
        rt.credentials.encrypt(json.dumps(config)),
        rt.clock(),
        hook_hash=hook_hash(secret) if secret else None,
    )
    return Configured(hook, config, webhook_url(rt.public_url, provider, secret, config) if secret else None)


def shown(provider: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """A configuration as the API and CLI show it: secrets only as whether they are set."""
    return {name: (bool(config.get(name)) if secret else config.get(name)) for name, secret in FIELDS[provider]}


def configs(rt: Runtime, workspace_id: int) -> list[tuple[ProviderHook, dict[str, Any]]]:
    return [(h, json.loads(rt.credentials.decrypt(h.config))) for h in rt.store.provider_hooks(workspace_id)]


@dataclass(frozen=True, slots=True)
class Received:
    provider: str
    events: int
    recorded: tuple[Reply, ...] = ()
    unmatched: int = 0
    #: an SNS subscription confirmed now
    confirmed: bool = False


class ProviderIntake:
    """Takes in provider notifications; holds the SNS certificate cache and the Mailgun tokens seen."""

    def __init__(self, pipeline: Pipeline, fetcher: Fetcher) -> None:
        self.pipeline = pipeline
        self.fetcher = fetcher
        self._lock = threading.Lock()
        self._certs: dict[str, tuple[bytes, datetime]] = {}
        self._tokens: dict[str, datetime] = {}

    @property
    def rt(self) -> Runtime:
        return self.pipeline.rt

    def _certificate(self, url: str, now: datetime) -> bytes:
        with self._lock:
            cached = self._certs.get(url)
        if cached is not None and cached[1] > now:
            return cached[0]
        pem = self.fetcher(url)
        with self._lock:
            if len(self._certs) > 50:
                self._certs.clear()
            self._certs[url] = (pem, now + _CERT_TTL)
        return pem

    def _seen(self, token: str, now: datetime) -> bool:
        with self._lock:
            for t, until in list(self._tokens.items()):
                if until < now:
                    del self._tokens[t]
            return token in self._tokens

    def _remember(self, token: str, now: datetime) -> None:
        """A token is spent once its notification is recorded (a retry after a failure is not a replay)."""
        with self._lock:
            self._tokens[token] = now + 2 * MAILGUN_MAX_AGE

    def receive(self, provider: str, secret: str, headers: Mapping[str, str], body: bytes) -> Received:
        """Verify and record one notification posted to `provider`'s webhook URL with `secret`."""
        _provider(provider)
        try:
            hook = self.rt.store.provider_hook_by_hash(provider, hook_hash(secret))
        except NotFound:
            raise NotFound(f"no {provider} webhook at this URL (see `mailbeacon provider show`)") from None
        config = json.loads(self.rt.credentials.decrypt(hook.config))
        now = self.rt.clock()
        if provider == "postmark":
            verify_basic(headers.get("authorization", ""), config["username"], config["password"])
        elif provider == "sendgrid":
            verify_sendgrid(
                config["public_key"],
                headers.get("x-twilio-email-event-webhook-signature", ""),
                headers.get("x-twilio-email-event-webhook-timestamp", ""),
                body,
            )
        if provider == "ses":
            return self._sns(hook, config, body, now)
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            raise InvalidInput(f"a {provider} notification is JSON") from None
        token = ""
        if provider == "mailgun":
            sig = data.get("signature") if isinstance(data, dict) else None
            token = verify_mailgun(config["signing_key"], sig if isinstance(sig, dict) else {}, now)
            if self._seen(token, now):
                raise Forbidden("this Mailgun signature was used already: refused as a replay")
        got = self._record(hook, provider, PARSERS[provider](data), now)
        if token:
            self._remember(token, now)
        return got

    def _sns(self, hook: ProviderHook, config: Mapping[str, Any], body: bytes, now: datetime) -> Received:
        sns = sns_document(body)
        if sns is None:
            raise InvalidInput("an Amazon SNS notification is a JSON object with Type and MessageId")
        if sns.get("TopicArn") not in config["topic_arns"]:
            raise Forbidden("this SNS topic is not one configured for the workspace (--topic-arn)")
        cert_url = str(sns.get("SigningCertURL", ""))
        if not sns_url_ok(cert_url):
            raise AuthError("the SNS SigningCertURL is not https on sns.<region>.amazonaws.com")
        verify_sns(sns, self._certificate(cert_url, now), now)
        kind = sns.get("Type")
        if kind == "SubscriptionConfirmation":
            url = str(sns.get("SubscribeURL", ""))
            if not sns_url_ok(url):
                raise AuthError("the SNS SubscribeURL is not https on sns.<region>.amazonaws.com")
            self.fetcher(url)
            return Received("ses", 0, confirmed=True)
        if kind != "Notification":
            return Received("ses", 0)
        return self._record(hook, "ses", parse_ses(sns), now)

    def _record(self, hook: ProviderHook, provider: str, events: list[ProviderEvent], now: datetime) -> Received:
        store = self.rt.store
        view = StoreView(store, workspace_id=hook.workspace_id)

        def candidates(address: str) -> list[SentMessage]:
            found = (view.by_id(i) for i in store.message_ids_sent_to(hook.workspace_id, address, before=now))
            return [m for m in found if m is not None]

        replies, unmatched = to_replies(events, view, received_at=now, candidates=candidates)
        recorded = self.pipeline.record_replies(replies) if replies else []
        return Received(provider, len(events), tuple(recorded), len(unmatched))
