"""Ops commands: the scheduler process, schedule show/pause/resume/set/run-now, run history."""

from __future__ import annotations

import json
import signal
import time
from datetime import UTC, datetime, timedelta, tzinfo
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

import click
from rich.table import Table

from ..claims import MANUAL
from ..errors import ConfigError
from ..periods import parse_crontab
from ..scheduler import Scheduler, describe, effective, run_period
from ..waves.local import waves_between
from ..waves.send import run_wave
from .app import handled, main, out
from .context import pipeline_of
from .delivery import wait_option
from .posts import _actor


@main.command()
@click.pass_context
@handled
def scheduler(ctx: click.Context) -> None:
    """Run the scheduler in the foreground until SIGTERM or Ctrl-C."""
    stop: list[int] = []  # not an Event: setting one inside a signal handler can deadlock

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.append(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    sched = Scheduler(pipeline_of(ctx))
    sched.start()
    click.echo(f"scheduler {sched.owner} running; SIGTERM finishes the current run and stops")
    while not stop:
        time.sleep(0.2)
    under_way = [
        name for name, _, owner, _ in sched.pipeline.store.runs.running() if owner == sched.owner
    ]
    if under_way:
        click.echo(f"stopping: finishing the run under way ({', '.join(under_way)})")
    else:
        click.echo("stopping: no run under way")
    sched.stop()


@main.group()
def schedule() -> None:
    """See and change when each list is sent."""


@schedule.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@handled
def show(ctx: click.Context, as_json: bool) -> None:
    """Each list's schedule, next three runs, last run, and the scheduler's heartbeat."""
    pipeline = pipeline_of(ctx)
    now = pipeline.clock()
    lists = [describe(pipeline, lst.name, now) for lst in pipeline.settings.lists]
    beats = [
        {
            "owner": b["owner"],
            "state": b["state"],
            "beat_at": b["beat_at"].isoformat(),
            "age_seconds": round((now - b["beat_at"]).total_seconds()),
        }
        for b in pipeline.store.runs.heartbeats()
    ]
    if as_json:
        click.echo(json.dumps({"lists": lists, "schedulers": beats}, indent=2))
        return
    table = Table(title="Schedules")
    for col in ("list", "schedule", "next runs (local / UTC)", "last run"):
        table.add_column(col)
    for item in lists:
        nxt = "\n".join(f"{r['local']} / {r['utc']}" for r in item["next_runs"]) or "paused"
        last = item["last_run"]
        last_text = "never" if last is None else f"{last['started_at']} {last['outcome']}"
        cron = f"{item['schedule']} ({item['timezone']})" + (" PAUSED" if item["paused"] else "")
        table.add_row(item["list"], cron, nxt, last_text)
    out.print(table)
    for item in lists:
        if item["waves"]:
            out.print(_waves_table(item))
    if not beats:
        out.print("no scheduler has run against this database")
    for b in beats:
        out.print(f"scheduler {b['owner']}: {b['state']}, last heartbeat {b['age_seconds']}s ago")


def _waves_table(item: dict[str, Any]) -> Table:
    """The coming waves of a list sent in its readers' zones: UTC, local, readers."""
    table = Table(title=f"{item['list']}: coming waves (each reader's local {item['schedule']})")
    for col in ("wave (UTC)", "local time by zone", "readers", "state"):
        table.add_column(col)
    for wave in item["waves"]:
        local = "\n".join(f"{z} {t}" for z, t in wave["local"].items())
        state = wave["state"] + (
            " - content closes, approval due" if wave["closes_content"] else ""
        )
        table.add_row(wave["utc"], local, str(wave["readers"]), state)
    return table


def _set(ctx: click.Context, list_name: str, message: str, **changes: object) -> None:
    pipeline = pipeline_of(ctx)
    name = pipeline.settings.list(list_name).name
    pipeline.store.runs.set_override(name, pipeline.clock(), _actor(), **changes)
    click.echo(f"{name}: {message} (a running scheduler picks this up within its poll interval)")


@schedule.command("pause")
@click.argument("list_name")
@click.pass_context
@handled
def pause(ctx: click.Context, list_name: str) -> None:
    """Stop sending LIST on schedule until resumed."""
    _set(ctx, list_name, "paused", paused=True)


@schedule.command("resume")
@click.argument("list_name")
@click.pass_context
@handled
def resume(ctx: click.Context, list_name: str) -> None:
    """Send LIST on schedule again."""
    _set(ctx, list_name, "resumed", paused=False)


@schedule.command("set")
@click.argument("list_name")
@click.argument("cron")
@click.option("--timezone", help="IANA time zone, e.g. Europe/Berlin.")
@click.pass_context
@handled
def set_schedule(ctx: click.Context, list_name: str, cron: str, timezone: str | None) -> None:
    """Send LIST on CRON (crontab sense: 1 is Monday) from now on."""
    pipeline = pipeline_of(ctx)
    tz = timezone or effective(pipeline, list_name).timezone
    try:
        parse_crontab(cron, tz)
    except (ValueError, KeyError) as exc:
        raise ConfigError(str(exc), subject=f"schedule set {list_name}") from None
    _set(ctx, list_name, f"schedule set to {cron!r} in {tz}", cron=cron, timezone=tz)


@schedule.command("run-now")
@click.argument("list_name")
@click.option(
    "--for", "for_time", type=click.DateTime(), help="Run the period holding this time instead."
)
@click.option(
    "--wave",
    "wave_time",
    type=click.DateTime(["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]),
    help="Send this wave (its UTC time) of a list sent in its readers' zones, e.g. one "
    "recorded as missed.",
)
@wait_option
@click.pass_context
@handled
def run_now(
    ctx: click.Context,
    list_name: str,
    for_time: datetime | None,
    wave_time: datetime | None,
    wait: timedelta,
) -> None:
    """Run LIST's current period now (once: a sent period is never sent again)."""
    pipeline = pipeline_of(ctx)
    sched = effective(pipeline, list_name)
    if wave_time is not None:
        _run_wave(ctx, sched.list_name, wave_time.replace(tzinfo=wave_time.tzinfo or UTC), wait)
        return
    at = pipeline.clock() if for_time is None else for_time.replace(tzinfo=for_time.tzinfo or UTC)
    window = pipeline.period(sched.list_name, at)
    run = run_period(pipeline, sched.list_name, window, "run-now", retake=MANUAL, wait=wait)
    if run is None:
        outcome = pipeline.store.runs.claimed(sched.list_name, window)
        end = _both(window.end, ZoneInfo(sched.timezone))
        click.echo(f"{sched.list_name}: period ending {end} already handled ({outcome})")
        return
    detail = f" ({run.detail})" if run.detail else ""
    end = _both(window.end, ZoneInfo(sched.timezone))
    click.echo(f"{sched.list_name}: period ending {end}: {run.outcome}{detail}")
    if run.issue_number is not None and run.counts:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(run.counts.items()))
        where = f" via {run.destination}" if run.destination else ""
        click.echo(f"{sched.list_name}: issue {run.issue_number}: {counts}{where}")
    if run.outcome == "failed":
        ctx.exit(1)


def _run_wave(ctx: click.Context, list_name: str, wave: datetime, wait: timedelta) -> None:
    """``run-now --wave``: send one wave of its period, once."""
    pipeline = pipeline_of(ctx)
    found = [
        d
        for d in waves_between(
            pipeline.settings, pipeline.store, list_name, wave - timedelta(seconds=1), wave
        )
        if d.at == wave.astimezone(UTC)
    ]
    if not found:
        raise ConfigError(
            f"no wave at {wave.astimezone(UTC).isoformat()}",
            subject=f"list {list_name}",
            hint="see the waves with: digest schedule show, or digest runs",
        )
    due = found[0]
    run = run_wave(pipeline, list_name, due.window, due.at, "run-now", retake=MANUAL, wait=wait)
    if run is None:
        outcome = pipeline.store.runs.claimed(list_name, due.window, due.at)
        click.echo(f"{list_name}: wave {due.at.isoformat()} already handled ({outcome})")
        return
    detail = f" ({run.detail})" if run.detail else ""
    counts = ", ".join(f"{k} {v}" for k, v in sorted(run.counts.items()))
    click.echo(f"{list_name}: wave {due.at.isoformat()}: {run.outcome}{detail} {counts}".rstrip())
    if run.outcome == "failed":
        ctx.exit(1)


def _both(at: datetime, tz: tzinfo) -> str:
    """A time in the list's zone and in UTC, as ``schedule show`` gives them."""
    return f"{at.astimezone(tz).isoformat()} / {at.astimezone(UTC).isoformat()}"


@main.command()
@click.argument("list_name")
@click.pass_context
@handled
def approve(ctx: click.Context, list_name: str) -> None:
    """Approve LIST's coming issue as it is now; it goes out when due."""
    issue = pipeline_of(ctx).approve(list_name, _actor())
    if issue.waves:  # a list sent in its readers' zones
        first, last = issue.waves[0].isoformat(), issue.waves[-1].isoformat()
        click.echo(
            f"{list_name}: issue {issue.number} approved; it goes out in {len(issue.waves)} "
            f"waves from {first} to {last}"
        )
        return
    click.echo(f"{list_name}: issue {issue.number} approved; it is sent at {issue.window.end}")


@main.command()
@click.argument("list_name")
@click.pass_context
@handled
def unapprove(ctx: click.Context, list_name: str) -> None:
    """Take back the approval of LIST's issue before it is sent; it can be edited again."""
    issue = pipeline_of(ctx).unapprove(list_name, _actor())
    click.echo(f"{list_name}: issue {issue.number} is a draft again; approve it to send it")


@main.command()
@click.option("--list", "list_name", help="Only this list.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--limit", default=50, show_default=True, help="How many runs.")
@click.pass_context
@handled
def runs(ctx: click.Context, list_name: str | None, as_json: bool, limit: int) -> None:
    """Run history: sent, skipped, held, missed or failed, newest first."""
    pipeline = pipeline_of(ctx)
    history = pipeline.store.runs.history(list_name, limit)
    rows = [
        {
            "list": r.list_name,
            "period": {"start": r.window.start.isoformat(), "end": r.window.end.isoformat()},
            "trigger": r.trigger,
            "outcome": r.outcome,
            "detail": r.detail,
            "issue": r.issue_number,
            "counts": r.counts,
            "destination": r.destination,
            "wave": r.wave.isoformat() if r.wave else None,
            "started_at": r.started_at.isoformat(),
            "finished_at": r.finished_at.isoformat() if r.finished_at else None,
        }
        for r in history
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="Runs")
    cols: tuple[str, ...] = ("list", "period end (local / UTC)", "wave (UTC)", "trigger")
    cols = (*cols, "outcome", "issue", "destination")
    for col in (*cols, "detail"):
        table.add_column(col)
    zones = {lst.name: lst.tz for lst in pipeline.settings.lists}
    for r in history:
        outcome = r.outcome
        if outcome == "sent":
            outcome = f"sent {r.counts.get('accepted', 0)}"
        table.add_row(
            r.list_name,
            _both(r.window.end, zones.get(r.list_name, UTC)),
            r.wave.isoformat() if r.wave else "",
            r.trigger,
            outcome,
            str(r.issue_number or ""),
            r.destination or "",
            r.detail or "",
        )
    out.print(table)
