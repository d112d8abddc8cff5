"""Test keys standing in for the providers' (the outside world): SendGrid's ECDSA key, Mailgun's
signing key, a self-signed certificate in place of Amazon SNS's; and signing the corpus payloads with them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from conftest import CORPUS
from mailbeacon.provider_auth import sns_string_to_sign

PROVIDERS = CORPUS / "providers"
MAILGUN_KEY = "key-for-tests-0123456789abcdef"
CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-test.pem"


def payload(name: str) -> Any:
    return json.loads((PROVIDERS / name).read_text())


def corpus_path(name: str) -> Path:
    return PROVIDERS / name


class SendGridKey:
    def __init__(self) -> None:
        self.private = ec.generate_private_key(ec.SECP256R1())
        der = self.private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.public = base64.b64encode(der).decode()  # as SendGrid's settings page shows it

    def headers(self, body: bytes, timestamp: str = "1700000000") -> dict[str, str]:
        sig = self.private.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(sig).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
        }


def mailgun_signed(data: dict[str, Any], when: datetime, token: str = "a" * 50, key: str = MAILGUN_KEY) -> bytes:
    stamp = str(int(when.timestamp()))
    sig = hmac.new(key.encode(), (stamp + token).encode(), hashlib.sha256).hexdigest()
    return json.dumps({**data, "signature": {"token": token, "timestamp": stamp, "signature": sig}}).encode()


class SnsCert:
    """A self-signed RSA certificate, valid around `now`, in place of the one at SigningCertURL."""

    def __init__(self, now: datetime | None = None, days: int = 1) -> None:
        now = now or datetime.now(UTC)
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=days))
            .not_valid_after(now + timedelta(days=days))
            .sign(self.key, hashes.SHA256())
        )
        self.pem = cert.public_bytes(serialization.Encoding.PEM)

    def sign(self, message: dict[str, Any], version: str = "1", cert_url: str = CERT_URL) -> dict[str, Any]:
        signed = {**message, "SignatureVersion": version, "SigningCertURL": cert_url}
        digest = hashes.SHA1() if version == "1" else hashes.SHA256()
        sig = self.key.sign(sns_string_to_sign(signed), padding.PKCS1v15(), digest)
        return {**signed, "Signature": base64.b64encode(sig).decode()}
