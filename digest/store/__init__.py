"""The store: SQLAlchemy Core over SQLite by default, any SQLAlchemy URL in principle."""

from .db import Store

__all__ = ["Store"]
