"""Alembic environment: runs on the connection mailbeacon hands over (see store/migrate.py)."""

from alembic import context

from mailbeacon.store.schema import metadata

config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
