"""A database that went away: one error for it, and retrying the writes that may be retried.

Every engine the ``Store`` opens turns a dropped or refused connection (PostgreSQL restarted,
a backend terminated, SQLite locked past its busy timeout) into ``DatabaseLost``, a
``StoreError`` naming the database, so the CLI reports it in a line rather than a traceback.
Pooled connections are pinged before use (``pool_pre_ping``), so a drop while idle never
shows; a drop under a statement does, and an idempotent write (recording a chunk's outcome,
claiming rows still ``planned``) is then tried again with ``retried``. Written here rather
than with tenacity: the loop is a few lines and the decision that matters, which errors are a
lost database, is SQLAlchemy's own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Engine, event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import DBAPIError

from ..errors import StoreError

log = logging.getLogger(__name__)
T = TypeVar("T")

ATTEMPTS = 6
"""Tries of a retried write: about 15 s of waiting in all, doubling from half a second."""
FIRST_WAIT = 0.5
MAX_WAIT = 8.0


class DatabaseLost(StoreError):
    """The database dropped or refused the connection (or stayed locked) during a statement."""


def _convert(context: ExceptionContext) -> BaseException | None:
    """The ``handle_error`` hook: a lost connection as ``DatabaseLost``; a failed pre-ping
    is left alone, since the pool then quietly opens a new connection."""
    if context.is_pre_ping:
        return None
    locked = "database is locked" in str(context.original_exception)  # SQLite, past busy_timeout
    if not (context.is_disconnect or context.connection is None or locked):
        return None  # a statement that failed, not the database
    engine = context.engine
    where = engine.url.render_as_string(hide_password=True) if engine else "the database"
    lines = str(context.original_exception).strip().splitlines()
    first = lines[0] if lines else type(context.original_exception).__name__
    return DatabaseLost(
        f"database connection lost or refused: {first}",
        subject=where,
        hint="is it running and accepting connections? a send stopped by this is carried on "
        "with digest send --resume once it is back",
    )


def in_doubt(lost: DatabaseLost, chunk: str, rows: int) -> DatabaseLost:
    """The error for a chunk sent whose outcome could not be written."""
    return DatabaseLost(
        f"could not record what became of chunk {chunk} ({rows} recipients, who may have "
        f"been sent the issue): {lost.message}",
        subject=lost.subject,
        hint="once the database is back, digest send --resume: they become unknown, for you "
        "to decide with digest send --resolve-unknown",
    )


def watch(engine: Engine) -> None:
    """Report lost connections of ``engine`` as ``DatabaseLost``."""
    event.listen(engine, "handle_error", _convert)


def is_lost(exc: BaseException) -> bool:
    """Whether ``exc`` is a lost database (converted or not) rather than a failed statement."""
    return isinstance(exc, DatabaseLost) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )


def retried(
    call: Callable[[], T],
    what: str,
    attempts: int = ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``call()``, tried again while the database is lost, up to ``attempts`` times.

    Only for writes that do the same thing done twice: the last error is raised when the
    database stays away.
    """
    for attempt in range(attempts):
        try:
            return call()
        except (DatabaseLost, DBAPIError) as exc:
            if not is_lost(exc) or attempt == attempts - 1:
                raise
            wait = min(FIRST_WAIT * 2**attempt, MAX_WAIT)
            log.warning("%s: %s; trying again in %.1f s", what, exc, wait)
            sleep(wait)
    raise AssertionError("unreachable")
