"""The whole schema, in one place (SQLAlchemy Core). Migrations in `migrations/` build it.

Times are stored as UTC. SQLite keeps them as ISO text, PostgreSQL as `timestamptz`;
`UTCDateTime` makes both come back as aware UTC datetimes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)

# BigInteger ids that are still autoincrementing rowids on SQLite
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, on every database."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use aware UTC datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        dt: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
        if dt.tzinfo is None:
            return dt.replace(tzinfo=UTC)
        return dt.astimezone(UTC)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

secret_keys = Table(
    "secret_keys",
    metadata,
    Column("kid", Integer, primary_key=True, autoincrement=False),
    Column("key", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

workspaces = Table(
    "workspaces",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("domains", JSON, nullable=False),
    Column("settings", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("workspace_id", ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("role", String(10), nullable=False, server_default="member"),  # admin | member
    Column("settings", JSON, nullable=False),
    Column("upstream_smtp", Text, nullable=True),  # encrypted smtp URL with credentials
    Column("created_at", UTCDateTime, nullable=False),
)

user_addresses = Table(
    "user_addresses",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("address", String(320), nullable=False, unique=True),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_used_at", UTCDateTime, nullable=True),
)

pairing_codes = Table(  # one-time codes a device exchanges for its credentials (stored hashed)
    "pairing_codes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code_hash", String(64), nullable=False, unique=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("kind", String(20), nullable=False),
    Column("name", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime, nullable=True),
)

devices = Table(
    "devices",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("public_id", String(40), nullable=False, unique=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("kind", String(20), nullable=False),  # extension | dashboard | other
    Column("name", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
    # what the browser extension last reported: the webmail sites it may read, when it last acted
    Column("sites", JSON, nullable=True),
    Column("reported_at", UTCDateTime, nullable=True),
    Column("last_acted_at", UTCDateTime, nullable=True),
)

messages = Table(
    "messages",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("workspace_id", ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("rfc_message_id", String(998), nullable=False, index=True),
    Column("sender", String(320), nullable=False),
    Column("subject", Text, nullable=False),
    Column("sent_at", UTCDateTime, nullable=False, index=True),
    Column("links", Integer, nullable=False),
    Column("decoy_link", Integer, nullable=True),
    # what was tracked and why not: {"opens": bool, "clicks": bool, "replies": bool, "reasons": [...]}
    Column("tracking", JSON, nullable=False),
    # instrumentation outcome: {"html": bool, "instrumented": bool, "failure": str|None, "notes": [...]}
    Column("outcome", JSON, nullable=False),
    Column("source", String(20), nullable=False),  # smtp | api | python
    # the client address that submitted it through the SMTP proxy (evidence of the sender's network)
    Column("submitted_from", String(45), nullable=True),
)

recipients = Table(
    "recipients",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("message_id", ForeignKey("messages.id", ondelete="CASCADE"), nullable=False),
    Column("address", String(320), nullable=False, index=True),
    Column("field", String(3), nullable=False),  # to | cc | bcc
    Column("relation", String(20), nullable=False),  # external | colleague | sender
    UniqueConstraint("message_id", "address"),
)

links = Table(
    "links",
    metadata,
    Column("message_id", ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True),
    Column("idx", Integer, primary_key=True, autoincrement=False),
    Column("url", Text, nullable=False),
)

# A hit's `state`: 0 stored, not classified yet; 1 provisional verdict; 2 settled (final).
hits = Table(
    "hits",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("uid", String(40), nullable=False, unique=True),
    Column("kind", String(10), nullable=False),
    Column("workspace_id", Integer, nullable=False),
    Column("message_id", BigInteger, nullable=False),
    Column("recipient_id", BigInteger, nullable=False),
    Column("link", Integer, nullable=True),
    Column("at", UTCDateTime, nullable=False),
    Column("method", String(10), nullable=False),
    Column("ip", String(64), nullable=False),
    Column("user_agent", Text, nullable=False),
    Column("headers", JSON, nullable=False),
    Column("device_id", String(40), nullable=True),
    Column("state", SmallInteger, nullable=False, default=0),
    Column("settle_at", UTCDateTime, nullable=True),
    Index("ix_hits_recipient_at", "recipient_id", "at"),
    Index("ix_hits_message_at", "message_id", "at"),
    Index(
        "ix_hits_pending",
        "state",
        "id",
        sqlite_where=Column("state") < 2,
        postgresql_where=Column("state") < 2,
    ),
)

verdicts = Table(
    "verdicts",
    metadata,
    Column("hit_id", BigInteger, ForeignKey("hits.id", ondelete="CASCADE"), primary_key=True),
    Column("cls", String(20), nullable=False),
    Column("subtype", String(40), nullable=True),
    Column("reasons", JSON, nullable=False),  # [[code, text], ...]
    Column("rules_version", String(40), nullable=False),
    Column("settled", Boolean, nullable=False),
    Column("decided_at", UTCDateTime, nullable=False),
    Column("revisions", Integer, nullable=False, default=0),
)

replies = Table(
    "replies",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("message_id", ForeignKey("messages.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("recipient_id", BigInteger, nullable=True, index=True),
    Column("rfc_message_id", String(998), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("from_address", String(320), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("other_address", Boolean, nullable=False, default=False),
    Column("detail", JSON, nullable=False),
    Column("source", String(20), nullable=False),  # imap | api
    Column("mailbox_id", Integer, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("message_id", "rfc_message_id"),
)

counters = Table(
    "counters",
    metadata,
    Column("recipient_id", BigInteger, primary_key=True, autoincrement=False),
    Column("message_id", BigInteger, nullable=False, index=True),
    *(
        Column(name, Integer, nullable=False, default=0)
        for name in (
            "opens_human",
            "opens_self",
            "opens_machine",
            "opens_scanner",
            "opens_other",
            "clicks_human",
            "clicks_self",
            "clicks_scanner",
            "clicks_other",
            "hits_human",
            "hits_self",
            "hits_machine_open",
            "hits_scanner",
            "hits_preview",
            "hits_unknown",
            "replies",
            "auto_replies",
            "bounces",
            "other_replies",
        )
    ),
    Column("first_open_at", UTCDateTime, nullable=True),
    Column("last_open_at", UTCDateTime, nullable=True),
    Column("first_click_at", UTCDateTime, nullable=True),
    Column("last_click_at", UTCDateTime, nullable=True),
    Column("first_reply_at", UTCDateTime, nullable=True),
)

link_counters = Table(
    "link_counters",
    metadata,
    Column("recipient_id", BigInteger, primary_key=True, autoincrement=False),
    Column("link", Integer, primary_key=True, autoincrement=False),
    Column("message_id", BigInteger, nullable=False, index=True),
    Column("clicks", Integer, nullable=False, default=0),
    Column("clicks_scanner", Integer, nullable=False, default=0),
)

# The outbox (docs/webhooks.md): one row per thing a person or a program is told, written in the
# transaction that made it true; webhooks, the live stream and notifications read it from a cursor.
events = Table(
    "events",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("key", String(80), nullable=False, unique=True),  # its cause: "hit:<id>", "reply:<id>"
    Column("kind", String(20), nullable=False),
    Column("workspace_id", Integer, nullable=False),
    Column("user_id", Integer, nullable=False),
    Column("message_id", BigInteger, nullable=False),
    Column("recipient_id", BigInteger, nullable=True),
    Column("at", UTCDateTime, nullable=False),
    Column("data", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_events_workspace_id_id", "workspace_id", "id"),
    Index("ix_events_user_id_id", "user_id", "id"),
    Index("ix_events_recipient_id_kind", "recipient_id", "kind"),  # what was told of a recipient
)

webhooks = Table(  # a workspace's webhook endpoints (docs/webhooks.md)
    "webhooks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("workspace_id", ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("url", Text, nullable=False),
    Column("kinds", JSON, nullable=False),  # the event kinds it receives; [] = every kind
    Column("secret", Text, nullable=False),  # whsec_..., encrypted with the credentials key
    Column("description", String(200), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("disabled_reason", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("after_event_id", BigInteger, nullable=False),  # the outbox cursor: events up to it are fanned out
    Column("failing_since", UTCDateTime, nullable=True),  # first failed attempt since the last success
)

webhook_deliveries = Table(  # one event for one endpoint: its attempts and outcome (the delivery log)
    "webhook_deliveries",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("webhook_id", ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False),
    Column("event_id", BigInteger, nullable=True),  # None for a test event
    Column("msg_id", String(40), nullable=False),  # webhook-id: evt_<event id> (test_<random>)
    Column("body", Text, nullable=False),  # the JSON sent, the same on every attempt (its "type" too)
    Column("state", String(10), nullable=False),  # pending | delivered | failed
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=True, index=True),  # None once delivered or failed
    Column("last_attempt_at", UTCDateTime, nullable=True),
    Column("last_status", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),  # fanned out; tried for 24 h from then
    UniqueConstraint("webhook_id", "event_id"),
    Index("ix_webhook_deliveries_webhook_id_id", "webhook_id", "id"),
)

mailboxes = Table(
    "mailboxes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("url", Text, nullable=False),  # imap(s)://user@host:port, without the password
    Column("password", Text, nullable=False),  # encrypted
    Column("folders", JSON, nullable=False),
    Column("state", String(20), nullable=False),  # new | connected | error | stopped
    Column("last_error", Text, nullable=True),
    Column("last_ok_at", UTCDateTime, nullable=True),
    Column("last_seen_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
)

provider_hooks = Table(  # an email provider's notifications in (docs/providers.md), one per workspace and provider
    "provider_hooks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("workspace_id", ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
    Column("provider", String(20), nullable=False),  # ses | sendgrid | mailgun | postmark
    Column("hook_hash", String(64), nullable=False, unique=True),  # sha256 of the webhook URL's secret part
    Column("config", Text, nullable=False),  # JSON of its keys and secrets, encrypted
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("workspace_id", "provider"),
)

mailbox_folders = Table(
    "mailbox_folders",
    metadata,
    Column("mailbox_id", ForeignKey("mailboxes.id", ondelete="CASCADE"), primary_key=True),
    Column("folder", String(500), primary_key=True),
    Column("uidvalidity", BigInteger, nullable=False),
    Column("last_uid", BigInteger, nullable=False),
)

leases = Table(
    "leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("owner", String(100), nullable=False),
    Column("until", UTCDateTime, nullable=False),
)
