"""Schema migrations (Alembic), run programmatically on an engine."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).with_name("migrations")


def _config(connection: object) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: Engine) -> list[str]:
    """Bring the schema to the newest revision. Returns the revisions applied (oldest first)."""
    with engine.begin() as conn:
        before = MigrationContext.configure(conn).get_current_revision()
        command.upgrade(_config(conn), "head")
        after = MigrationContext.configure(conn).get_current_revision()
    if before == after:
        return []
    script = ScriptDirectory.from_config(_config(None))
    revs = [r.revision for r in script.iterate_revisions(after, before)]
    return list(reversed(revs))


def current(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head() -> str | None:
    return ScriptDirectory.from_config(_config(None)).get_current_head()
