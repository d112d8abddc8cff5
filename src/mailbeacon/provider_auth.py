"""Checking that a provider's notification comes from the provider, each by its own scheme. Pure
(no I/O, no clock: the time is passed in; the SNS certificate is fetched by the caller).

- SendGrid: ECDSA P-256 over `timestamp + body` (headers `X-Twilio-Email-Event-Webhook-Signature`
  and `-Timestamp`), checked with the public key shown in SendGrid's settings;
- Mailgun: HMAC-SHA256 of `timestamp + token` with the webhook signing key (the `signature`
  object of the body); old timestamps are refused, and the caller refuses a token seen before;
- Postmark: no signature: HTTP Basic credentials in the webhook URL;
- Amazon SNS: an RSA signature (SignatureVersion 1: SHA1, 2: SHA256) over the canonical fields of
  the message, with the certificate at `SigningCertURL`, which must be https on `sns.<region>.amazonaws.com`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from .errors import AuthError, InvalidInput

#: how far a Mailgun signature's timestamp may be from now
MAILGUN_MAX_AGE = timedelta(minutes=15)
_SNS_HOST = re.compile(r"sns\.[a-z]{2}(?:-[a-z]+)+-\d\.amazonaws\.com")
_SNS_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    "UnsubscribeConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise AuthError("the signature is not base64") from None


def sendgrid_public_key(text: str) -> ec.EllipticCurvePublicKey:
    """The verification key as SendGrid shows it (base64 DER), or PEM. `InvalidInput` if it is neither."""
    text = text.strip()
    try:
        key = (
            serialization.load_pem_public_key(text.encode())
            if text.startswith("-----BEGIN")
            else serialization.load_der_public_key(base64.b64decode(text, validate=True))
        )
    except (ValueError, binascii.Error):
        raise InvalidInput(
            "the SendGrid verification key is not a public key (paste it as SendGrid shows it)"
        ) from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise InvalidInput("the SendGrid verification key must be an ECDSA P-256 public key")
    return key


def verify_sendgrid(public_key: str, signature: str, timestamp: str, body: bytes) -> None:
    """`AuthError` unless `signature` (base64 DER ECDSA) signs `timestamp + body`."""
    if not signature or not timestamp:
        raise AuthError("a SendGrid event needs the X-Twilio-Email-Event-Webhook-Signature and -Timestamp headers")
    try:
        sendgrid_public_key(public_key).verify(_b64(signature), timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise AuthError("the SendGrid signature does not check out with the workspace's verification key") from None


def verify_mailgun(signing_key: str, signature: Mapping[str, Any], now: datetime) -> str:
    """The token of a good Mailgun `signature` object (for the caller's replay check); `AuthError` else."""
    token, stamp, given = (str(signature.get(k, "")) for k in ("token", "timestamp", "signature"))
    if not (token and stamp and given):
        raise AuthError("a Mailgun event needs its signature object (token, timestamp, signature)")
    expected = hmac.new(signing_key.encode(), (stamp + token).encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, given.lower()):
        raise AuthError("the Mailgun signature does not check out with the workspace's webhook signing key")
    try:
        at = datetime.fromtimestamp(int(stamp), now.tzinfo)
    except (ValueError, OverflowError, OSError):
        raise AuthError("the Mailgun signature's timestamp is not a Unix time") from None
    if abs(now - at) > MAILGUN_MAX_AGE:
        raise AuthError("the Mailgun signature is too old (or from the future): refused as a possible replay")
    return token


def verify_basic(authorization: str, username: str, password: str) -> None:
    """`AuthError` unless the `Authorization` header carries exactly these Basic credentials."""
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        raise AuthError("put the credentials in the webhook URL (https://user:password@host/...)")
    try:
        user, _, pw = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise AuthError("the Basic credentials are not base64") from None
    ok_user = hmac.compare_digest(user.encode(), username.encode())
    if not (hmac.compare_digest(pw.encode(), password.encode()) and ok_user):
        raise AuthError("the webhook URL's credentials are not the ones configured for this workspace")


def sns_url_ok(url: str) -> bool:
    """Is `url` https on an SNS endpoint (`sns.<region>.amazonaws.com`, default port)?"""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    return (
        parts.scheme == "https"
        and port in (None, 443)
        and not parts.username
        and not parts.password
        and bool(_SNS_HOST.fullmatch(parts.hostname or ""))
    )


def sns_string_to_sign(message: Mapping[str, Any]) -> bytes:
    """The canonical text an SNS signature covers (the type's fields in order, `name\\nvalue\\n`)."""
    fields = _SNS_FIELDS.get(str(message.get("Type", "")))
    if fields is None:
        raise InvalidInput("not an SNS message: Type is not Notification or (Un)SubscriptionConfirmation")
    out = []
    for name in fields:
        value = message.get(name)
        if value is None:
            if name == "Subject":
                continue
            raise InvalidInput(f"the SNS message lacks {name}")
        out.append(f"{name}\n{value}\n")
    return "".join(out).encode()


def verify_sns(message: Mapping[str, Any], certificate_pem: bytes, now: datetime) -> None:
    """`AuthError` unless the message's `Signature` checks out with the certificate (valid now)."""
    version = str(message.get("SignatureVersion", ""))
    digest: hashes.HashAlgorithm
    if version == "1":
        digest = hashes.SHA1()  # noqa: S303 (SNS's SignatureVersion 1 is SHA1withRSA)
    elif version == "2":
        digest = hashes.SHA256()
    else:
        raise AuthError("the SNS message has no known SignatureVersion (1 or 2)")
    try:
        cert = x509.load_pem_x509_certificate(certificate_pem)
    except ValueError:
        raise AuthError("the SNS signing certificate cannot be read") from None
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise AuthError("the SNS signing certificate is not valid now")
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise AuthError("the SNS signing certificate does not hold an RSA key")
    try:
        key.verify(_b64(str(message.get("Signature", ""))), sns_string_to_sign(message), padding.PKCS1v15(), digest)
    except InvalidSignature:
        raise AuthError("the SNS signature does not check out") from None
