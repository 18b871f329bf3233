"""``digest status``: workers, queue, claims, sends under way and last runs, as data.

The CLI prints it; ``problems`` lists what needs an operator (the command then exits 1).
Asking the workers needs Celery, so the caller passes the inspecting function (see
``digest.workers.inspect.alive``); everything else is read from the store and RabbitMQ.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..config import Settings
from ..config.workers import shown
from ..errors import DigestError, NotFoundError
from ..store import Store
from ..store.ledger_sql import CLAIMED, PLANNED, SUBMITTED, UNKNOWN
from ..store.runs import Run
from ..store.standing import ClaimView, IssueLedger
from ..waves.local import missed_command
from .broker import TIMEOUT, QueueDepth, queue_depth


@dataclass(frozen=True, slots=True)
class WorkerView:
    """One live worker: its Celery name (``digest-PID@host``), queues, chunks in hand."""

    name: str
    queues: tuple[str, ...]
    active: int
    """Chunk tasks it is running now."""
    concurrency: int | None
    """Its pool processes."""


Inspect = Callable[[Settings, float], list[WorkerView]]


@dataclass(frozen=True, slots=True)
class BrokerView:
    """The broker as ``digest status`` saw it; None fields: not asked (it did not answer)."""

    url: str
    """Without its password."""
    depth: QueueDepth
    workers: tuple[WorkerView, ...] | None
    error: str | None


@dataclass(frozen=True, slots=True)
class Status:
    """Everything ``digest status`` shows."""

    now: datetime
    broker: BrokerView | None
    """None: no broker configured, sends run in-process."""
    claims: tuple[ClaimView, ...]
    sends: tuple[IssueLedger, ...]
    last_runs: tuple[Run, ...]
    problems: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        def when(at: datetime | None) -> str | None:
            return at.isoformat() if at else None

        broker = None
        if self.broker is not None:
            d = self.broker.depth
            broker = {
                "url": self.broker.url,
                "error": self.broker.error,
                "queue": {"name": d.queue, "exists": d.exists, "messages": d.messages,
                          "consumers": d.consumers},
                "workers": None if self.broker.workers is None else [
                    {"name": w.name, "queues": list(w.queues), "active": w.active,
                     "concurrency": w.concurrency} for w in self.broker.workers
                ],
            }  # fmt: skip
        return {
            "now": when(self.now),
            "broker": broker,
            "claims": [
                {"list": c.list_name, "period_start": when(c.period_start),
                 "period_end": when(c.period_end), "wave": when(c.wave), "outcome": c.outcome,
                 "owner": c.owner, "lease_until": when(c.lease_until),
                 "expired": c.expired(self.now)} for c in self.claims
            ],
            "sends": [
                {"list": s.list_name, "issue": s.number, "total": s.total,
                 "counts": dict(sorted(s.counts.items())), "chunks_in_hand": s.chunks_in_hand}
                for s in self.sends
            ],
            "last_runs": [
                {"list": r.list_name, "trigger": r.trigger, "outcome": r.outcome,
                 "issue": r.issue_number, "period_end": when(r.window.end),
                 "started_at": when(r.started_at), "finished_at": when(r.finished_at),
                 "owner": r.owner, "counts": r.counts} for r in self.last_runs
            ],
            "problems": list(self.problems),
        }  # fmt: skip


OVERDUE = timedelta(minutes=5)
"""How long past its time a wave's rows may still wait before ``digest status`` says so: a
scheduler that runs takes a wave within seconds."""


def pending(ledger: IssueLedger) -> int:
    """Rows not yet decided: planned, or in a worker's hand."""
    return sum(ledger.counts.get(s, 0) for s in (PLANNED, CLAIMED, SUBMITTED))


def _broker(settings: Settings, url: str, inspect: Inspect, timeout: float) -> BrokerView:
    depth = queue_depth(url, settings.workers.queue, timeout)
    if not depth.reachable:
        return BrokerView(shown(url), depth, None, depth.error)
    try:
        workers = tuple(inspect(settings, timeout))
    except Exception as exc:  # the broker went away between the two questions
        return BrokerView(shown(url), depth, None, f"{type(exc).__name__}: {exc}")
    return BrokerView(shown(url), depth, workers, None)


def _problems(
    settings: Settings,
    broker: BrokerView | None,
    claims: tuple[ClaimView, ...],
    sends: tuple[IssueLedger, ...],
    now: datetime,
) -> list[str]:
    found = []
    if broker is not None and broker.error:
        found.append(f"RabbitMQ ({broker.url}) does not answer: {broker.error}")
    for c in claims:
        if c.expired(now) and c.outcome == "running":
            if c.wave:  # a wave's run: --resume never sends its waiting rows
                of, command = (
                    f"the wave at {c.wave.isoformat()} of ",
                    missed_command(c.list_name, c.wave),
                )
            else:
                of, command = "", f"digest send --list {c.list_name} --resume"
            found.append(
                f"{c.list_name}: the claim on {of}the period ending {c.period_end.isoformat()} "
                f"expired at {c.lease_until.isoformat() if c.lease_until else '?'} "
                f"(owner {c.owner}, no longer renewing): a scheduler takes it over, or "
                f"`{command}`"
            )
    running = {c.list_name for c in claims if c.outcome == "running" and not c.expired(now)}
    for s in sends:
        label = f"{s.list_name} #{s.number}"
        if s.list_name not in running and pending(s):
            found.append(
                f"{label}: {pending(s)} recipients wait but no run holds the period: "
                f"`digest send --list {s.list_name} --resume`"
            )
        if s.list_name not in running:
            found.extend(
                f"{label}: {readers} readers of the wave due at {wave.isoformat()} still wait and "
                f"no run holds it: a scheduler within the list's grace sends it, or "
                f"`{missed_command(s.list_name, wave)}`"
                for wave, readers in s.overdue
            )
        if s.counts.get(UNKNOWN):
            found.append(
                f"{label}: {s.counts[UNKNOWN]} recipients unknown: decide with "
                f"`digest send --list {s.list_name} --resolve-unknown resend|skip`"
            )
        if broker is not None and broker.workers == () and pending(s):
            found.append(f"{label}: sending, but no worker consumes queue {settings.workers.queue}")
    return found


def gather(
    settings: Settings,
    store: Store,
    now: datetime,
    inspect: Inspect,
    list_name: str | None = None,
    timeout: float = TIMEOUT,
) -> Status:
    """Read everything ``digest status`` shows; a broker failure is a problem, not an error."""
    names = [lst.name for lst in settings.lists]
    if list_name is not None and list_name not in names:
        raise NotFoundError(
            f"no list named {list_name!r}", subject=str(settings.path),
            hint=f"the configured lists: {', '.join(names)}",
        )  # fmt: skip
    reads = store.standing
    claims = tuple(reads.claims(list_name))
    sends = tuple(reads.ledgers(list_name, due=now - OVERDUE))
    runs = tuple(reads.last_runs(list_name))
    broker = None
    try:
        url = settings.workers.broker_url()
    except DigestError as exc:
        url, problem = None, [str(exc)]
    else:
        problem = []
    if url:
        broker = _broker(settings, url, inspect, timeout)
    problems = problem + _problems(settings, broker, claims, sends, now)
    return Status(now, broker, claims, sends, runs, tuple(problems))
