"""Live reload: watch templates and post folders, and tell open desk pages over SSE.

One watcher thread (``watchfiles``) runs while at least one page listens. A change under the
templates folder drops the cached renderer; a change under a directory source's folder
collects that source again. Then every listener gets a ``change`` event and reloads its
previews. Listeners first get ``ready`` once the watcher is actually watching.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path

from watchfiles import watch

log = logging.getLogger(__name__)
KEEPALIVE_SECONDS = 15.0
MAX_KEEPALIVES = 40
"""A stream ends after this many idle keep-alives; the browser reconnects on its own."""
OnChange = Callable[[set[str]], None]
"""Called on the watcher thread with the names of the watched folders that changed."""


class LiveHub:
    """Fans watched-folder changes out to the desk pages listening for them."""

    def __init__(self, folders: Mapping[str, Path], on_change: OnChange):
        self.folders = {name: path.resolve() for name, path in folders.items()}
        self.on_change = on_change
        self._lock = threading.Lock()
        self._listeners: dict[asyncio.Queue[str], asyncio.AbstractEventLoop] = {}
        self._stop: threading.Event | None = None
        self._ready = False

    def subscribe(self) -> asyncio.Queue[str]:
        queue: asyncio.Queue[str] = asyncio.Queue()
        with self._lock:
            self._listeners[queue] = asyncio.get_running_loop()
            if self._ready:
                queue.put_nowait(_event("ready", {}))
            if self._stop is None:
                self._start()
        return queue

    def unsubscribe(self, queue: asyncio.Queue[str]) -> None:
        with self._lock:
            self._listeners.pop(queue, None)
            if not self._listeners and self._stop is not None:
                self._stop.set()
                self._stop = None
                self._ready = False

    def _start(self) -> None:
        paths = [p for p in self.folders.values() if p.is_dir()]
        stop = threading.Event()
        self._stop = stop
        thread = threading.Thread(
            target=self._watch, args=(paths, stop), name="desk-live-reload", daemon=True
        )
        thread.start()

    def _watch(self, paths: list[Path], stop: threading.Event) -> None:
        if not paths:
            self._broadcast("ready", {}, stop)
            return
        try:
            for changes in watch(
                *paths,
                stop_event=stop,
                debounce=200,
                rust_timeout=300,
                yield_on_timeout=True,
                raise_interrupt=False,
            ):
                if not self._ready:
                    self._broadcast("ready", {}, stop)
                if changes:
                    self._changed({Path(p) for _, p in changes}, stop)
        except Exception:  # a broken watcher must not take the server down
            log.exception("live reload stopped")

    def _changed(self, paths: set[Path], stop: threading.Event) -> None:
        names = {
            name
            for name, folder in self.folders.items()
            for path in paths
            if path == folder or folder in path.parents
        }
        try:
            self.on_change(names)
        except Exception:
            log.exception("live reload: refreshing after %s failed", ", ".join(sorted(names)))
        log.info("desk: %s changed; reloading previews", ", ".join(sorted(names)) or "a file")
        self._broadcast("change", {"folders": sorted(names)}, stop)

    def _broadcast(self, kind: str, data: dict[str, object], stop: threading.Event) -> None:
        message = _event(kind, data)
        with self._lock:
            if stop.is_set():
                return
            if kind == "ready":
                self._ready = True
            for queue, loop in self._listeners.items():
                loop.call_soon_threadsafe(queue.put_nowait, message)

    async def stream(self) -> AsyncIterator[str]:
        """The SSE body for one page: retry hint, ready, then change events and keep-alives."""
        queue = self.subscribe()
        try:
            yield "retry: 2000\n\n"
            idle = 0
            while idle < MAX_KEEPALIVES:
                try:
                    message = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    idle += 1
                    yield ": keep-alive\n\n"
                    continue
                idle = 0
                yield message
        finally:
            self.unsubscribe(queue)


def _event(kind: str, data: dict[str, object]) -> str:
    return f"event: {kind}\ndata: {json.dumps(data)}\n\n"
