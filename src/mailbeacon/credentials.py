"""Encryption of stored credentials (upstream SMTP URLs, IMAP passwords, token signing keys), with Fernet.

The `credentials_key` lives outside the database (the setting, or `<data_dir>/credentials.key`,
mode 0600), so a copy of the database alone cannot forge tokens or read passwords.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from .errors import ConfigError
from .private_files import make_private, private_dir, write_private


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

    def seal(self, secret: bytes) -> bytes:
        """A binary secret (a signing key) as stored: `SEALED` + Fernet token."""
        return SEALED + self.encrypt(base64.urlsafe_b64encode(secret).decode("ascii")).encode("ascii")

    def unseal(self, stored: bytes) -> bytes:
        if not is_sealed(stored):
            raise ConfigError("a stored signing key is not encrypted")
        return base64.urlsafe_b64decode(self.decrypt(stored[len(SEALED) :].decode("ascii")))


#: marks an encrypted binary secret in the database (older databases hold raw key bytes)
SEALED = b"sealed:fernet:"


def is_sealed(stored: bytes) -> bool:
    return stored.startswith(SEALED)


def parse_key(text: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ConfigError("credentials_key is not base64url") from exc
    if len(key) != 32:
        raise ConfigError("credentials_key must decode to 32 bytes")
    return key


def load_or_create_key(setting: str, data_dir: Path, *, create: bool = True) -> bytes:
    """The key from the setting, or from `<data_dir>/credentials.key` (created, mode 0600,
    unless `create` is false: then its absence is an error)."""
    if setting:
        return parse_key(setting)
    path = data_dir / "credentials.key"
    if path.exists():
        private_dir(data_dir)
        make_private(path)
        return parse_key(path.read_text())
    if not create:
        raise ConfigError(
            f"the credentials key is missing: {path} does not exist and credentials_key is not set, but the "
            "database holds keys encrypted with it. Set data_dir to the directory that has credentials.key, "
            "or set credentials_key"
        )
    private_dir(data_dir)
    key = os.urandom(32)
    write_private(path, base64.urlsafe_b64encode(key), exclusive=True)
    return key
