"""The running pieces every surface shares: settings, store, signing keys, clock.

`Runtime.open(settings)` migrates the database (when asked), loads or creates the signing
keys and the credentials key. The CLI, the web app, the SMTP proxy, the mailbox watcher and
`instrument()` all take a Runtime.

`serve` opens its Runtime as a *node* (`node=True`): then it opens while the database is
unreachable if the node has run before — the signing keys come from the node's private copy
(`<data_dir>/signing-keys`, mode 0600, written whenever they are read from the database) and
links from its link book (`<data_dir>/links.db`) — so `serve` can restart during an outage and
every tracking link still answers (R1). Other commands fail at once when the database is away.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from .config import Settings
from .credentials import CredentialBox, is_sealed, load_or_create_key
from .errors import ConfigError, StoreUnavailable
from .model import Clock, system_clock
from .passwords import RecentSignIns
from .private_files import open_private, private_dir
from .store import Store, open_store
from .throttle import SignInThrottle
from .tokens import Keyring, format_key_spec, generate_key, parse_key_spec

log = logging.getLogger("mailbeacon")

KEYS_COPY = "signing-keys"
LINK_BOOK = "links.db"


@dataclass
class Runtime:
    settings: Settings
    store: Store
    keyring: Keyring
    clock: Clock = system_clock
    created: bool = False  # this start created the database (its schema was empty)
    _box: CredentialBox | None = field(default=None, repr=False)

    @classmethod
    def open(
        cls, settings: Settings, *, clock: Clock = system_clock, migrate: bool = True, node: bool = False
    ) -> Runtime:
        store = open_store(settings.effective_database_url, link_book=settings.effective_data_dir / LINK_BOOK)
        created = False
        if migrate:
            try:
                created = store.revision() is None
                store.migrate()
            except StoreUnavailable as exc:
                if not node or (settings.secret_keys == "" and _keys_copy(settings) is None):
                    store.close()
                    raise  # never ran here: nothing to answer with
                log.warning("%s; starting without it (the schema is brought up to date on a later start)", exc)
        try:
            keyring, box = load_keyring(settings, store, clock, node=node)
        except BaseException:
            store.close()
            raise
        return cls(settings=settings, store=store, keyring=keyring, clock=clock, created=created, _box=box)

    @cached_property
    def credentials(self) -> CredentialBox:
        if self._box is None:
            self._box = credential_box(self.settings)
        return self._box

    @cached_property
    def sign_ins(self) -> SignInThrottle:
        """Failed sign-ins (SMTP AUTH and HTTP Basic share them)."""
        return SignInThrottle(self.clock)

    @cached_property
    def recent_sign_ins(self) -> RecentSignIns:
        """Passwords verified in the last minutes (one scrypt per client per ttl, not per request)."""
        return RecentSignIns()

    def add_signing_key(self) -> int:
        """A new signing key, stored encrypted; it signs new tokens from the next start."""
        return self.store.add_signing_key(self.credentials.seal(generate_key()), self.clock())

    @property
    def public_url(self) -> str:
        return self.settings.effective_public_url

    def close(self) -> None:
        self.store.close()


def credential_box(settings: Settings, *, create: bool = True) -> CredentialBox:
    return CredentialBox(load_or_create_key(settings.credentials_key, settings.effective_data_dir, create=create))


def load_keyring(
    settings: Settings, store: Store, clock: Clock = system_clock, *, node: bool = False
) -> tuple[Keyring, CredentialBox | None]:
    """Keys from the `secret_keys` setting, else from the database (generated on first start),
    and the credentials box when it was needed.

    In the database the keys are encrypted with the credentials key. Keys an older version
    stored in the clear are encrypted in place here, once. When the database holds encrypted
    keys, a missing key file is an error, not a reason to make a new key. A node keeps a private
    copy of the keys and falls back to it when the database cannot be reached.
    """
    if settings.secret_keys:
        try:
            return Keyring(parse_key_spec(settings.secret_keys)), None
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
    try:
        stored = store.signing_keys()
        box = credential_box(settings, create=not any(is_sealed(k) for k in stored.values()))
        if not stored:
            store.add_signing_key(box.seal(generate_key()), clock(), kid=1)
            stored = store.signing_keys()
        clear = {kid: key for kid, key in stored.items() if not is_sealed(key)}
        if clear:
            store.replace_signing_keys({kid: box.seal(key) for kid, key in clear.items()})
            log.info("encrypted %d signing key(s) that were stored in the clear", len(clear))
    except StoreUnavailable:
        copy = _keys_copy(settings) if node else None
        if copy is None:
            raise
        log.warning("the database is unavailable: verifying and signing with this node's copy of the keys")
        return Keyring(copy), None
    keys = {kid: key if kid in clear else box.unseal(key) for kid, key in stored.items()}
    if node:
        _save_keys_copy(settings, keys)
    return Keyring(keys), box


def _keys_path(settings: Settings) -> Path:
    return settings.effective_data_dir / KEYS_COPY


def _keys_copy(settings: Settings) -> dict[int, bytes] | None:
    try:
        return parse_key_spec(_keys_path(settings).read_text()) or None
    except (OSError, ValueError):
        return None


def _save_keys_copy(settings: Settings, keys: dict[int, bytes]) -> None:
    """Keep the keys on this node (mode 0600, beside credentials.key) for starts without the database."""
    path = _keys_path(settings)
    text = format_key_spec(keys)
    try:
        if path.exists() and path.read_text() == text:
            return
        private_dir(path.parent)
        tmp = path.with_name(f".{KEYS_COPY}.{os.getpid()}")
        fd = open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)
    except OSError as exc:
        log.warning("cannot keep a copy of the signing keys in %s: %s", path, exc)
