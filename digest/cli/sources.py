"""Source health: ``digest sources`` lists how each source has been doing."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from ..errors import NotFoundError
from .app import handled, main, out
from .context import pipeline_of


def _when(at: datetime | None) -> str:
    return at.astimezone().strftime("%Y-%m-%d %H:%M") if at else "never"


def _rows(ctx: click.Context) -> list[dict[str, Any]]:
    pipeline = pipeline_of(ctx)
    health = {h.name: h for h in pipeline.store.sources.health()}
    rows = []
    for s in pipeline.settings.sources:
        h = health.get(s.name)
        rows.append(
            {
                "name": s.name,
                "type": s.type,
                "enabled": s.enabled,
                "disabled": bool(h and h.disabled),
                "last_attempt": h.last_attempt.isoformat() if h and h.last_attempt else None,
                "last_success": h.last_success.isoformat() if h and h.last_success else None,
                "consecutive_failures": h.consecutive_failures if h else 0,
                "last_error": h.last_error if h else None,
                "_success": h.last_success if h else None,
            }
        )
        rows[-1]["status"] = re.sub(r"\[[^]]*\]", "", _status(rows[-1]))
    return rows


def _status(row: dict[str, Any]) -> str:
    if not row["enabled"]:
        return "[dim]off in config[/]"
    if row["disabled"]:
        return "[red]disabled[/]"
    if row["last_attempt"] is None:
        return "[dim]not yet read[/]"
    if row["consecutive_failures"]:
        return "[yellow]failing[/]"
    return "[yellow]skipped items[/]" if row["last_error"] else "[green]ok[/]"


@main.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@handled
def sources(ctx: click.Context, as_json: bool) -> None:
    """Show each source's health: last success, consecutive failures, last error."""
    if ctx.invoked_subcommand is not None:
        return
    rows = _rows(ctx)
    if as_json:
        click.echo(
            json.dumps([{k: v for k, v in r.items() if k[0] != "_"} for r in rows], indent=2)
        )
        return
    table = Table(title="Sources")
    for col in ("source", "type", "status", "last success", "failures", "last error"):
        table.add_column(col, justify="right" if col == "failures" else "left")
    for r in rows:
        table.add_row(
            escape(r["name"]), r["type"], _status(r), _when(r["_success"]),
            str(r["consecutive_failures"]), escape(r["last_error"] or ""),
        )  # fmt: skip
    out.print(table)


@sources.command()
@click.argument("name")
@click.pass_context
@handled
def enable(ctx: click.Context, name: str) -> None:
    """Turn a source that digest disabled (e.g. after HTTP 410 Gone) back on."""
    pipeline = pipeline_of(ctx)
    if name not in {s.name for s in pipeline.settings.sources}:
        raise NotFoundError(f"no source named {name!r}", subject=str(pipeline.settings.path))
    pipeline.store.sources.enable(name)
    click.echo(f"{name}: enabled; the next collect reads it again.")
