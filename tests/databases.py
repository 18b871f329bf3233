"""Which database the tests' stores live in: one switch, ``DIGEST_TEST_DATABASE_URL``.

Unset, every test's store is an SQLite file in its temporary folder. Set to a PostgreSQL URL
(e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``), every test that opens a
store gets a fresh database of its own on that server (``CREATE DATABASE digest_t_…``),
dropped at teardown; each xdist worker names its databases apart. ``postgres_url`` is for
the tests that need PostgreSQL whatever the switch says: they skip with a one-line reason
when it does not answer, and fail under ``CI=true``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.exc import SQLAlchemyError

SWITCH = "DIGEST_TEST_DATABASE_URL"
LOCAL_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PREFIX = "digest_t_"


def switched() -> str | None:
    """The server the suite runs on, or None for SQLite."""
    return os.environ.get(SWITCH) or None


def on_postgres() -> bool:
    return (switched() or "").startswith("postgresql")


class Databases:
    """Creates and drops the databases of one test session (one xdist worker)."""

    def __init__(self, server: str):
        self.server = make_url(server)
        self.admin: Engine = create_engine(self.server, isolation_level="AUTOCOMMIT")
        self.session = secrets.token_hex(3)
        self.made: list[str] = []

    def create(self) -> str:
        """A new empty database on the server; returns its URL."""
        name = f"{PREFIX}{self.session}_{len(self.made)}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        self.made.append(name)
        return self.server.set(database=name).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        name = make_url(url).database
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if name in self.made:
            self.made.remove(name)

    def close(self) -> None:
        for name in list(self.made):
            self.drop(self.server.set(database=name).render_as_string(hide_password=False))
        self.admin.dispose()


def reachable(url: str) -> str | None:
    """None when the server answers, else why not (one line)."""
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
    except (SQLAlchemyError, ImportError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"PostgreSQL at {make_url(url).render_as_string()} does not answer: {first}"
    return None


def skip_or_fail(reason: str) -> None:
    """Skip, or fail under ``CI=true`` where every service runs."""
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def _switched_databases() -> Iterator[Databases | None]:
    server = switched()
    if server is None:
        yield None
        return
    why = reachable(server)
    if why:
        pytest.exit(f"{SWITCH} is set but {why}", returncode=2)
    made = Databases(server)
    yield made
    made.close()


@pytest.fixture(scope="session")
def _postgres_databases() -> Iterator[Databases | str]:
    """Databases on the switched server, or on the local one; a reason when it is absent."""
    server = switched() if on_postgres() else os.environ.get("DIGEST_TEST_POSTGRES_URL")
    server = server or LOCAL_POSTGRES
    why = reachable(server)
    if why:
        yield why
        return
    made = Databases(server)
    yield made
    made.close()


@pytest.fixture
def database_url(tmp_path: Path, _switched_databases: Databases | None) -> Iterator[str]:
    """The URL of this test's own fresh store: SQLite in ``tmp_path``, or a new PG database."""
    if _switched_databases is None:
        yield f"sqlite:///{tmp_path / 'digest.db'}"
        return
    url = _switched_databases.create()
    yield url
    _switched_databases.drop(url)


@pytest.fixture
def new_database(
    _switched_databases: Databases | None, tmp_path: Path
) -> Iterator[Callable[[], str]]:
    """More fresh stores for one test (a second project, a second host)."""
    made: list[str] = []

    def create() -> str:
        if _switched_databases is None:
            url = f"sqlite:///{tmp_path / f'digest-{len(made)}.db'}"
        else:
            url = _switched_databases.create()
        made.append(url)
        return url

    yield create
    if _switched_databases is not None:
        for url in made:
            _switched_databases.drop(url)


@pytest.fixture
def postgres_url(_postgres_databases: Databases | str) -> Iterator[str]:
    """A fresh PostgreSQL database whatever the switch says (for PostgreSQL-only tests)."""
    if isinstance(_postgres_databases, str):
        skip_or_fail(_postgres_databases)
        return
    url = _postgres_databases.create()
    yield url
    _postgres_databases.drop(url)


def project_url(project: Path) -> str:
    """The ``[database] url`` a project's config resolves to."""
    from digest.config.load import load_settings

    return load_settings(project / "config.toml").database.url


def dump(url: str) -> list[str]:
    """Every row of every table of the store, in a stable order, to compare before and after."""
    from sqlalchemy import select

    from digest.store.schema import metadata

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            # sorted here, not by ORDER BY: PostgreSQL cannot order a json column
            return [
                line
                for table in metadata.sorted_tables
                for line in sorted(
                    f"{table.name}: {tuple(row)!r}" for row in conn.execute(select(table))
                )
            ]
    finally:
        engine.dispose()


if __name__ == "__main__":  # `python -m tests.databases URL`: exit 0 when PostgreSQL answers
    import sys

    problem = reachable(sys.argv[1] if len(sys.argv) > 1 else LOCAL_POSTGRES)
    if problem:
        print(problem, file=sys.stderr)
    sys.exit(1 if problem else 0)
