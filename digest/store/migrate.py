"""The store's schema under Alembic: which revision a database is at, and bringing it to head.

Three kinds of database are recognised: an empty one (created at head: ``create_all`` and a
stamp), one under Alembic (upgraded revision by revision), and one from before Alembic, whose
``meta`` table says version 1 or 2 (its missing columns of revision 0001 are added, it is
stamped 0001, then upgraded).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, inspect, select, text

from ..errors import SchemaOutdatedError, StoreError
from . import schema

MIGRATIONS = Path(__file__).with_name("migrations")
BASE = "0001"
"""The revision of the schema the old ``meta`` version 2 describes."""
LEGACY_VERSIONS = (1, 2)
"""``meta.schema_version`` values from before Alembic that an upgrade takes over."""
_LOCK = 0x6469_6765_7374
"""PostgreSQL advisory lock key held while the schema changes (two hosts upgrading at once)."""
UPGRADE_HINT = "run `digest db upgrade` (with this config) before starting this version"

logging.getLogger("alembic").setLevel(logging.WARNING)  # the CLI reports what it did


@dataclass(frozen=True, slots=True)
class SchemaState:
    """Where a database's schema stands against this digest's revisions."""

    current: str | None
    """The Alembic revision, or None when the database is not under Alembic."""
    head: str
    legacy: int | None = None
    """``meta.schema_version`` of a database from before Alembic."""
    empty: bool = False

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head

    @property
    def known(self) -> bool:
        """False when the database is newer than this digest (a revision it does not have)."""
        if self.current is not None:
            return _has(self.current)
        return self.legacy is None or self.legacy in LEGACY_VERSIONS

    def describe(self) -> str:
        """One line for ``digest db current``."""
        if self.up_to_date:
            return f"{self.current} (head)"
        if self.empty:
            return f"empty database (head is {self.head})"
        if not self.known:
            at = self.current or f"meta version {self.legacy}"
            return f"{at}: newer than this digest (head is {self.head})"
        at = self.current or f"meta version {self.legacy} (from before Alembic)"
        return f"{at}; head is {self.head}: run `digest db upgrade`"


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory(str(MIGRATIONS))


def _has(revision: str) -> bool:
    return revision in {s.revision for s in _scripts().walk_revisions()}


def head() -> str:
    """The newest revision this digest knows."""
    found = _scripts().get_current_head()
    assert found is not None
    return found


def state(conn: Connection) -> SchemaState:
    """Read where the connection's database stands (no writes)."""
    tables = set(inspect(conn).get_table_names())
    current = MigrationContext.configure(conn).get_current_revision()
    legacy = None
    if current is None and "meta" in tables:
        row = conn.execute(
            select(schema.meta.c.value).where(schema.meta.c.key == "schema_version")
        ).first()
        legacy = int(row[0]) if row else None
    empty = not (tables & set(schema.metadata.tables))
    return SchemaState(current, head(), legacy, empty and current is None)


def check(conn: Connection, where: str, upgrade_sqlite: bool = True) -> SchemaState:
    """Make the schema current where that is safe, else refuse with the command to run.

    An empty database is created at head. SQLite (embedded, one host) upgrades itself; any
    other database is upgraded only by ``digest db upgrade``, run once by the operator before
    the new version starts on every host.
    """
    found = state(conn)
    if found.up_to_date:
        return found
    if not found.known:
        raise StoreError(
            f"database schema ({found.describe()}) is newer than this digest",
            subject=where,
            hint="upgrade digest, or point [database] url at another database",
        )
    if found.empty or (upgrade_sqlite and conn.dialect.name == "sqlite"):
        return upgrade(conn, where)[1]
    raise SchemaOutdatedError(
        f"database schema is out of date: {found.describe()}", subject=where, hint=UPGRADE_HINT
    )


def upgrade(conn: Connection, where: str) -> tuple[SchemaState, SchemaState]:
    """Bring the schema to head inside the connection's transaction: (before, after)."""
    with _locked(conn):
        before = state(conn)
        if not before.known:
            raise StoreError(
                f"database schema ({before.describe()}) is newer than this digest", subject=where
            )
        cfg = alembic_config(conn)
        if before.empty:
            schema.metadata.create_all(conn)
            command.stamp(cfg, "head")
        elif not before.up_to_date:
            if before.current is None:
                _take_over_legacy(conn)
                command.stamp(cfg, BASE)
            command.upgrade(cfg, "head")
        conn.execute(schema.meta.delete().where(schema.meta.c.key == "schema_version"))
        conn.execute(
            schema.meta.insert().values(key="schema_version", value=str(schema.SCHEMA_VERSION))
        )
        return before, state(conn)


def alembic_config(conn: Connection) -> Config:
    """Alembic's configuration for running the revisions on ``conn`` (see ``env.py``)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    return cfg


@contextmanager
def _locked(conn: Connection) -> Iterator[None]:
    """Serialise schema changes between processes and hosts (PostgreSQL: advisory lock;
    SQLite: its write lock, taken before the schema is read, so that of two processes
    opening a new database at once the second waits and then finds it made, instead of
    failing on "table ... already exists")."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK})
    elif conn.dialect.name == "sqlite" and not _in_transaction(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    yield


def _in_transaction(conn: Connection) -> bool:
    """Whether the DB-API connection has begun a transaction (sqlite3 begins one lazily)."""
    return bool(getattr(conn.connection.dbapi_connection, "in_transaction", False))


@cache
def _base_columns() -> dict[str, frozenset[str]]:
    """The tables and columns of revision 0001, read off a scratch in-memory database."""
    engine = create_engine("sqlite://")
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), BASE)
        inspector = inspect(conn)
        found = {
            t: frozenset(c["name"] for c in inspector.get_columns(t))
            for t in inspector.get_table_names()
            if t != "alembic_version"
        }
    engine.dispose()
    return found


def _take_over_legacy(conn: Connection) -> None:
    """Give a database from before Alembic the tables and nullable columns of 0001 it lacks
    (the old scheme added nullable columns without a version bump)."""
    base = _base_columns()
    tables = [t for t in schema.metadata.sorted_tables if t.name in base]
    schema.metadata.create_all(conn, tables=tables)
    inspector = inspect(conn)
    for table in tables:
        have = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in base[table.name] and column.name not in have:
                if not column.nullable or column.server_default is not None:
                    raise StoreError(
                        f"column {table.name}.{column.name} is missing and cannot be added",
                        subject="database",
                    )
                kind = column.type.compile(dialect=conn.dialect)
                conn.execute(text(f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}'))
