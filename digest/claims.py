"""The (list, period) claim every send takes: one owner at a time, a lease kept alive meanwhile.

``digest run``, ``digest send`` (also ``--resume`` and ``--resolve-unknown resend``),
``schedule run-now`` and the scheduler all send under the claim of the issue's period
(``Pipeline.claimed``). A second process finds the claim held and waits (``--wait``) or stops
with ``ClaimHeldError``, naming the owner and the end of its lease; it never touches the
holder's rows. A claim is taken over only once its lease has run out: no decision looks at a
process id, so the same rules hold across hosts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from .errors import ClaimHeldError, StoreError
from .models import Window
from .reports import SendReport
from .store.leases import renewed
from .store.owner import owner_id
from .store.runs import Holder, Run, RunRepo

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]

SCHEDULED = ("held", "failed", "interrupted")
"""Run outcomes the scheduler may take a period over from (``skipped``/``missed`` are final)."""
MANUAL = ("held", "failed", "interrupted", "skipped", "missed")
"""Run outcomes a send started by hand may take a period over from: all but ``sent``."""
RETRY = (*MANUAL, "sent")
"""``send --retry-failed`` takes a sent period again: only the rows it re-plans are sent."""
WAIT_POLL = 0.5
"""Seconds between looks at a held claim while waiting for it."""


def held_error(list_name: str, window: Window, holder: Holder) -> ClaimHeldError:
    """The error for a period another live process is sending."""
    until = holder.lease_until.isoformat() if holder.lease_until else "its end"
    return ClaimHeldError(
        f"the period ending {window.end.isoformat()} is being sent by {holder.owner} "
        f"({holder.trigger} since {holder.started_at.isoformat()}, lease until {until}); "
        "nothing was sent by this process",
        subject=f"list {list_name}",
        hint="wait for it with --wait DURATION (e.g. --wait 10m), or see digest runs; "
        "a holder that died is taken over once its lease ends",
    )


def acquire(
    runs: RunRepo,
    list_name: str,
    window: Window,
    trigger: str,
    clock: Clock,
    lease: timedelta,
    wait: timedelta,
    retake: tuple[str, ...],
    wave: datetime | None = None,
) -> Run | None:
    """Claim the period (or one wave of it), waiting up to ``wait`` for a live holder; None
    when it is done.

    Raises ``ClaimHeldError`` when another process still holds a live lease after ``wait``.
    """
    deadline = time.monotonic() + max(wait.total_seconds(), 0.0)
    while True:
        run = runs.claim(
            list_name, window, trigger, owner_id(), clock(), lease, retake=retake, wave=wave
        )
        if run is not None:
            return run
        holder = runs.holder(list_name, window, wave)
        if holder is None or holder.outcome in retake:
            continue  # released or finished between our two looks: try again
        if holder.outcome != "running":
            return None
        left = deadline - time.monotonic()
        if left <= 0:
            raise held_error(list_name, window, holder)
        time.sleep(min(WAIT_POLL, left))


@contextmanager
def kept(
    runs: RunRepo, run: Run, clock: Clock, lease: timedelta, on_lost: Callable[[], None]
) -> Iterator[None]:
    """Renew the run's lease every third of it for the block; ``on_lost`` if it was lost.

    A lease is lost when this process stalled longer than the lease and another one took the
    period over; ``on_lost`` must then stop the send.
    """
    owner = run.owner or owner_id()

    def renew() -> bool:
        try:
            ours = runs.renew(run.id, owner, clock() + lease)
        except StoreError as exc:  # the database is away: a line, not a traceback
            log.warning("%s: could not renew the lease of run %d: %s", run.list_name, run.id, exc)
            return True
        except Exception:
            log.exception("%s: could not renew the lease of run %d", run.list_name, run.id)
            return True
        if not ours:
            log.error(
                "%s: lost the claim on the period ending %s to another process; stopping",
                run.list_name,
                run.window.end,
            )
            on_lost()
        return ours

    with renewed(lease.total_seconds() / 3, renew, f"lease-{run.id}"):
        yield


def run_outcome(report: SendReport, halted: bool) -> tuple[str, str | None]:
    """The run outcome and detail recorded for a send's report."""
    outcome, detail = {
        "sent": ("sent", None),
        "already-sent": ("sent", "already sent"),
        "no-posts": ("skipped", "no posts"),
        "held": ("held", f"waiting for approval: digest approve {report.list_name}"),
    }.get(report.outcome, ("failed", f"delivery {report.outcome}"))
    if outcome == "failed" and halted:
        outcome, detail = "interrupted", "stopped before the end; resumes on restart"
    return outcome, detail
