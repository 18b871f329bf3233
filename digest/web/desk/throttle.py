"""Failed desk logins, counted per client address and overall, in this process's memory.

After ``per_client`` failures from one address (an IPv6 address counts as its /64) within
``window`` seconds, that address gets 429 until its oldest failure leaves the window; after
``overall`` failures from all addresses together, every login does. A success clears the
address's count. ``digest serve`` is one process, so memory is enough; a restart forgets.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import deque
from collections.abc import Callable

PER_CLIENT = 5
OVERALL = 50
WINDOW = 15 * 60.0
MAX_CLIENTS = 10_000
"""Addresses remembered at most; the stalest are forgotten first, the overall count is kept."""


def client_key(address: str) -> str:
    """The unit counted: the address itself, or an IPv6 address's /64."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:100]
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class LoginThrottle:
    """Counts failed logins and says how long a client must wait before the next try."""

    def __init__(
        self,
        per_client: int = PER_CLIENT,
        overall: int = OVERALL,
        window: float = WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.per_client = per_client
        self.overall = overall
        self.window = window
        self.clock = clock
        self._lock = threading.Lock()
        self._clients: dict[str, deque[float]] = {}
        self._all: deque[float] = deque()

    def _drop_old(self, now: float) -> None:
        while self._all and self._all[0] <= now - self.window:
            self._all.popleft()
        while self._clients:  # oldest last failure first, see failed()
            key = next(iter(self._clients))
            if self._clients[key][-1] > now - self.window:
                break
            del self._clients[key]

    def wait(self, address: str) -> int:
        """Seconds ``address`` must wait before its next login is checked; 0 to go ahead."""
        now = self.clock()
        with self._lock:
            self._drop_old(now)
            waits = [0.0]
            mine = self._clients.get(client_key(address))
            if mine is not None and len(mine) >= self.per_client:
                waits.append(mine[-self.per_client] + self.window - now)
            if len(self._all) >= self.overall:
                waits.append(self._all[-self.overall] + self.window - now)
            return math.ceil(max(waits))

    def failed(self, address: str) -> None:
        now = self.clock()
        key = client_key(address)
        with self._lock:
            self._all.append(now)
            times = self._clients.pop(key, deque())
            times.append(now)
            while len(times) > self.per_client:
                times.popleft()
            self._clients[key] = times  # re-inserted last: the dict is oldest-first
            while len(self._clients) > MAX_CLIENTS:
                del self._clients[next(iter(self._clients))]
            while len(self._all) > self.overall:
                self._all.popleft()

    def succeeded(self, address: str) -> None:
        with self._lock:
            self._clients.pop(client_key(address), None)
