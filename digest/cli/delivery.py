"""Delivery commands: send (resume, resolve unknown, test sends) and issues show."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
from rich.progress import Progress as Bar

from ..errors import NotFoundError
from ..models import IssueRow
from ..periods import parse_duration
from ..pipeline import Pipeline
from ..reports import Progress, ProgressFn, SendReport
from ..store.accounts import ledger_report
from ..subscribers.roster import normalize_email
from ..waves import runs as wave_runs
from .app import err, handled, main, warn_rows
from .context import hint_if_never_collected, pipeline_of

log = logging.getLogger("digest.cli")
LOG_EVERY = 10.0
"""Seconds between progress log lines when stderr is not a terminal."""


class Duration(click.ParamType[timedelta]):
    """A duration option like ``90s``, ``10m`` or ``1h``."""

    name = "duration"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> timedelta:
        if isinstance(value, timedelta):
            return value
        try:
            return parse_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


wait_option = click.option(
    "--wait",
    type=Duration(),
    default="0s",
    metavar="DURATION",
    help="If another process is sending this period, wait up to this long (e.g. 10m) "
    "for it to finish instead of exiting 4.",
)


@contextmanager
def progress_view(label: str) -> Iterator[ProgressFn]:
    """A rich progress bar on a terminal, a log line every ``LOG_EVERY`` seconds otherwise."""
    started = time.monotonic()
    last = [started]

    def rate(p: Progress) -> float:
        return p.done / max(time.monotonic() - started, 1e-6)

    if not err.is_terminal:

        def log_line(p: Progress) -> None:
            now = time.monotonic()
            if now - last[0] >= LOG_EVERY or p.done >= p.total:
                last[0] = now
                tally = ", ".join(f"{k} {v}" for k, v in sorted(p.counts.items()))
                log.info(
                    "%s: %d/%d recipients, %.0f/s (%s)", label, p.done, p.total, rate(p), tally
                )

        yield log_line
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>8.0f}/s"),
        TimeRemainingColumn(),
    )
    with Bar(*columns, console=err, transient=True) as bar:
        task = bar.add_task(label, total=None, rate=0.0)

        def update(p: Progress) -> None:
            bar.update(task, total=p.total, completed=p.done, rate=rate(p))

        yield update


def say(report: SendReport, each: bool = False) -> None:
    """Print one list's send report: counts, failure reasons, unknown chunks."""
    name = report.list_name
    warn_rows(report.roster_problems)
    if report.outcome == "already-sent":
        click.echo(
            f"{name}: issue {report.issue_number} for this period was already sent "
            f"({report.counts.get('accepted', 0)} accepted); nothing sent."
        )
    elif report.outcome == "no-posts":
        click.echo(f"{name}: no new posts this period; nothing sent.")
    elif report.outcome == "held":
        click.echo(
            f"{name}: issue {report.issue_number} needs an editor's approval; held "
            f"(approve it with: digest approve {name})"
        )
    elif report.outcome == "dry-run":
        click.echo(
            f"{name}: would send issue {report.issue_number} to {report.recipients} recipients."
        )
    else:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(report.counts.items()))
        click.echo(f"{name}: issue {report.issue_number} {report.outcome}: {counts}")
        for reason, n in report.failures:
            click.echo(f"  failed {n}: {reason}")
        _say_unknown(report, each)
        if report.outcome == "incomplete":
            click.echo(
                f"  some recipients are still to be sent: digest send --list {name} --resume"
            )
        if report.destination:
            click.echo(f"{name}: outbox at {report.destination}")


def _say_unknown(report: SendReport, each: bool = False) -> None:
    total = sum(u.count for u in report.unknown)
    if not total:
        return
    click.echo(
        f"  unknown {total}: the request went out but no answer came back, so these may or may "
        "not have received the issue:"
    )
    if each:
        for r in report.unknown_recipients:
            click.echo(f"    {r.email} (chunk {r.chunk})")
    else:
        for u in report.unknown:
            more = f", … {u.count - len(u.sample)} more" if u.count > len(u.sample) else ""
            click.echo(f"    chunk {u.chunk}: {u.count} ({', '.join(u.sample)}{more})")
    click.echo(
        f"  decide with: digest send --list {report.list_name} --resolve-unknown resend|skip"
        " [--chunk ID | --recipients A,B,...|@FILE]"
    )


