"""Encryption of stored credentials (upstream SMTP URLs, IMAP passwords), with Fernet."""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from .errors import ConfigError


class CredentialBox:
    """Encrypts and decrypts short secrets with the `credentials_key`."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ConfigError("credentials_key must be 32 bytes (base64url-encoded)")
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, ValueError) as exc:
            raise ConfigError(
                "a stored credential cannot be decrypted: credentials_key changed? Set the key it was stored with."
            ) from exc


def parse_key(text: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ConfigError("credentials_key is not base64url") from exc
    if len(key) != 32:
        raise ConfigError("credentials_key must decode to 32 bytes")
    return key


def load_or_create_key(setting: str, data_dir: Path) -> bytes:
    """The key from the setting, or from `<data_dir>/credentials.key` (created, mode 0600)."""
    if setting:
        return parse_key(setting)
    path = data_dir / "credentials.key"
    if path.exists():
        return parse_key(path.read_text())
    data_dir.mkdir(parents=True, exist_ok=True)
    key = os.urandom(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(base64.urlsafe_b64encode(key).decode())
    return key
