"""A fault hook for the fault tests: SIGKILL this worker at a chosen point of a chosen chunk.

``DIGEST_WORKER_FAULT="POINT:N[:SCOPE[:MARKER]]"`` kills at POINT of the Nth chunk this
process sends: ``claimed`` (rows submitted, request not yet made), ``posted`` (the backend
accepted the request, outcome not yet recorded) or ``recorded`` (outcome recorded, message not
yet acknowledged). SCOPE ``worker`` (default) kills the whole worker, ``child`` only the pool
process running the task. With MARKER, a file path, the fault fires once: the first process to
create the file. Unset in production, where it does nothing.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Sequence
from dataclasses import dataclass

from ..delivery.base import DeliveryBackend
from ..models import DeliveryResult, Envelope, Recipient

FAULT_ENV = "DIGEST_WORKER_FAULT"
POINTS = ("claimed", "posted", "recorded")


@dataclass(frozen=True, slots=True)
class Fault:
    """Where to kill: a point of the Nth chunk, the whole worker or its pool process."""

    point: str
    chunk: int
    scope: str = "worker"
    marker: str = ""

    @classmethod
    def from_env(cls) -> Fault | None:
        spec = os.environ.get(FAULT_ENV, "")
        if not spec:
            return None
        point, n, *rest = spec.split(":", 3)
        if point not in POINTS:
            raise ValueError(f"{FAULT_ENV}: unknown point {point!r}; expected one of {POINTS}")
        scope = rest[0] if rest else "worker"
        return cls(point, int(n), scope, rest[1] if len(rest) > 1 else "")

    def fire(self) -> None:
        """SIGKILL now (once per marker file)."""
        if self.marker:
            try:
                os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                return
        if self.scope == "worker" and os.getppid() != 1:
            os.kill(os.getppid(), signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)


class Faults:
    """Counts this process's chunks and fires the configured fault at its point."""

    def __init__(self, fault: Fault | None):
        self.fault = fault
        self.chunks = 0

    def start_chunk(self) -> None:
        self.chunks += 1

    def at(self, point: str) -> None:
        if self.fault and self.fault.point == point and self.fault.chunk == self.chunks:
            self.fault.fire()


class FaultyBackend:
    """Wraps a backend to fire ``claimed`` before and ``posted`` after its requests."""

    def __init__(self, inner: DeliveryBackend, faults: Faults):
        self.inner = inner
        self.faults = faults
        self.name = inner.name
        self.max_batch = inner.max_batch
        self.idempotent = inner.idempotent

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def deliver(self, envelope: Envelope, recipients: Sequence[Recipient]) -> list[DeliveryResult]:
        self.faults.at("claimed")
        results = self.inner.deliver(envelope, recipients)
        self.faults.at("posted")
        return results

    def close(self) -> None:
        self.inner.close()
