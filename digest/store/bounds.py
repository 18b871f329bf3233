"""Fit untrusted text into the store's bounded columns, the same way on every database.

SQLite ignores a ``VARCHAR``'s length; PostgreSQL refuses the whole statement, and its btree
indexes refuse an entry over about 2,700 bytes. So the store bounds what feeds hand it in
UTF-8 bytes: a value is cut at a character boundary, and a key (guid, URL key) too long is
cut and given a hash of the whole, so two long keys never merge.
"""

from __future__ import annotations

import hashlib


def fit(value: str | None, most: int) -> str | None:
    """``value`` cut to at most ``most`` UTF-8 bytes (at a character boundary)."""
    if value is None:
        return None
    raw = value.encode("utf-8")
    if len(raw) <= most:
        return value
    return raw[:most].decode("utf-8", errors="ignore")


def fit_key(value: str, most: int) -> str:
    """A key of at most ``most`` UTF-8 bytes: itself, or a prefix and the whole's SHA-256."""
    if len(value.encode("utf-8")) <= most:
        return value
    digest = "#sha256:" + hashlib.sha256(value.encode("utf-8")).hexdigest()
    return (fit(value, most - len(digest)) or "") + digest
