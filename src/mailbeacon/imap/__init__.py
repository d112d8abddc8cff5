"""Watching the senders' mailboxes over IMAP for replies, auto-replies and bounces.

`start_watchers(pipeline)` is what `mailbeacon serve` runs (stop with `await watchers.stop()`);
`check_mailbox(pipeline, id)` does one pass; what they find is recorded through the pipeline. `client.py` is the only module that speaks IMAP (`protocol.py` holds its pure wire details).
"""

from __future__ import annotations

from .client import ImapClient
from .protocol import MailboxUrl, parse_url
from .watcher import CheckResult, MailboxWatcher, Watchers, WatchOptions, backoff_delay, check_mailbox, start_watchers

__all__ = [
    "CheckResult",
    "ImapClient",
    "MailboxUrl",
    "MailboxWatcher",
    "WatchOptions",
    "Watchers",
    "backoff_delay",
    "check_mailbox",
    "parse_url",
    "start_watchers",
]
