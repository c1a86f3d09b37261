"""The store suite runs every test on SQLite and on PostgreSQL.

PostgreSQL is the one ``DOCKYARD_TEST_POSTGRES_URL`` names (``scripts/test`` sets it); without it the
suite starts the project's private test server itself with ``scripts/postgres``, as scripts/test does.
Each test drops and recreates the schema, so each pytest-xdist worker gets a database of its own on that
server (``<database>_<worker>``, e.g. ``dockyard_test_gw1``, created once); without xdist the URL's own.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from dockyard.store.database import Database, open_database

POSTGRES_URL_ENV = "DOCKYARD_TEST_POSTGRES_URL"
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "postgres"


def _server_url() -> str:
    url = os.environ.get(POSTGRES_URL_ENV)
    if url:
        return url
    started = subprocess.run([str(SCRIPT)], capture_output=True, text=True, timeout=300, check=False)
    if started.returncode != 0 or not started.stdout.strip():
        pytest.fail(
            f"{POSTGRES_URL_ENV} is not set and {SCRIPT} could not start PostgreSQL:\n{started.stderr}"
        )
    return started.stdout.strip()


def _worker_database(url: str, worker: str) -> str:
    """The URL of this worker's own database on the server ``url`` points at, created if missing."""
    base = make_url(url)
    name = f"{base.database}_{worker}"
    engine = create_engine(base, isolation_level="AUTOCOMMIT")  # CREATE DATABASE refuses a transaction
    try:
        with engine.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
            if exists is None:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    url = _server_url()
    worker = os.environ.get("PYTEST_XDIST_WORKER")  # gw0, gw1, … on an xdist worker; unset without xdist
    return _worker_database(url, worker) if worker else url


def _reset_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    url: str = request.getfixturevalue("postgres_url")
    _reset_postgres(url)
    return url


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = open_database(database_url)
    yield database
    database.close()
