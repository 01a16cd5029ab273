"""Alembic's environment: the URL comes from the config `acme db upgrade` builds, never from a file."""

from alembic import context
from sqlalchemy import create_engine

from app.store.models import Base

url = context.config.get_main_option("sqlalchemy.url")
assert url, "acme db upgrade sets sqlalchemy.url"
connectable = create_engine(url)
with connectable.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()
connectable.dispose()
