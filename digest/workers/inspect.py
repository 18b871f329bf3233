"""Which ``digest worker`` processes are alive, through Celery's remote control (inspect).

One ``ping`` broadcast waits the whole timeout for replies; the workers that answered are then
asked what they consume and run, with the reply count known, so those calls end early.
Only workers consuming this deployment's queue are reported (a vhost may hold others).
"""

from __future__ import annotations

from typing import Any

from ..config import Settings
from ..ops.status import WorkerView
from .app import make_app


def alive(settings: Settings, timeout: float) -> list[WorkerView]:
    """The workers that answer a ping within ``timeout`` seconds and consume our queue."""
    app = make_app(settings)
    try:
        pings: dict[str, Any] = app.control.inspect(timeout=timeout).ping() or {}
        names = sorted(pings)
        if not names:
            return []
        ask = app.control.inspect(destination=names, timeout=timeout, limit=len(names))
        queues: dict[str, Any] = ask.active_queues() or {}
        active: dict[str, Any] = ask.active() or {}
        stats: dict[str, Any] = ask.stats() or {}
    finally:
        app.close()
    found = []
    for name in names:
        consumed = tuple(sorted(q.get("name", "") for q in queues.get(name) or ()))
        if settings.workers.queue not in consumed:
            continue
        pool = (stats.get(name) or {}).get("pool") or {}
        size = pool.get("max-concurrency")
        running = len(active.get(name) or ())
        found.append(WorkerView(name, consumed, running, size if isinstance(size, int) else None))
    return found
