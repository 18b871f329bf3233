"""Subscriber commands: list, add, remove, import, export, stats."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.table import Table

from ..config import Settings
from ..errors import ConfigError, NotFoundError
from ..models import Subscriber
from ..pipeline import Pipeline
from ..private_files import private_opener
from ..subscribers import membership
from ..subscribers.roster import normalize_email
from .app import err, handled, main, out, warn_rows
from .context import pipeline_of

LIST_OPTION = click.option("--list", "list_name", help="The list (needed when there are several).")


def one_list(settings: Settings, name: str | None) -> str:
    """The named list, or the only configured one."""
    if name:
        return settings.list(name).name
    if len(settings.lists) == 1:
        return settings.lists[0].name
    known = ", ".join(lst.name for lst in settings.lists) or "none"
    raise ConfigError("which list?", subject=str(settings.path), hint=f"pass --list ({known})")


def synced(ctx: click.Context, name: str | None) -> tuple[Pipeline, str, int]:
    """The pipeline, the list's name and id, after syncing its roster (skipped rows shown)."""
    pipeline = pipeline_of(ctx)
    list_name = one_list(pipeline.settings, name)
    result = membership.sync_list(pipeline.settings, pipeline.store, list_name, pipeline.clock())
    warn_rows(result.problems)
    return pipeline, list_name, result.list_id


def _email(value: str) -> str:
    try:
        return normalize_email(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@main.group()
def subscribers() -> None:
    """See and manage the subscribers of a list."""


@subscribers.command("list")
@LIST_OPTION
@click.option("--status", help="Only subscribers with this status (active, unsubscribed ...).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@handled
def list_subscribers(
    ctx: click.Context, list_name: str | None, status: str | None, as_json: bool
) -> None:
    """List a list's subscribers with their status and areas."""
    pipeline, name, list_id = synced(ctx, list_name)
    rows = [
        r
        for r in pipeline.store.subscribers.rows(list_id)
        if status is None or (r.status if r.in_roster else "removed") == status
    ]
    if as_json:
        items = [
            {
                "email": r.email,
                "name": r.name,
                "areas": list(r.areas),
                "status": r.status if r.in_roster else "removed",
                "subscribed_at": r.subscribed_at,
                "source": r.source,
            }
            for r in rows
        ]
        click.echo(json.dumps(items, indent=2, ensure_ascii=False))
        return
    table = Table(title=f"{name}: {len(rows)} subscribers")
    for col in ("email", "name", "areas", "status", "subscribed", "source"):
        table.add_column(col)
    for r in rows:
        shown = r.status if r.in_roster else "removed"
        table.add_row(r.email, r.name, "; ".join(r.areas), shown, r.subscribed_at, r.source)
    out.print(table)


@subscribers.command()
@click.argument("email")
@LIST_OPTION
@click.option("--name", default="", help="The subscriber's name.")
@click.option("--areas", default="", help="Areas of focus, ';'-separated.")
@click.option("--source", default="cli", show_default=True, help="Where the signup came from.")
@click.option(
    "--timezone", "zone", default=None, help="The reader's IANA time zone, e.g. Asia/Tokyo."
)
@click.option("--resubscribe", is_flag=True, help="Bring back someone who unsubscribed.")
@click.pass_context
@handled
def add(
    ctx: click.Context,
    email: str,
    list_name: str | None,
    name: str,
    areas: str,
    source: str,
    zone: str | None,
    resubscribe: bool,
) -> None:
    """Add EMAIL to the list's roster file and the database."""
    pipeline = pipeline_of(ctx)
    lst = one_list(pipeline.settings, list_name)
    now = pipeline.clock()
    sub = Subscriber(
        email=_email(email),
        name=name,
        areas=tuple(a.strip() for a in areas.split(";") if a.strip()),
        subscribed_at=now.date().isoformat(),
        source=source,
        timezone=zone or None,
    )
    what, problems = membership.add(
        pipeline.settings, pipeline.store, lst, sub, now, resubscribe=resubscribe
    )
    warn_rows(problems)
    click.echo(f"{sub.email}: {what} ({lst})")


@subscribers.command()
@click.argument("email")
@LIST_OPTION
@click.pass_context
@handled
def remove(ctx: click.Context, email: str, list_name: str | None) -> None:
    """Unsubscribe EMAIL from the list for good (the roster file cannot bring them back)."""
    pipeline, name, list_id = synced(ctx, list_name)
    address = _email(email)
    if pipeline.store.subscribers.find(list_id, address) is None:
        raise NotFoundError(f"{address} is not on {name}", subject=address)
    pipeline.store.suppressions.add(
        address, "unsubscribed", pipeline.clock(), list_id=list_id, detail="removed by an operator"
    )
    click.echo(f"{address}: unsubscribed from {name}")


@subscribers.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@LIST_OPTION
@click.option("--resubscribe", is_flag=True, help="Reactivate unsubscribed rows marked active.")
@click.pass_context
@handled
def import_(ctx: click.Context, file: Path, list_name: str | None, resubscribe: bool) -> None:
    """Add FILE's new subscribers to the list's roster and sync; never resubscribes by default."""
    pipeline = pipeline_of(ctx)
    name = one_list(pipeline.settings, list_name)
    report = membership.import_file(
        pipeline.settings, pipeline.store, name, file, pipeline.clock(), resubscribe=resubscribe
    )
    warn_rows(report.problems)
    warn_rows(report.roster_problems)
    for email, was in report.resubscribed:
        err.print(f"[yellow]resubscribed[/] {email} (was {was})", highlight=False)
    for email, status in report.kept_suppressed:
        err.print(f"kept {status}: {email} (use --resubscribe)", highlight=False)
    click.echo(
        f"{name}: {len(report.appended)} added, {report.already} already listed, "
        f"{len(report.resubscribed)} resubscribed, {report.skipped} rows skipped"
    )


@subscribers.command()
@LIST_OPTION
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
@handled
def export(ctx: click.Context, list_name: str | None, out_file: Path | None) -> None:
    """Write the list as CSV (roster columns, the database's statuses) to stdout or --out."""
    pipeline, name, list_id = synced(ctx, list_name)
    rows = pipeline.store.subscribers.rows(list_id, in_roster=True)
    if out_file is None:
        membership.export_csv(rows, sys.stdout)
        return
    with open(out_file, "w", encoding="utf-8-sig", newline="", opener=private_opener) as f:
        count = membership.export_csv(rows, f)
    err.print(f"{name}: {count} subscribers written to {out_file}", highlight=False)


@subscribers.command()
@click.option("--list", "list_name", help="One list (default: every list).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@handled
def stats(ctx: click.Context, list_name: str | None, as_json: bool) -> None:
    """Subscribers by status, and the latest issue's deliveries, opens and clicks."""
    pipeline = pipeline_of(ctx)
    names = [list_name] if list_name else [lst.name for lst in pipeline.settings.lists]
    result = {}
    for name in names:
        _, _, list_id = synced(ctx, name)
        result[name] = membership.stats(pipeline.store, list_id)
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    table = Table(title="Subscribers")
    keys = list(dict.fromkeys(k for counts in result.values() for k in counts))
    table.add_column("list")
    for key in keys:
        table.add_column(key.replace("_", " "), justify="right")
    for name, counts in result.items():
        table.add_row(name, *(str(counts.get(k, "")) for k in keys))
    out.print(table)
