"""``digest db``: where the database's schema stands, and upgrading it (Alembic)."""

from __future__ import annotations

from typing import Any

import click

from ..config import load_settings
from ..store import Store
from .app import handled, main, out


def _store(ctx: click.Context) -> Store:
    obj: dict[str, Any] = ctx.find_root().ensure_object(dict)
    store = Store(load_settings(obj.get("config")).database.url, check_schema=False)
    ctx.call_on_close(store.close)
    return store


@main.group()
def db() -> None:
    """The database's schema: which revision it is at, and upgrading it."""


@db.command()
@click.pass_context
@handled
def current(ctx: click.Context) -> None:
    """Print the schema revision of [database] url against this digest's head."""
    store = _store(ctx)
    out.print(f"{store.where}: {store.schema().describe()}", highlight=False, markup=False)


@db.command()
@click.pass_context
@handled
def upgrade(ctx: click.Context) -> None:
    """Bring the schema to this digest's head (run once before starting a new version)."""
    store = _store(ctx)
    before, after = store.upgrade()
    if before.up_to_date:
        done = f"already at {after.current} (head)"
    else:
        was = "empty" if before.empty else before.current or f"meta version {before.legacy}"
        done = f"upgraded {was} -> {after.current} (head)"
    out.print(f"{store.where}: {done}", highlight=False, markup=False)
