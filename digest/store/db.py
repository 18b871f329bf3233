"""Open the database, check its schema (``migrate``), and hand out the repositories."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, select
from sqlalchemy.exc import SQLAlchemyError

from ..errors import StoreError
from ..private_files import create_private
from . import migrate, outage, schema
from .desk import DeskRepo
from .events import EventRepo
from .headlines import HeadlineRepo
from .issues import IssueRepo
from .posts import PostRepo
from .runs import RunRepo
from .sources import SourceRepo
from .standing import StandingReads
from .subscribers import SubscriberRepo
from .suppressions import SuppressionRepo

WAL_WAIT = 30.0
"""Seconds to wait for another process turning a new SQLite file to WAL."""


def _to_wal(cur: sqlite3.Cursor) -> None:
    """Put the database in WAL mode, waiting while another process opening a new file at the
    same moment holds the lock that takes: SQLite answers "database is locked" at once there,
    without its busy timeout (a lock it cannot wait for without risking a deadlock)."""
    deadline = time.monotonic() + WAL_WAIT
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _sqlite_pragmas(dbapi_conn: object, _: object) -> None:
    cur = dbapi_conn.cursor()  # type: ignore[attr-defined]
    cur.execute("PRAGMA busy_timeout=30000")
    _to_wal(cur)
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
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


class Store:
    """The database behind digest; every write is a short transaction."""

    def __init__(self, url: str, *, check_schema: bool = True):
        """Open the database; with ``check_schema`` (all but ``digest db``) make sure its
        schema is current: created when empty, upgraded when SQLite, else refused."""
        self.url = url
        try:
            # a pooled connection the server dropped while idle is replaced, never used
            ping = not url.startswith("sqlite")
            self.engine: Engine = create_engine(url, future=True, pool_pre_ping=ping)
        except (SQLAlchemyError, ValueError) as exc:
            raise StoreError(f"cannot open database: {exc}", subject=url) from None
        outage.watch(self.engine)
        if self.engine.dialect.name == "sqlite":
            _create_owner_only(self.engine)
            event.listen(self.engine, "connect", _sqlite_pragmas)
        if check_schema:
            self._check()
        self.sources = SourceRepo(self.engine)
        self.posts = PostRepo(self.engine)
        self.subscribers = SubscriberRepo(self.engine)
        self.issues = IssueRepo(self.engine)
        self.runs = RunRepo(self.engine)
        self.headlines = HeadlineRepo(self.engine)
        self.suppressions = SuppressionRepo(self.engine)
        self.events = EventRepo(self.engine)
        self.desk = DeskRepo(self.engine)
        self.standing = StandingReads(self.engine, self.runs)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    @property
    def where(self) -> str:
        """The database for messages: its URL without a password."""
        return self.engine.url.render_as_string(hide_password=True)

    def schema_version(self) -> int:
        """The old ``meta`` table's version (3 under Alembic; 0 when absent)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(schema.meta.c.value).where(schema.meta.c.key == "schema_version")
            ).first()
        return int(row[0]) if row else 0

    def schema(self) -> migrate.SchemaState:
        """Where the schema stands against this digest's Alembic revisions."""
        try:
            with self.engine.connect() as conn:
                return migrate.state(conn)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot read database: {exc}", subject=self.where) from None

    def upgrade(self) -> tuple[migrate.SchemaState, migrate.SchemaState]:
        """Bring the schema to head (``digest db upgrade``): (before, after)."""
        try:
            with self.engine.begin() as conn:
                return migrate.upgrade(conn, self.where)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot upgrade database: {exc}", subject=self.where) from None

    def _check(self) -> None:
        try:
            with self.engine.connect() as conn:
                if migrate.state(conn).up_to_date:
                    return
            with self.engine.begin() as conn:
                migrate.check(conn, self.where)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot prepare database: {exc}", subject=self.where) from None

    def close(self) -> None:
        self.engine.dispose()
