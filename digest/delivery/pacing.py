"""Rate caps and backoff shared by the sender and the backends, and the heap frozen for a send."""

from __future__ import annotations

import gc
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ..models import Envelope
from .options import Pacing


def backoff(
    attempt: int, base: float, cap: float, rng: Callable[[], float] = random.random
) -> float:
    """Exponential backoff with jitter: between half and all of ``base * 2**attempt``, capped."""
    ceiling: float = min(cap, base * (2.0**attempt))
    return ceiling * (0.5 + rng() / 2)


class RateLimiter:
    """Spaces out work so that no more than ``per_second`` units start per second on average."""

    def __init__(
        self,
        per_second: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.per_second = per_second
        self.clock = clock
        self.sleep = sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def acquire(self, units: int = 1) -> float:
        """Wait until ``units`` may start; returns how long it waited."""
        if self.per_second <= 0:
            return 0.0
        with self._lock:
            now = self.clock()
            start = max(now, self._next)
            self._next = start + units / self.per_second
        wait = start - now
        if wait > 0:
            self.sleep(wait)
        return wait


class PacedBackend:
    """What the sender reads of a backend's pacing, taken from its ``[delivery.*]`` options."""

    def __init__(self, pacing: Pacing, batch_size: int):
        self.max_batch = batch_size
        self.workers = pacing.workers
        self.max_per_second = pacing.max_per_second
        self.retry_rounds = pacing.retry_rounds
        self.retry_wait = pacing.backoff

    def destination(self, envelope: Envelope) -> str | None:
        """None: the provider or relay does not say where messages end up."""
        return None


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Keep the garbage collector off the objects that exist before a send, for its length.

    A send allocates a few dicts per recipient; each full collection would walk the whole
    heap (templates, SQLAlchemy, numpy...) again, which doubled the time to build a request.
    Frozen objects are only exempt from collection, not from freeing, and thaw at the end.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
