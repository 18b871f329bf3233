"""Editors' controls on posts: list, override a summary, exclude, pin, move to another area."""

from __future__ import annotations

import getpass
import json
from datetime import datetime
from pathlib import Path

import click
from rich.table import Table

from ..errors import NotFoundError
from ..group import place
from ..models import StoredPost
from ..pipeline import Pipeline
from .app import handled, main, out
from .context import pipeline_of


def _actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


@main.group()
def posts() -> None:
    """See and adjust the posts of the coming issue."""


def _flags(post: StoredPost) -> str:
    flags = []
    if post.pinned:
        flags.append("pinned")
    if post.excluded:
        flags.append("excluded")
    if post.summary_override:
        flags.append("summary edited")
    if post.area_override:
        flags.append(f"area → {post.area_override}")
    return ", ".join(flags)


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def _day(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d") if at else "undated"


def _placed(pipeline: Pipeline, items: list[StoredPost]) -> dict[int, tuple[str, tuple[str, ...]]]:
    """Each post's section and canonical areas, placed as the issue places them."""
    b = pipeline.builder
    classify = b.classifier(pipeline.store, items)
    threshold = pipeline.settings.taxonomy.classifier_threshold
    placed = {}
    for p in items:
        areas = place(p, b.taxonomy, b.authors, classify, threshold)[0]
        placed[p.id] = (areas[0] if areas else b.taxonomy.catch_all, areas)
    return placed


@posts.command("list")
@click.option("--list", "list_name", help="The list (default: the first configured).")
@click.option("--issue", "number", type=int, help="A past issue's number, not the coming one.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@handled
def list_posts(
    ctx: click.Context, list_name: str | None, number: int | None, as_json: bool
) -> None:
    """List the posts of the coming issue (or of issue N), with editors' changes."""
    pipeline = pipeline_of(ctx)
    name = list_name or pipeline.settings.lists[0].name
    if number is None:
        coming = pipeline.coming(name)
        items = pipeline.candidates(name, coming.window.end)
        status = coming.stored.status if coming.stored else "draft"
        title = f"{name}: coming issue {coming.digest.number} ({status})"
    else:
        items = pipeline.issue_posts(name, number)
        title = f"{name}: issue {number}"
    placed = _placed(pipeline, items)
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "id": p.id,
                        "title": p.title,
                        "author": p.author,
                        "section": placed[p.id][0],
                        "areas": list(placed[p.id][1]),
                        "published": _iso(p.shown_published),
                        "collected_at": p.collected_at.isoformat(),
                        "pinned": p.pinned,
                        "excluded": p.excluded,
                        "summary_override": p.summary_override,
                        "area_override": p.area_override,
                    }
                    for p in items
                ],
                indent=2,
            )
        )
        return
    table = Table(title=title)
    for col in ("id", "published", "title", "section", "also in", "changes"):
        table.add_column(col)
    for p in items:
        section, areas = placed[p.id]
        also = "; ".join(a for a in areas if a != section)
        table.add_row(str(p.id), _day(p.shown_published), p.title, section, also, _flags(p))
    out.print(table)


def _edit(ctx: click.Context, post_id: int, action: str, value: str | None = None) -> None:
    pipeline = pipeline_of(ctx)
    pipeline.store.posts.edit(post_id, action, value, _actor(), pipeline.clock())
    post = pipeline.store.posts.get(post_id)
    click.echo(f"post {post_id} ({post.title}): {action}" + (f" {value!r}" if value else ""))


@posts.command("set-summary")
@click.argument("post_id", type=int)
@click.argument("text", required=False)
@click.option("--file", "file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--clear", is_flag=True, help="Go back to the automatic summary.")
@click.pass_context
@handled
def set_summary(
    ctx: click.Context, post_id: int, text: str | None, file: Path | None, clear: bool
) -> None:
    """Override a post's summary with TEXT (or the contents of --file)."""
    if clear:
        _edit(ctx, post_id, "clear-summary")
        return
    if file is not None:
        text = file.read_text(encoding="utf-8")
    if not text or not text.strip():
        raise click.UsageError("give the summary as TEXT, with --file F, or use --clear")
    _edit(ctx, post_id, "set-summary", " ".join(text.split()))


def _simple(name: str, action: str, doc: str) -> None:
    @posts.command(name, help=doc)
    @click.argument("post_id", type=int)
    @click.pass_context
    @handled
    def command(ctx: click.Context, post_id: int) -> None:
        _edit(ctx, post_id, action)


_simple("exclude", "exclude", "Leave a post out of the coming issue.")
_simple("include", "include", "Put an excluded post back.")
_simple("pin", "pin", "Show a post first in its section.")
_simple("unpin", "unpin", "Stop pinning a post.")


@posts.command("set-area")
@click.argument("post_id", type=int)
@click.argument("area")
@click.pass_context
@handled
def set_area(ctx: click.Context, post_id: int, area: str) -> None:
    """Move a post to AREA's section (its other areas stay as tags)."""
    canonical = pipeline_of(ctx).builder.taxonomy.canonical(area)
    if canonical is None:
        raise NotFoundError("an area needs a name", subject=area)
    _edit(ctx, post_id, "set-area", canonical)
