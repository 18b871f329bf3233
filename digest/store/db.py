"""Open the database, create or migrate its schema, and hand out the repositories."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, inspect, select, text
from sqlalchemy.exc import SQLAlchemyError

from ..errors import StoreError
from ..private_files import create_private
from . import schema
from .desk import DeskRepo
from .events import EventRepo
from .issues import IssueRepo
from .posts import PostRepo
from .runs import RunRepo
from .sources import SourceRepo
from .subscribers import SubscriberRepo
from .suppressions import SuppressionRepo


def _sqlite_pragmas(dbapi_conn: object, _: object) -> None:
    cur = dbapi_conn.cursor()  # type: ignore[attr-defined]
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _create_owner_only(engine: Engine) -> None:
    """Create a new SQLite file 0600: it holds every address and token. SQLite gives its
    -wal and -shm files the database file's mode."""
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if path.parent.is_dir():
        try:
            create_private(path)
        except OSError as exc:
            raise StoreError(f"cannot create database: {exc.strerror}", subject=str(path)) from None


def _add_columns(conn: Connection) -> None:
    """Add the nullable columns an older database lacks (a new column needs no version bump)."""
    inspector = inspect(conn)
    for table in schema.metadata.sorted_tables:
        have = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in have and column.nullable and column.server_default is None:
                kind = column.type.compile(dialect=conn.dialect)
                conn.execute(text(f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}'))


class Store:
    """The database behind digest; every write is a short transaction."""

    def __init__(self, url: str):
        self.url = url
        try:
            self.engine: Engine = create_engine(url, future=True)
        except (SQLAlchemyError, ValueError) as exc:
            raise StoreError(f"cannot open database: {exc}", subject=url) from None
        if self.engine.dialect.name == "sqlite":
            _create_owner_only(self.engine)
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._migrate()
        self.sources = SourceRepo(self.engine)
        self.posts = PostRepo(self.engine)
        self.subscribers = SubscriberRepo(self.engine)
        self.issues = IssueRepo(self.engine)
        self.runs = RunRepo(self.engine)
        self.suppressions = SuppressionRepo(self.engine)
        self.events = EventRepo(self.engine)
        self.desk = DeskRepo(self.engine)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    def schema_version(self) -> int:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(schema.meta.c.value).where(schema.meta.c.key == "schema_version")
            ).first()
        return int(row[0]) if row else 0

    def _migrate(self) -> None:
        try:
            has_meta = inspect(self.engine).has_table("meta")
            if has_meta:
                version = self.schema_version()
                if version > schema.SCHEMA_VERSION:
                    raise StoreError(
                        f"database schema version {version} is newer than this digest "
                        f"({schema.SCHEMA_VERSION})",
                        subject=self.url,
                        hint="upgrade digest, or point [database] url at another database",
                    )
            with self.engine.begin() as conn:
                # New tables of the same schema version are created in place; a change to
                # an existing table bumps SCHEMA_VERSION and gets a migration step here.
                schema.metadata.create_all(conn)
                _add_columns(conn)
                conn.execute(schema.meta.delete().where(schema.meta.c.key == "schema_version"))
                conn.execute(
                    schema.meta.insert().values(
                        key="schema_version", value=str(schema.SCHEMA_VERSION)
                    )
                )
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot prepare database: {exc}", subject=self.url) from None

    def close(self) -> None:
        self.engine.dispose()
