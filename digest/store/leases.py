"""Ledger chunk leases: who holds a chunk of recipients in hand, and until when.

``LedgerRepo.claim`` writes a chunk's lease in the transaction that takes its rows; a worker
that sends for longer than its lease renews it here. ``LedgerRepo.interrupted`` counts only
the rows of chunks without a live lease, so a send resumed on one host never marks as
interrupted what a live worker on another host is still sending.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import Engine, select

from .schema import chunk_leases


class ChunkLeaseRepo:
    """Reads and renews ``chunk_leases``; mixed into the issue repository."""

    engine: Engine

    def renew_chunk(self, chunk: str, owner: str, until: datetime) -> bool:
        """Extend a chunk's lease; False when the chunk is not (or no longer) ``owner``'s."""
        with self.engine.begin() as conn:
            n = conn.execute(
                chunk_leases.update()
                .where(chunk_leases.c.chunk == chunk, chunk_leases.c.owner == owner)
                .values(lease_until=until)
            ).rowcount
        return bool(n)

    def chunk_lease(self, chunk: str) -> tuple[str, datetime | None] | None:
        """Who holds the chunk and until when, or None for a chunk never claimed."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(chunk_leases.c.owner, chunk_leases.c.lease_until).where(
                    chunk_leases.c.chunk == chunk
                )
            ).first()
        return (str(row[0]), row[1]) if row else None


@contextmanager
def renewed(every: float, renew: Callable[[], bool], name: str) -> Iterator[None]:
    """Call ``renew`` every ``every`` seconds in a thread of its own for the block, until it
    returns False (the lease is someone else's now); the thread ends with the block."""
    done = threading.Event()

    def loop() -> None:
        while not done.wait(every):
            if not renew():
                return

    thread = threading.Thread(target=loop, name=name, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
