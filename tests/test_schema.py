"""The migrated database is the declared schema: `alembic upgrade head` == store/schema.py.

The migrations and the SQLAlchemy tables repeat each other; Alembic's autogenerate comparison
(the one `alembic revision --autogenerate` uses) finds any table, column, type, nullability,
index or unique constraint on which they differ. Run on both databases.
"""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from mailbeacon.store import open_store
from mailbeacon.store.migrate import current, head
from mailbeacon.store.schema import metadata


def test_the_migrated_database_equals_the_declared_schema(database_url: str) -> None:
    store = open_store(database_url)  # the fixture's database was made by `alembic upgrade head`
    try:
        assert current(store.engine) == head()
        with store.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": False})
            diff: list[Any] = compare_metadata(context, metadata)
    finally:
        store.close()
    assert diff == []
