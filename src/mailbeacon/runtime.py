"""The running pieces every surface shares: settings, store, signing keys, clock.

`Runtime.open(settings)` migrates the database (when asked), loads or creates the signing
keys and the credentials key. The CLI, the web app, the SMTP proxy, the mailbox watcher and
`instrument()` all take a Runtime.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from .config import Settings
from .credentials import CredentialBox, load_or_create_key
from .errors import ConfigError
from .model import Clock, system_clock
from .store import Store, open_store
from .tokens import Keyring, generate_key, parse_key_spec


@dataclass
class Runtime:
    settings: Settings
    store: Store
    keyring: Keyring
    clock: Clock = system_clock
    created: bool = False  # this start created the database (its schema was empty)
    _box: CredentialBox | None = field(default=None, repr=False)

    @classmethod
    def open(cls, settings: Settings, *, clock: Clock = system_clock, migrate: bool = True) -> Runtime:
        store = open_store(settings.effective_database_url)
        created = False
        if migrate:
            created = store.revision() is None
            store.migrate()
        keyring = load_keyring(settings, store, clock)
        return cls(settings=settings, store=store, keyring=keyring, clock=clock, created=created)

    @cached_property
    def credentials(self) -> CredentialBox:
        if self._box is None:
            self._box = CredentialBox(
                load_or_create_key(self.settings.credentials_key, self.settings.effective_data_dir)
            )
        return self._box

    @property
    def public_url(self) -> str:
        return self.settings.effective_public_url

    def close(self) -> None:
        self.store.close()


def load_keyring(settings: Settings, store: Store, clock: Clock = system_clock) -> Keyring:
    """Keys from the `secret_keys` setting, else from the database (generated on first start)."""
    if settings.secret_keys:
        try:
            return Keyring(parse_key_spec(settings.secret_keys))
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
    keys = store.signing_keys()
    if not keys:
        store.add_signing_key(generate_key(), clock(), kid=1)
        keys = store.signing_keys()
    return Keyring(keys)
