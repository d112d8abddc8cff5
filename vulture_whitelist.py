# Names the unused-code check (vulture, run by `make test`) must not report. Each one is used, but
# by something vulture cannot see; keep the list short. Anything else it reports is dead: remove it.
# Configured in pyproject.toml [tool.vulture]: besides these names it ignores Typer commands
# (`@*.command`, `@*.callback`), the `s_<signal>` methods of classify/evidence.py (looked up by
# name) and the Alembic revision files (loaded from their directory).
# ruff: noqa

__getattr__  # mailbeacon/__init__.py: the lazy `mailbeacon.instrument` (PEP 562)
settings_markdown  # config.py: generates docs/configuration.md (tests/test_config.py checks it)
commands_markdown  # cli/reference.py: generates docs/cli.md (tests/test_cli.py checks it)
_.handle_MAIL  # smtp/session.py: aiosmtpd calls handle_<VERB> and auth_<MECHANISM> by name
_.handle_RCPT
_.handle_RSET
_.handle_DATA
_.auth_PLAIN
_.auth_LOGIN
_.line_length_limit  # smtp/session.py: read by aiosmtpd's SMTP
_.opens_scanner  # stats.py: Counts fields, read through INT_FIELDS / getattr, stored as columns
_.opens_other
_.clicks_other
_.other_replies
_.impl  # store/schema.py: an SQLAlchemy TypeDecorator, read by SQLAlchemy
_.cache_ok
_.process_bind_param
_.capture_signals  # web/server.py: a uvicorn.Server hook
_.should_exit  # web/server.py: uvicorn.Server's stop flag
_.isolation_level  # store/base.py: sqlite3 connection attribute
_.key_id  # tokens.py: TokenClaims, what a verified token says (which key signed it)
_.has_buffered  # journal.py: tests/test_journal_faults.py waits on it (lines a full disk refused are kept)
_.model_config  # web/rest/models.py: pydantic reads the models' config and fields (the API's JSON)
_.last_id  # web/rest/events.py: EventPageOut, a field of the JSON page
_.unique_opens
_.unique_clicks
_.unique_replies
_.next_cursor
_.tracking_off
_.recipient_numbers
_.from_
_.keep_days  # web/rest/own_pixels.py: a field of the answer (pydantic), read by the browser extension
_.filtered  # web/dashboard/pages.py: SentQuery.filtered, read by templates/sent.html
_.topic_arns  # web/rest/providers.py: ProviderIn, read by model_dump (the provider's settings)
