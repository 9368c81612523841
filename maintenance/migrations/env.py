"""Alembic environment: works from the installed package (the URL comes from the Config, not an .ini)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from maintenance.db import make_engine
from maintenance.models import Base

config = context.config
target_metadata = Base.metadata
MIGRATION_LOCK = 0x6661_6369  # "faci": the PostgreSQL advisory lock held while migrating


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url, "set sqlalchemy.url on the alembic Config (maintenance.db.alembic_config does)"
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=connection.dialect.name == "sqlite",
            )
            with context.begin_transaction():
                if connection.dialect.name == "postgresql":
                    # processes starting together (API, service) migrate one after the other
                    connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
