"""Which signature data decides verdicts — on this node, and across the nodes that share a store.

Every verdict carries `classify.rules_version()`: the rule table's version plus the signature
snapshot's date and digest, so a stored verdict says which data decided it. `SignatureWatch.check`
is the pipeline's hook, called before each batch; at most every `interval` seconds (by the injected
clock) it

- reloads the package's signature files if `mailbeacon signatures update` replaced them, so a
  running server uses new data without a restart (a set that does not load is refused, logged,
  and the old one stays in use);
- records in the store's `meta` table which version the deciding node uses, and logs a warning
  when the node that decided before used other data (only the lease holder decides, so this is
  where a rolling upgrade or a node with stale files shows).

`status(store)` is what `/healthz` shows: this node's version, the deciding node's, whether they agree.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .classify import reload_signatures, rules_version
from .errors import InvalidInput
from .model import Clock
from .store import Store

log = logging.getLogger("mailbeacon.signatures")

#: the meta-table key holding {"rules_version", "owner", "at"} of the node that decided last
META_KEY = "classifier_data"


@dataclass
class SignatureWatch:
    store: Store
    owner: str
    clock: Clock
    interval: float = 5.0
    _checked: datetime | None = field(default=None, init=False)
    _recorded: tuple[str, str] | None = field(default=None, init=False)

    def check(self) -> str:
        """Reload changed signature files, record the version in use; returns it."""
        now = self.clock()
        if self._checked is not None and 0 <= (now - self._checked).total_seconds() < self.interval:
            return rules_version()
        self._checked = now
        before = rules_version()
        try:
            if reload_signatures() is not None:
                log.warning("signature files changed: verdicts now use %s (was %s)", rules_version(), before)
        except InvalidInput as exc:
            log.error("the new signature files do not load (%s); still deciding with %s", exc, before)
        version = rules_version()
        if self._recorded != (version, self.owner):
            previous = recorded(self.store)
            if previous and previous.get("rules_version") != version and previous.get("owner") != self.owner:
                log.warning(
                    "this node (%s) decides with %s; the node that decided before (%s) used %s — "
                    "run `mailbeacon signatures update` with the same files on every node",
                    self.owner,
                    version,
                    previous.get("owner"),
                    previous.get("rules_version"),
                )
            value = {"rules_version": version, "owner": self.owner, "at": now.isoformat()}
            self.store.set_meta(META_KEY, json.dumps(value))
            self._recorded = (version, self.owner)
        return version


def recorded(store: Store) -> dict[str, Any] | None:
    """What the deciding node recorded, or None (nothing decided yet, or an unreadable value)."""
    raw = store.get_meta(META_KEY)
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def status(store: Store) -> dict[str, Any]:
    """This node's rules version, the deciding node's, and whether they are the same data (a node
    that does not decide picks up new files here too)."""
    try:
        reload_signatures()
    except InvalidInput as exc:
        log.error("the new signature files do not load (%s); still using %s", exc, rules_version())
    mine = rules_version()
    deciding = recorded(store)
    return {
        "rules_version": mine,
        "deciding": deciding,
        "agrees": deciding is None or deciding.get("rules_version") == mine,
    }


__all__ = ["META_KEY", "SignatureWatch", "recorded", "status"]
