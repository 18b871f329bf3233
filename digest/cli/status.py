"""``digest status``: workers, queue depth, claims, sends under way and each list's last run."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

import click
from rich.table import Table

from ..config import Settings
from ..ops.broker import TIMEOUT
from ..ops.status import Status, WorkerView, gather, pending
from .app import handled, main, out
from .context import pipeline_of


def _inspect(settings: Settings, timeout: float) -> list[WorkerView]:
    # Celery takes most of a second to import: only when a broker is configured
    from ..workers.inspect import alive

    return alive(settings, timeout)


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S UTC") if at else ""


def _print(status: Status) -> None:
    broker = status.broker
    if broker is None:
        out.print("workers: no broker configured (sends run in-process)", highlight=False)
    else:
        d = broker.depth
        out.print(f"broker: {broker.url}", highlight=False, markup=False)
        if broker.error:
            out.print(f"  does not answer: {broker.error}", highlight=False, markup=False)
        else:
            waiting = f"{d.messages} waiting, {d.consumers} consumers"
            out.print(f"queue {d.queue}: {waiting if d.exists else 'not declared yet (empty)'}")
        workers = Table(title="Workers alive")
        for col in ("worker", "queues", "pool", "chunks running"):
            workers.add_column(col)
        for w in broker.workers or ():
            workers.add_row(w.name, ",".join(w.queues), str(w.concurrency or ""), str(w.active))
        out.print(workers if broker.workers else "workers alive: none", highlight=False)
    claims = Table(title="Claims held")
    for col in ("list", "period end", "wave", "state", "owner (host:pid)", "lease until"):
        claims.add_column(col)
    for c in status.claims:
        state = "EXPIRED" if c.expired(status.now) else c.outcome
        claims.add_row(
            c.list_name, _when(c.period_end), _when(c.wave), state, c.owner or "",
            _when(c.lease_until),
        )  # fmt: skip
    out.print(claims if status.claims else "claims held: none")
    sends = Table(title="Sends under way")
    for col in ("list", "issue", "accepted", "failed", "unknown", "pending", "total", "in hand"):
        sends.add_column(col)
    for s in status.sends:
        n = s.counts
        sends.add_row(
            s.list_name, str(s.number), str(n.get("accepted", 0)), str(n.get("failed", 0)),
            str(n.get("unknown", 0)), str(pending(s)), str(s.total), f"{s.chunks_in_hand} chunks",
        )  # fmt: skip
    out.print(sends if status.sends else "sends under way: none")
    runs = Table(title="Last run per list")
    for col in ("list", "period end", "trigger", "outcome", "issue", "finished", "counts"):
        runs.add_column(col)
    for r in status.last_runs:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(r.counts.items()))
        runs.add_row(
            r.list_name, _when(r.window.end), r.trigger, r.outcome, str(r.issue_number or ""),
            _when(r.finished_at), counts,
        )  # fmt: skip
    out.print(runs if status.last_runs else "runs: none yet")
    for problem in status.problems:
        out.print(f"[yellow]attention:[/] {problem}", highlight=False)


@main.command()
@click.option("--list", "list_name", help="Only this list's claims, sends and runs.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=TIMEOUT,
    show_default=True,
    help="Seconds to wait for RabbitMQ and the workers' replies.",
)
@click.pass_context
@handled
def status(ctx: click.Context, list_name: str | None, as_json: bool, timeout: float) -> None:
    """Workers alive, queue depth, claims held, sends under way, each list's last run.

    Exits 0 when nothing needs attention, 1 when something does (listed last).
    """
    pipeline = pipeline_of(ctx)
    found = gather(
        pipeline.settings, pipeline.store, datetime.now(UTC), _inspect, list_name, timeout
    )
    if as_json:
        click.echo(json.dumps(found.as_json(), indent=2))
    else:
        _print(found)
    if found.problems:
        sys.exit(1)
