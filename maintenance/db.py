"""Engines, sessions and migrations (Alembic, run programmatically from the installed package)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).with_name("migrations")


def make_engine(url: str, **kwargs: Any) -> sa.Engine:
    """An engine; SQLite gets foreign keys on, WAL, a busy timeout and its parent directory created."""
    if url.startswith("sqlite"):
        db_path = sa.make_url(url).database
        if db_path and db_path != ":memory:":
            Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)

        wal = bool(db_path) and db_path != ":memory:"

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            if wal:  # readers (API, evaluation) do not block the event writer, nor it them
                cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

        return engine
    return sa.create_engine(url, pool_pre_ping=True, **kwargs)


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


#: Alembic's migration context is process-global: one migration at a time per process
_MIGRATE_LOCK = threading.Lock()


def migrate(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision`` (creates the tables on a fresh database).

    Safe to call from several threads and, on PostgreSQL, several processes at once (advisory lock).
    """
    with _MIGRATE_LOCK:
        command.upgrade(alembic_config(url), revision)


@dataclass
class Database:
    """The engine and session factory of one store, kept on ``AppContext.extras['db']``."""

    engine: sa.Engine
    sessions: sessionmaker[Session]

    @classmethod
    def open(cls, url: str, run_migrations: bool = True) -> Database:
        if run_migrations:
            migrate(url)
        engine = make_engine(url)
        return cls(engine, sessionmaker(engine, expire_on_commit=False))

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One session and transaction: committed when the block ends, rolled back on an exception."""
        with self.sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
