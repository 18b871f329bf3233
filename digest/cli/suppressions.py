"""Suppression commands: see, add and lift the addresses that get no mail."""

from __future__ import annotations

import json

import click
from rich.table import Table

from ..store.suppressions import REASONS
from .app import handled, main, out
from .context import pipeline_of
from .subscribers import _email


@main.group()
def suppressions() -> None:
    """See and manage suppressed addresses (unsubscribes, bounces, complaints)."""


@suppressions.command("list")
@click.option("--email", help="Only this address.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@handled
def list_suppressions(ctx: click.Context, email: str | None, as_json: bool) -> None:
    """List suppressions, newest first."""
    pipeline = pipeline_of(ctx)
    items = pipeline.store.suppressions.all(_email(email) if email else None)
    if as_json:
        data = [
            {
                "email": s.email,
                "list": s.list_name,
                "reason": s.reason,
                "detail": s.detail,
                "origin": s.origin,
                "created_at": s.created_at.isoformat(),
            }
            for s in items
        ]
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    table = Table(title=f"{len(items)} suppressions")
    for col in ("email", "list", "reason", "detail", "origin", "since"):
        table.add_column(col)
    for s in items:
        since = s.created_at.strftime("%Y-%m-%d %H:%M")
        table.add_row(s.email, s.list_name or "all lists", s.reason, s.detail, s.origin, since)
    out.print(table)


@suppressions.command()
@click.argument("email")
@click.option("--reason", type=click.Choice(REASONS), default="unsubscribed", show_default=True)
@click.option("--list", "list_name", help="Only on this list (default: every list).")
@click.option("--note", default="added by an operator", help="Why, for the record.")
@click.pass_context
@handled
def add(ctx: click.Context, email: str, reason: str, list_name: str | None, note: str) -> None:
    """Suppress EMAIL so it gets no more mail."""
    pipeline = pipeline_of(ctx)
    address = _email(email)
    list_id = None
    if list_name:
        list_id = pipeline.list_id(list_name)
    new = pipeline.store.suppressions.add(
        address, reason, pipeline.clock(), list_id=list_id, detail=note
    )
    where = list_name or "all lists"
    click.echo(f"{address}: {reason} on {where}" + ("" if new else " (already recorded)"))


@suppressions.command()
@click.argument("email")
@click.option("--list", "list_name", help="Only this list's suppressions (default: all).")
@click.pass_context
@handled
def remove(ctx: click.Context, email: str, list_name: str | None) -> None:
    """Lift EMAIL's suppressions; subscriptions no other suppression covers become active."""
    pipeline = pipeline_of(ctx)
    address = _email(email)
    list_id = None
    if list_name:
        list_id = pipeline.list_id(list_name)
    removed = pipeline.store.suppressions.remove(address, pipeline.clock(), list_id=list_id)
    click.echo(f"{address}: {removed} suppression{'' if removed == 1 else 's'} lifted")
