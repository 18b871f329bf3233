"""``/healthz``: does the store answer, is its schema this digest's head, does the broker answer.

Healthy means the store answers at this digest's schema head: a web host whose database was
upgraded by a newer digest (or not yet upgraded for this one) must leave the load balancer's
rotation. The broker is reported but does not decide: unsubscribe links and webhooks work
without it. The answer names no host, database or URL: the endpoint is public.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ..config import Settings
from ..errors import DigestError
from ..store import Store
from ..store.migrate import head
from .broker import TIMEOUT, queue_depth


@dataclass(frozen=True, slots=True)
class Health:
    """What ``/healthz`` answers: each part's state, and why it is not healthy."""

    store: str
    """``ok`` or ``unreachable``."""
    schema: str
    """``current``, ``behind`` (run ``digest db upgrade``), ``ahead`` (a newer digest's),
    ``empty`` or ``unknown`` (the store did not answer)."""
    revision: str | None
    head: str
    broker: str
    """``ok``, ``absent`` (in-process sends), ``unreachable`` or ``misconfigured``."""
    reasons: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.reasons

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, **asdict(self), "reasons": list(self.reasons)}


def _broker(settings: Settings, timeout: float) -> str:
    try:
        url = settings.workers.broker_url()
    except DigestError:
        return "misconfigured"
    if not url:
        return "absent"
    return "ok" if queue_depth(url, settings.workers.queue, timeout).reachable else "unreachable"


def check(store: Store, settings: Settings, timeout: float = TIMEOUT) -> Health:
    """Ask the store and the broker; never raises for either failing."""
    broker = _broker(settings, timeout)
    try:
        state = store.schema()
    except DigestError:
        reason = "the database does not answer"
        return Health("unreachable", "unknown", None, head(), broker, (reason,))
    if state.up_to_date:
        return Health("ok", "current", state.current, state.head, broker, ())
    if state.empty:
        schema, reason = "empty", "the database is empty: run `digest db upgrade`"
    elif not state.known:
        schema = "ahead"
        reason = f"the schema ({state.current}) is newer than this digest's ({state.head})"
    else:
        schema = "behind"
        at = state.current or f"meta version {state.legacy}"
        reason = f"the schema ({at}) is behind this digest's ({state.head})"
        reason += ": run `digest db upgrade`"
    return Health("ok", schema, state.current, state.head, broker, (reason,))