def _exit_for(reports: list[SendReport]) -> None:
    if any(r.outcome in ("incomplete", "unknown") for r in reports):
        sys.exit(1)


def _addresses(text: str, option: str = "--test") -> tuple[str, ...]:
    found = []
    for part in re.split(r"[,\s]+", text):
        if not part.strip():
            continue
        try:
            found.append(normalize_email(part))
        except ValueError as exc:
            raise click.BadParameter(f"{part.strip()!r}: {exc}", param_hint=option) from None
    if not found:
        raise click.BadParameter("give at least one address", param_hint=option)
    return tuple(found)


def _recipients(text: str | None) -> tuple[str, ...]:
    """``--recipients``: addresses separated by commas, or ``@FILE`` with one or more a line."""
    if text is None:
        return ()
    if text.startswith("@"):
        try:
            text = Path(text[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            raise click.BadParameter(
                f"{text[1:]}: {exc.strerror}", param_hint="--recipients"
            ) from None
    return _addresses(text, "--recipients")


@main.command()
@click.option("--list", "list_name", required=True, help="The list to send.")
@click.option("--dry-run", is_flag=True, help="Say what would be sent, change nothing.")
@click.option("--resume", is_flag=True, help="Carry on with the list's unfinished issues.")
@click.option(
    "--resolve-unknown",
    type=click.Choice(["resend", "skip"]),
    help="Decide about recipients whose chunk may or may not have gone out.",
)
@click.option("--chunk", "chunks", multiple=True, help="With --resolve-unknown: only this chunk.")
@click.option(
    "--recipients",
    metavar="A,B,...|@FILE",
    help="With --resolve-unknown: only these recipients (or those listed in FILE).",
)
@click.option(
    "--retry-failed",
    is_flag=True,
    help="Send once more to recipients of the last issue that failed for a reason that can change.",
)
@click.option("--yes", is_flag=True, help="With --resolve-unknown: do not ask first.")
@click.option("--test", "test", metavar="A,B,...", help="Send a [TEST] copy to these addresses.")
@wait_option
@click.pass_context
@handled
def send(
    ctx: click.Context,
    list_name: str,
    dry_run: bool,
    resume: bool,
    resolve_unknown: str | None,
    chunks: tuple[str, ...],
    recipients: str | None,
    retry_failed: bool,
    yes: bool,
    test: str | None,
    wait: timedelta,
) -> None:
    """Send (or resume) the list's issue for the current period."""
    pipeline = pipeline_of(ctx)
    emails = _recipients(recipients)
    if emails and not resolve_unknown:
        raise click.UsageError("--recipients goes with --resolve-unknown")
    if test is not None:
        report = pipeline.send_test(list_name, _addresses(test))
        counts = ", ".join(f"{k} {v}" for k, v in sorted(report.counts.items()))
        click.echo(f"{list_name}: [TEST] copy of issue {report.issue_number}: {counts}")
        for reason, n in report.failures:
            click.echo(f"  failed {n}: {reason}")
        if report.destination:
            click.echo(f"{list_name}: outbox at {report.destination}")
        if report.counts.get("accepted", 0) != report.recipients:
            sys.exit(1)
        return
    if resolve_unknown:
        _resolve(pipeline, list_name, resolve_unknown == "resend", chunks, emails, yes, wait)
        return
    with progress_view(f"sending {list_name}") as progress:
        if retry_failed:
            reports = pipeline.retry_failed(list_name, progress, wait)
            if not reports:
                click.echo(f"{list_name}: no failed recipients to retry.")
        elif resume:
            reports = pipeline.resume(list_name, progress, wait)
            if not reports:
                click.echo(f"{list_name}: no unfinished issue; nothing to resume.")
        else:
            reports = [pipeline.send(list_name, dry_run=dry_run, progress=progress, wait=wait)]
    for report in reports:
        say(report)
    if not resume:
        hint_if_never_collected(pipeline, "send")
    _exit_for(reports)


def _resolve(
    pipeline: Pipeline,
    list_name: str,
    resend: bool,
    chunks: tuple[str, ...],
    emails: tuple[str, ...],
    yes: bool,
    wait: timedelta,
) -> None:
    waiting = [ledger_report(pipeline.store, i, list_name) for i in pipeline.unfinished(list_name)]
    waiting = [r for r in waiting if r.unknown]
    unknown = [u for r in waiting for u in r.unknown_recipients]
    if emails:
        known = {u.email for u in unknown}
        strangers = [e for e in emails if e not in known]
        if strangers:
            raise click.BadParameter(
                f"not in an unknown state: {', '.join(strangers)}", param_hint="--recipients"
            )
    chosen = [
        u
        for u in unknown
        if (not chunks or u.chunk in chunks) and (not emails or u.email in emails)
    ]
    affected = len(chosen)
    if not affected:
        click.echo(
            f"{list_name}: no recipients in an unknown state"
            + (" in those chunks." if chunks else ".")
        )
        return
    for report in waiting:
        say(report, each=bool(emails))
    verb = "Send the issue again to" if resend else "Never send the issue to"
    if not yes:
        click.confirm(f"{verb} these {affected} recipients?", abort=True, err=True)
    touched = pipeline.resolve_unknown(list_name, resend, chunks, emails)
    if not resend:
        reports = [ledger_report(pipeline.store, i, list_name) for i in touched]
        click.echo(f"{list_name}: {affected} recipients marked skipped.")
    else:
        with progress_view(f"resending {list_name}") as progress:
            reports = pipeline.resume(list_name, progress, wait)
    for report in reports:
        say(report)
    _exit_for(reports)


@main.group()
def issues() -> None:
    """Look at stored issues and what their sends did."""


def _find(pipeline: Pipeline, list_name: str, ref: str) -> IssueRow:
    list_id = pipeline.list_id(list_name)
    number = ref.rsplit("-", 1)[-1]
    if not number.isdigit():
        raise NotFoundError("expected an issue number or key like 2026-11-30-4", subject=ref)
    issue = pipeline.store.issues.by_number(list_id, int(number))
    if "-" in ref and issue.key != ref:
        raise NotFoundError(f"no issue {ref!r} (issue {number} is {issue.key})", subject=list_name)
    return issue


@issues.command("show")
@click.argument("issue")
@click.option("--list", "list_name", help="The list (default: the first configured).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@handled
def show(ctx: click.Context, issue: str, list_name: str | None, as_json: bool) -> None:
    """What the send of ISSUE (a number, or a key like 2026-11-30-4) did."""
    pipeline = pipeline_of(ctx)
    name = list_name or pipeline.settings.lists[0].name
    row = _find(pipeline, name, issue)
    report = ledger_report(pipeline.store, row, name)
    waves = wave_runs.of_issue(pipeline, name, row)
    if as_json:
        data: dict[str, Any] = asdict(report)
        data["status"] = row.status
        data["unknown"] = [asdict(u) for u in report.unknown]
        data["unknown_recipients"] = [asdict(u) for u in report.unknown_recipients]
        data["failures"] = [{"reason": r, "count": n} for r, n in report.failures]
        data["waves"] = waves
        click.echo(json.dumps(data, indent=2, default=str))
        return
    click.echo(f"{name}: issue {row.number} ({row.key}), {row.status}: {row.email.subject}")
    say(report, each=True)
    for wave in waves:
        local = ", ".join(f"{z} {t[11:16]}" for z, t in wave["local"].items())
        counts = ", ".join(f"{k} {v}" for k, v in sorted(wave["counts"].items()))
        detail = f" ({wave['detail']})" if wave["detail"] else ""
        click.echo(f"  wave {wave['utc']} [{local}]: {wave['outcome']}{detail} {counts}".rstrip())
