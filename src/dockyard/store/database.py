"""The database: one engine, migrations applied at open, and short transactions.

SQLite is the embedded default: WAL journal, ``synchronous=FULL`` (an answered write survives a crash of
the process or the machine), foreign keys on, and a busy timeout so concurrent writers queue instead of
failing. Write transactions start with ``BEGIN IMMEDIATE`` so two writers never deadlock on a lock
upgrade. PostgreSQL runs the same code through ``postgresql+psycopg://`` URLs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_S = 30


class Database:
    """An opened, migrated database. Use :meth:`read` and :meth:`write` for transactions."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        self.generation = 0
        """Changes after every write transaction of this process ends (caches compare it)."""

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction: a consistent snapshot for its duration (SQLite's WAL read transaction;
        REPEATABLE READ on PostgreSQL, whose default READ COMMITTED would give each statement its own)."""
        with self.engine.connect() as plain:
            conn = plain if self.is_sqlite else plain.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction, committed when the block exits normally, rolled back otherwise."""
        try:
            with self.engine.connect() as plain:
                conn = plain.execution_options(dockyard_write=True)
                with conn.begin():
                    yield conn
        finally:
            # After the commit: a reader that saw the old data read the old generation first.
            self.generation += 1

    def close(self) -> None:
        self.engine.dispose()


def open_database(url: str, *, migrate: bool = True) -> Database:
    """Connect to ``url`` (creating a SQLite file's directory) and bring its schema up to date."""
    engine = _create_engine(url)
    if migrate:
        upgrade_schema(engine)
    return Database(engine)


def upgrade_schema(engine: Engine) -> None:
    """Apply every Alembic migration not yet applied; a no-op on an up-to-date database."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


def _create_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False}, pool_size=8, max_overflow=16)
    event.listen(engine, "connect", _configure_sqlite_connection)
    event.listen(engine, "begin", _begin_sqlite_transaction)
    return engine


def _configure_sqlite_connection(dbapi_connection: Any, _record: object) -> None:
    # Take transaction control away from the sqlite3 module: it would otherwise defer BEGIN until the
    # first write and make "BEGIN IMMEDIATE" impossible.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
    cursor.close()


def _begin_sqlite_transaction(conn: Connection) -> None:
    write = conn.get_execution_options().get("dockyard_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
